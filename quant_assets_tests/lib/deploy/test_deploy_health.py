from __future__ import annotations

from quant_assets.lib.deploy import CheckResult, HealthReport


def test_health_report_all_ok_passes() -> None:
    report = HealthReport([CheckResult("definitions", True, "3 jobs", 1.2)])
    assert report.passed
    assert report.summary() == "definitions ok (1.2s)"


def test_health_report_any_failure_fails_and_names_it() -> None:
    report = HealthReport(
        [CheckResult("definitions", True, "", 1.0), CheckResult("dry_run", False, "KeyError 'x'")]
    )
    assert not report.passed
    assert [c.name for c in report.failures] == ["dry_run"]
    assert "dry_run FAILED: KeyError 'x'" in report.summary()


def test_health_report_no_checks_never_passes() -> None:
    assert not HealthReport([]).passed
    assert HealthReport([]).summary() == "no health check ran"
