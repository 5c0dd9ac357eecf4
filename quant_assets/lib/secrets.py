"""Secrets by name: the environment locally, AWS Secrets Manager in prod.

Configuration only ever holds *names* (``QUANT_TSDB_PASSWORD``); values are looked up when they
are used, in the process that uses them. Every Dagster run initialises its resources afresh, so a
secret rotated in Secrets Manager is picked up by the next run without a redeploy: nothing caches
a value beyond one store object's lifetime (one run/step process).

A value is wrapped in :class:`SecretValue`, whose ``repr``/``str`` never show it, so a secret
that ends up in a log line, an exception or run metadata by accident prints as ``***``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from quant_assets.lib.settings import process_environment

MASK = "***"
# A secret name: letters, digits and the characters AWS allows in secret ids.
_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


class SecretsBackend(StrEnum):
    ENV = "env"  # process environment (local, CI, compose .env file)
    AWS = "aws"  # AWS Secrets Manager (prod)


class SecretNotFoundError(KeyError):
    """The named secret does not exist in the store (the message names it, never a value)."""

    def __str__(self) -> str:  # KeyError's str() quotes its argument; keep the message plain
        return str(self.args[0]) if self.args else "secret not found"


@dataclass(frozen=True)
class SecretValue:
    """A secret's value that does not print itself."""

    name: str
    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The plain value: call at the point of use (a connection string, a header), only."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"SecretValue({self.name!r}, {MASK})"


class SecretStore(Protocol):
    def get(self, name: str) -> SecretValue: ...


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid secret name {name!r}")
    return name


@dataclass
class EnvSecretStore:
    """Secrets are environment variables of the same name (``.env.template`` lists them)."""

    env: Mapping[str, str] | None = (
        None  # None: the process environment, read at each get (never copied)
    )

    def get(self, name: str) -> SecretValue:
        check_name(name)
        env = process_environment() if self.env is None else self.env
        value = env.get(name)
        if value is None or value == "":
            raise SecretNotFoundError(f"secret {name} is not set in the environment")
        return SecretValue(name, value)


@dataclass
class AwsSecretStore:
    """AWS Secrets Manager: secret id = ``prefix + name``; the current version (AWSCURRENT).

    ``json_key``: secrets that RDS/rotation lambdas write as JSON (``{"password": ...}``) are
    read through this key; a plain string secret is returned as is. Values are cached for the
    store's lifetime only, so one run makes one call per secret and the next run sees a rotation.
    """

    client_factory: Callable[[], Any]
    prefix: str = ""
    json_key: str = "password"
    _cache: dict[str, SecretValue] = field(default_factory=dict, repr=False)

    def get(self, name: str) -> SecretValue:
        check_name(name)
        if name in self._cache:
            return self._cache[name]
        client = self.client_factory()
        secret_id = f"{self.prefix}{name}"
        try:
            response = client.get_secret_value(SecretId=secret_id)
        except client.exceptions.ResourceNotFoundException:
            raise SecretNotFoundError(f"secret {secret_id} not found in Secrets Manager") from None
        value = _unwrap(response.get("SecretString"), self.json_key)
        if value is None:
            raise SecretNotFoundError(f"secret {secret_id} has no string value")
        secret = SecretValue(name, value)
        self._cache[name] = secret
        return secret

    def forget(self) -> None:
        """Drop cached values (a long-lived process re-reads after an auth failure)."""
        self._cache.clear()


def _unwrap(secret_string: str | None, json_key: str) -> str | None:
    if secret_string is None:
        return None
    if secret_string.lstrip().startswith("{"):
        try:
            parsed = json.loads(secret_string)
        except json.JSONDecodeError:
            return secret_string
        if isinstance(parsed, dict) and isinstance(parsed.get(json_key), str):
            return str(parsed[json_key])
    return secret_string


def boto3_secrets_client_factory(
    region: str | None = None, endpoint_url: str | None = None
) -> Callable[[], Any]:
    """A factory of ``secretsmanager`` clients; boto3 also honours
    ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` (a local server) when ``endpoint_url`` is None."""

    def make() -> Any:
        import boto3

        return boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint_url)

    return make


def dsn_with_password(dsn: str, password: SecretValue | str) -> str:
    """``dsn`` (URL or libpq key=value form) with its password replaced by ``password``."""
    value = password.reveal() if isinstance(password, SecretValue) else password
    if "://" in dsn:
        parts = urlsplit(dsn)
        host = parts.hostname or ""
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        user = quote(parts.username or "", safe="")
        netloc = f"{user}:{quote(value, safe='')}@{host}{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    kept = re.sub(r"(^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", " ", dsn).strip()
    return f"{kept} password='{escaped}'".strip()


def redact(text: str, secrets: Iterable[SecretValue | str]) -> str:
    """``text`` with every occurrence of each secret's value replaced by ``***``."""
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, SecretValue) else secret
        if value:
            text = text.replace(value, MASK)
    return text
