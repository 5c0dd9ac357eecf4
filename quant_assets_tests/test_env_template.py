"""``.env.template`` lists every variable the code, images and scripts read, with no values."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / ".env.template"
SCANNED = ["quant_assets", "resources", "docker", "scripts", "dagster.yaml"]
NAME = re.compile(r"\b((?:QUANT|DAGSTER_PG)_[A-Z0-9_]*[A-Z0-9])\b")
# Prefixes built in code (not variables) and names only mentioned in prose.
NOT_VARIABLES = {"QUANT_DEPLOYMENT_PROD"}


def template_entries() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in TEMPLATE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"not NAME= : {line!r}"
            entries[name.strip()] = value
    return entries


def variables_read_in_repo() -> set[str]:
    found: set[str] = set()
    for root in SCANNED:
        path = REPO_ROOT / root
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if file.suffix in {".pyc", ".parquet", ".zst"}:
                continue
            found |= set(NAME.findall(file.read_text(errors="ignore")))
    return found - NOT_VARIABLES


def test_env_template_lists_every_variable_read() -> None:
    missing = variables_read_in_repo() - set(template_entries())
    assert not missing, f".env.template lacks {sorted(missing)}"


def test_env_template_has_no_values() -> None:
    filled = {name for name, value in template_entries().items() if value.strip()}
    assert not filled, f".env.template must hold names only, not values for {sorted(filled)}"
