"""Retry with exponential backoff on transient S3 / database errors, and only on those.

A malformed file or a failed rule must fail at once; a dropped connection should not fail a
backfill of a year.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

MAX_RETRIES = 3
BASE_DELAY_S = 2.0

# Network-level failures: pyarrow's S3 client raises OSError subclasses; psycopg raises
# OperationalError for lost or refused connections; the builtins cover sockets and timeouts.
TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    psycopg.OperationalError,
    OSError,
)
# OSError subclasses that are about the data, not the network: never retried.
PERMANENT: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT) and not isinstance(exc, PERMANENT)


@contextmanager
def retry_transient(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
) -> Iterator[None]:
    """Turn a transient error into a retry of the step after 2, 4, 8 s."""
    try:
        yield
    except Exception as exc:
        if not is_transient(exc):
            raise
        attempt = context.retry_number
        context.log.warning(f"transient error (attempt {attempt + 1}): {exc!r}; retrying")
        raise dg.RetryRequested(
            max_retries=MAX_RETRIES, seconds_to_wait=BASE_DELAY_S * 2**attempt
        ) from exc
