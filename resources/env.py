"""Reading a resource field that may be bound to an environment variable by name."""

from typing import Any

import dagster as dg


def resolve(value: Any) -> Any:
    """A field's value when a resource is used outside a run (CLI, tests): an ``EnvVar`` is read
    then, by name; inside a run Dagster has already resolved it."""
    return value.get_value() if isinstance(value, dg.EnvVar) else value
