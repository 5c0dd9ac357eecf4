"""Blue/green deploys of code locations (``quant deploy`` / ``quant rollback``).

``servers`` starts and stops ``dagster api grpc`` processes from checkouts, ``health`` checks a
new one (definitions load; one partition cleaned from QA data in a scratch root), ``deployer``
switches the rendered workspace file atomically and keeps the previous server for rollback.
Pure state and decisions are in :mod:`quant_assets.lib.deploy`.
"""
