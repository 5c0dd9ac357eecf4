"""Vendor adapters: turn vendor tick files into the canonical tick table (``schema.TICK_SCHEMA``).

Pure library code (no Dagster). Use :func:`read_vendor_file` / :func:`detect_source`.
"""

from quant_assets.lib.ticks.adapters.errors import (
    MalformedFileError,
    UnknownSourceError,
    UnsupportedFileError,
)
from quant_assets.lib.ticks.adapters.mapped_reader import VendorRead
from quant_assets.lib.ticks.adapters.mapping import VendorMapping, available_mappings, load_mapping
from quant_assets.lib.ticks.adapters.registry import (
    detect_source,
    iter_vendor_reads,
    read_vendor_file,
    read_vendor_report,
    sources,
)

__all__ = [
    "MalformedFileError",
    "UnknownSourceError",
    "UnsupportedFileError",
    "VendorMapping",
    "VendorRead",
    "available_mappings",
    "detect_source",
    "iter_vendor_reads",
    "load_mapping",
    "read_vendor_file",
    "read_vendor_report",
    "sources",
]
