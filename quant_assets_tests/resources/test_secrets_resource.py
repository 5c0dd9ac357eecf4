"""The secrets resource end to end: a real TimescaleDB role whose password lives in a real
Secrets Manager endpoint (moto's server); rotation; no value in config, logs or the UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from quant_assets.lib.secrets import SecretNotFoundError
from resources.secrets import SecretsResource
from resources.warehouse import WarehouseResource

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFS_FILE = Path(__file__).with_name("secrets_defs.py")


@dataclass(frozen=True)
class RotatingRole:
    """A login role that owns one database; its password is set by :meth:`rotate`."""

    admin_dsn: str  # superuser DSN of the database
    name: str
    database: str

    @property
    def dsn_without_password(self) -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.admin_dsn)
        return f"postgresql://{self.name}@{info['host']}:{info['port']}/{self.database}"

    def rotate(self, password: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    psycopg.sql.Identifier(self.name), psycopg.sql.Literal(password)
                )
            )


@pytest.fixture
def rotating_role(tsdb_database: str) -> Iterator[RotatingRole]:
    name = f"rot_{uuid.uuid4().hex[:10]}"
    database = psycopg.conninfo.conninfo_to_dict(tsdb_database)["dbname"]
    with psycopg.connect(tsdb_database, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{uuid.uuid4().hex}'")
        conn.execute(f'ALTER DATABASE "{database}" OWNER TO {name}')
        conn.execute(f"ALTER SCHEMA public OWNER TO {name}")
    yield RotatingRole(tsdb_database, name, str(database))
    server_dsn = tsdb_database.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f"DROP ROLE IF EXISTS {name}")


@pytest.fixture
def aws_env(moto_server: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = moto_server.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _resources(role: RotatingRole, prefix: str) -> dict[str, Any]:
    return {
        "warehouse": WarehouseResource(
            kind="prod",
            tsdb_dsn=role.dsn_without_password,
            tsdb_password_secret="QUANT_TSDB_PASSWORD",
            secrets=SecretsResource(backend="aws", prefix=prefix),
        )
    }


def test_secrets_resource_env_backend_reads_variable_at_use_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resource = SecretsResource()
    monkeypatch.setenv("QUANT_PLANTED", "late-value")

    assert resource.get("QUANT_PLANTED").reveal() == "late-value"
    with pytest.raises(SecretNotFoundError):
        resource.get("QUANT_NOT_SET_ANYWHERE")


def test_secrets_resource_from_env_reads_backend_and_prefix() -> None:
    resource = SecretsResource.from_env(
        {"QUANT_SECRETS_BACKEND": "aws", "QUANT_SECRETS_PREFIX": "quant/prod/"}
    )

    assert (resource.backend, resource.prefix) == ("aws", "quant/prod/")
    with pytest.raises(ValueError):
        SecretsResource.from_env({"QUANT_SECRETS_BACKEND": "vault"})


def test_warehouse_rotated_tsdb_password_next_run_connects_without_redeploy(
    rotating_role: RotatingRole, moto_server: Any, aws_env: dict[str, str]
) -> None:
    from quant_assets_tests.resources.secrets_defs import warehouse_probe

    client = moto_server.boto3_client("secretsmanager")
    prefix = f"quant/{uuid.uuid4().hex[:8]}/"
    first, second = f"pw1-{uuid.uuid4().hex}", f"pw2-{uuid.uuid4().hex}"
    rotating_role.rotate(first)
    client.create_secret(Name=f"{prefix}QUANT_TSDB_PASSWORD", SecretString=first)
    resources = _resources(rotating_role, prefix)  # the "deployed" definitions, built once
    instance = dg.DagsterInstance.ephemeral()

    assert dg.materialize([warehouse_probe], resources=resources, instance=instance).success

    # Rotation as a rotation lambda does it: database first, then the secret's AWSCURRENT.
    rotating_role.rotate(second)
    client.put_secret_value(SecretId=f"{prefix}QUANT_TSDB_PASSWORD", SecretString=second)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(rotating_role.dsn_without_password.replace("@", f":{first}@", 1)).close()

    assert dg.materialize([warehouse_probe], resources=resources, instance=instance).success


def _graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        result: dict[str, Any] = json.loads(response.read())
    assert "errors" not in result, result
    return result


def _start_webserver(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    from quant_assets_tests.services import free_ports

    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster_webserver",
                "-f",
                str(DEFS_FILE),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"webserver did not start: {log.read_text()[-3000:]}") from None
            time.sleep(0.5)


RESOURCES_QUERY = """
query Resources($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    __typename
    ... on ResourceDetailsList {
      results { name description configFields { name description }
                configuredValues { key value type }
                nestedResources { name type } }
    }
  }
}"""

RUN_LOGS_QUERY = """
query Runs {
  runsOrError {
    ... on Runs { results { runId status runConfigYaml tags { key value } } }
  }
}"""

EVENTS_QUERY = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename ... on MessageEvent { message } } }
  }
}"""


@pytest.mark.slow
def test_planted_secret_absent_from_event_logs_instance_files_and_webserver_resource_view(
    rotating_role: RotatingRole, moto_server: Any, tmp_path: Path
) -> None:
    """Two runs in their own processes (``dagster job execute``) with a rotation between them,
    then the real webserver: no secret value in its GraphQL resource view, run config, event
    logs, nor in any byte of the instance's storage (event/run SQLite, captured stdout/stderr)."""
    client = moto_server.boto3_client("secretsmanager")
    prefix = f"quant/{uuid.uuid4().hex[:8]}/"
    planted = [f"PLANTED-{uuid.uuid4().hex}", f"PLANTED-{uuid.uuid4().hex}"]
    rotating_role.rotate(planted[0])
    client.create_secret(Name=f"{prefix}QUANT_TSDB_PASSWORD", SecretString=planted[0])
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "QUANT_"))},
        **moto_server.env(),
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": str(REPO_ROOT),
        "QUANT_SECRETS_BACKEND": "aws",
        "QUANT_SECRETS_PREFIX": prefix,
        "QUANT_TEST_TSDB_DSN": rotating_role.dsn_without_password,
    }
    outputs: list[str] = []
    for i, password in enumerate(planted):
        if i:
            rotating_role.rotate(password)
            client.put_secret_value(SecretId=f"{prefix}QUANT_TSDB_PASSWORD", SecretString=password)
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "dagster",
                "job",
                "execute",
                "-f",
                str(DEFS_FILE),
                "-j",
                "probe_job",
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        outputs.append(run.stdout + run.stderr)
        assert run.returncode == 0, outputs[-1][-3000:]

    webserver, url = _start_webserver(env, tmp_path / "webserver.log")
    try:
        selector = {"repositoryLocationName": DEFS_FILE.name, "repositoryName": "__repository__"}
        resources = _graphql(url, RESOURCES_QUERY, {"selector": selector})
        runs = _graphql(url, RUN_LOGS_QUERY)["data"]["runsOrError"]["results"]
        logs = [_graphql(url, EVENTS_QUERY, {"runId": r["runId"]}) for r in runs]
    finally:
        webserver.terminate()
        webserver.wait(timeout=30)

    ui_text = json.dumps([resources, runs, logs])
    # non-vacuous: the view shows the secret's *name*, and both runs logged their connection
    assert "QUANT_TSDB_PASSWORD" in json.dumps(resources)
    assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"]
    assert ui_text.count("connected to postgresql://") == 2
    instance_bytes = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert b"connected to postgresql://" in instance_bytes
    for value in planted:
        assert value not in ui_text
        assert value not in "".join(outputs)
        assert value.encode() not in instance_bytes
