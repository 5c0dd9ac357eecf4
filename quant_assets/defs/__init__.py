"""Definitions folder: every module here is loaded by ``dg.load_from_defs_folder``.

Adding an asset, check, job, schedule or sensor is a one-file change: define it at module level
in a module of this folder. ``deployment.py`` binds the resources (and the training job's
executor) of the deployment the environment describes.
"""

import warnings

import dagster as dg

# Partitioned checks, multi-partition mappings and backfill policies are deliberate choices of
# this platform; their beta/preview notices would otherwise repeat in every run process.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
