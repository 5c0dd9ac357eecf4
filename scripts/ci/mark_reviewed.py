"""Mark baseline entries reviewed after reading each one: ``python scripts/ci/mark_reviewed.py``
prints the unreviewed entries with their line and, with ``--accept``, records them as not secret
(what ``detect-secrets audit`` does interactively)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BASELINE = Path(__file__).resolve().parents[2] / ".secrets.baseline"


def main(argv: list[str]) -> int:
    baseline = json.loads(BASELINE.read_text())
    pending = [
        (name, entry)
        for name, entries in baseline["results"].items()
        for entry in entries
        if "is_secret" not in entry
    ]
    for name, entry in pending:
        path = BASELINE.parent / name
        line = path.read_text().splitlines()[entry["line_number"] - 1] if path.exists() else ""
        print(f"{name}:{entry['line_number']}: {entry['type']}: {line.strip()[:120]}")
        if "--accept" in argv:
            entry["is_secret"] = False
    if "--accept" in argv:
        BASELINE.write_text(json.dumps(baseline, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
