"""Secret stores against the environment and a real Secrets Manager endpoint (moto's server)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from quant_assets.lib.secrets import (
    AwsSecretStore,
    EnvSecretStore,
    SecretNotFoundError,
    SecretValue,
    dsn_with_password,
    redact,
)


def _aws_store(moto_server: Any, prefix: str) -> AwsSecretStore:
    return AwsSecretStore(lambda: moto_server.boto3_client("secretsmanager"), prefix=prefix)


def test_secret_value_repr_and_str_masked_reveal_gives_value() -> None:
    secret = SecretValue("QUANT_TSDB_PASSWORD", "hunter2-planted")

    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret} {secret!r}"
    assert secret.reveal() == "hunter2-planted"


def test_env_store_set_variable_returns_value_missing_raises_naming_it() -> None:
    store = EnvSecretStore({"QUANT_X": "v1"})

    assert store.get("QUANT_X").reveal() == "v1"
    with pytest.raises(SecretNotFoundError, match="QUANT_MISSING"):
        store.get("QUANT_MISSING")


def test_env_store_invalid_name_rejected() -> None:
    with pytest.raises(ValueError, match="invalid secret name"):
        EnvSecretStore({}).get("a b")


def test_aws_store_rotated_secret_new_store_sees_new_value(moto_server: Any) -> None:
    client = moto_server.boto3_client("secretsmanager")
    prefix = f"quant/{uuid.uuid4().hex[:8]}/"
    client.create_secret(Name=f"{prefix}QUANT_TSDB_PASSWORD", SecretString="old-pass")
    first = _aws_store(moto_server, prefix)
    assert first.get("QUANT_TSDB_PASSWORD").reveal() == "old-pass"

    client.put_secret_value(SecretId=f"{prefix}QUANT_TSDB_PASSWORD", SecretString="new-pass")

    # one run = one store: the running one keeps its value, the next one reads the rotation
    assert first.get("QUANT_TSDB_PASSWORD").reveal() == "old-pass"
    assert _aws_store(moto_server, prefix).get("QUANT_TSDB_PASSWORD").reveal() == "new-pass"
    first.forget()
    assert first.get("QUANT_TSDB_PASSWORD").reveal() == "new-pass"


def test_aws_store_json_secret_reads_password_key(moto_server: Any) -> None:
    client = moto_server.boto3_client("secretsmanager")
    prefix = f"quant/{uuid.uuid4().hex[:8]}/"
    client.create_secret(
        Name=f"{prefix}db", SecretString='{"username": "quant", "password": "p@ss"}'
    )

    assert _aws_store(moto_server, prefix).get("db").reveal() == "p@ss"


def test_aws_store_missing_secret_raises_not_found_with_id(moto_server: Any) -> None:
    with pytest.raises(SecretNotFoundError, match="quant/none/NOPE"):
        _aws_store(moto_server, "quant/none/").get("NOPE")


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://quant@db:5432/quant", "postgresql://quant:p%40ss%2Fw@db:5432/quant"),
        (
            "postgresql://quant:old@db/quant?sslmode=require",
            "postgresql://quant:p%40ss%2Fw@db/quant?sslmode=require",
        ),
        (
            "host=db user=quant password=old dbname=quant",
            "host=db user=quant  dbname=quant password='p@ss/w'",
        ),
    ],
)
def test_dsn_with_password_replaces_or_adds_password(dsn: str, expected: str) -> None:
    assert dsn_with_password(dsn, SecretValue("p", "p@ss/w")) == expected


def test_dsn_with_password_connects_to_real_server(tsdb_dsn: str) -> None:
    """The rewritten DSN is one libpq accepts (URL quoting of special characters)."""
    info = psycopg.conninfo.conninfo_to_dict(tsdb_dsn)
    no_password = tsdb_dsn.replace(f":{info['password']}@", "@") if "password" in info else tsdb_dsn

    with psycopg.connect(dsn_with_password(no_password, str(info.get("password", "")))) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_redact_replaces_every_occurrence() -> None:
    text = "dsn postgresql://q:s3cr3t@h/db failed; retry with s3cr3t"

    assert redact(text, [SecretValue("p", "s3cr3t"), ""]) == (
        "dsn postgresql://q:***@h/db failed; retry with ***"
    )
