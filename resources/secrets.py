"""Dagster resource for secrets: names in config, values looked up at use time.

``backend="env"`` (local, CI): the secret ``NAME`` is the environment variable ``NAME``.
``backend="aws"`` (prod): the secret ``NAME`` is the Secrets Manager secret ``prefix + NAME``,
read once per run, so a rotation is picked up by the next run without a redeploy.

The resource's config holds only the backend, the prefix and the region — what the Dagster UI
shows for it — never a value; see ``quant_assets/lib/secrets.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
from pydantic import Field, PrivateAttr

from quant_assets.lib.secrets import (
    AwsSecretStore,
    EnvSecretStore,
    SecretsBackend,
    SecretStore,
    SecretValue,
    boto3_secrets_client_factory,
)
from quant_assets.lib.settings import process_environment

SECRETS_BACKEND_ENV = "QUANT_SECRETS_BACKEND"  # env | aws
SECRETS_PREFIX_ENV = "QUANT_SECRETS_PREFIX"  # e.g. quant/prod/


class SecretsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where secrets come from; ``get(name)`` returns a :class:`SecretValue` (prints ``***``)."""

    backend: str = Field(default="env", description="'env' or 'aws' (Secrets Manager)")
    prefix: str = Field(default="", description="Secrets Manager id prefix, e.g. 'quant/prod/'")
    region: str | None = Field(default=None, description="AWS region (default: AWS_REGION)")
    endpoint_url: str | None = Field(
        default=None,
        description="Secrets Manager endpoint for a local server (default: boto3's, which "
        "honours AWS_ENDPOINT_URL_SECRETS_MANAGER)",
    )
    _store: SecretStore | None = PrivateAttr(default=None)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SecretsResource:
        e = process_environment() if env is None else env
        backend = SecretsBackend(e.get(SECRETS_BACKEND_ENV, SecretsBackend.ENV.value).strip())
        return cls(backend=backend.value, prefix=e.get(SECRETS_PREFIX_ENV, ""))

    def store(self) -> SecretStore:
        if self._store is None:
            backend = SecretsBackend(self.backend)
            if backend is SecretsBackend.AWS:
                self._store = AwsSecretStore(
                    boto3_secrets_client_factory(self.region, self.endpoint_url),
                    prefix=self.prefix,
                )
            else:
                self._store = EnvSecretStore()
        return self._store

    def get(self, name: str) -> SecretValue:
        return self.store().get(name)
