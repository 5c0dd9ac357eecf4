import dagster as dg
import psycopg
import pytest

from quant_assets.defs.retries import is_transient, retry_transient


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionResetError("peer"), True),
        (OSError("AWS Error NETWORK_CONNECTION during GetObject"), True),
        (psycopg.OperationalError("server closed the connection"), True),
        (FileNotFoundError("ticks_raw/.../data.parquet"), False),
        (ValueError("line 3, column 'bid'"), False),
    ],
)
def test_is_transient_network_errors_only(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_retry_transient_flaky_connection_retried_then_succeeds() -> None:
    calls: list[int] = []

    @dg.asset
    def flaky(context: dg.AssetExecutionContext) -> None:
        with retry_transient(context):
            calls.append(context.retry_number)
            if len(calls) == 1:
                raise ConnectionResetError("connection reset by peer")

    assert dg.materialize([flaky]).success
    assert calls == [0, 1]


def test_retry_transient_bad_data_fails_at_once() -> None:
    calls: list[int] = []

    @dg.asset
    def bad(context: dg.AssetExecutionContext) -> None:
        with retry_transient(context):
            calls.append(context.retry_number)
            raise ValueError("malformed")

    assert not dg.materialize([bad], raise_on_error=False).success
    assert calls == [0]
