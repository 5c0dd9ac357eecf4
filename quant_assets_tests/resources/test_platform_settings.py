"""PlatformSettingsResource: the report server URL comes from the settings, or is absent."""

from __future__ import annotations

from quant_assets.lib.settings import Settings
from resources.platform import PlatformSettingsResource


def test_platform_reports_url_from_settings_else_none() -> None:
    given = Settings.from_env({"QUANT_REPORTS_URL": "http://127.0.0.1:3070"})
    assert PlatformSettingsResource.from_settings(given).reports_url == "http://127.0.0.1:3070"
    assert PlatformSettingsResource.from_settings(Settings.from_env({})).reports_url is None
