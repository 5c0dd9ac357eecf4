"""Tell a running Dagster webserver to re-read its workspace file (GraphQL ``reloadWorkspace``)
and read back which server each location is served from."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from quant_assets.lib.deploy import DeployError

RELOAD = """mutation { reloadWorkspace { __typename
  ... on Workspace { locationEntries { name loadStatus } }
  ... on PythonError { message } } }"""

LOCATIONS = """query { workspaceOrError { __typename
  ... on Workspace { locationEntries { name loadStatus displayMetadata { key value } } } } }"""


def _graphql(url: str, query: str, timeout_s: float = 60) -> dict[str, Any]:
    req = urllib.request.Request(
        url.rstrip("/") + "/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            body: dict[str, Any] = json.load(resp)
    except OSError as exc:
        raise DeployError(f"webserver {url} unreachable: {exc}") from exc
    if body.get("errors"):
        raise DeployError(f"webserver {url}: {body['errors'][0].get('message')}")
    return body["data"]


def reload_workspace(url: str) -> None:
    data = _graphql(url, RELOAD)["reloadWorkspace"]
    if data["__typename"] != "Workspace":
        raise DeployError(f"webserver {url} could not reload: {data.get('message')}")


def served_ports(url: str) -> dict[str, int | None]:
    """Location name → gRPC port the webserver's workspace currently points at."""
    entries = _graphql(url, LOCATIONS)["workspaceOrError"].get("locationEntries", [])
    out: dict[str, int | None] = {}
    for e in entries:
        meta = {m["key"]: m["value"] for m in e["displayMetadata"]}
        out[e["name"]] = int(meta["port"]) if meta.get("port") else None
    return out


LOAD_ERRORS = """query { workspaceOrError { __typename
  ... on Workspace { locationEntries { name
    locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def location_errors(url: str) -> dict[str, str]:
    """Location name → load error, for every code location the webserver could not load."""
    entries = _graphql(url, LOAD_ERRORS)["workspaceOrError"].get("locationEntries", [])
    return {
        e["name"]: (e["locationOrLoadError"] or {}).get("message") or "not loaded"
        for e in entries
        if (e["locationOrLoadError"] or {}).get("__typename") != "RepositoryLocation"
    }
