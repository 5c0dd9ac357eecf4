"""GPU profile of one PPO training on the project's env: utilisation and the top costs.

    python quant_assets_tests/profile_gpu.py [--timesteps 16384] [--n-envs 64] [--out DIR]
    python quant_assets_tests/profile_gpu.py --allow-cpu --timesteps 512   # code path on CPU

The GPU check runs it on the GPU host (inside the image's test stage or the project venv). It
samples the GPUs through NVML while it trains (quant_assets/lib/monitoring/system_sampler.py),
profiles the training with the torch profiler (quant_assets/lib/training/profiling.py), then prints
mean/peak utilisation, memory and power, the time per phase (env stepping, rollout forward,
update, backward, host→device copies) and the top ops. Without CUDA it prints why and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=16_384)
    parser.add_argument("--n-envs", type=int, default=64)
    parser.add_argument("--interval", type=float, default=0.5, help="NVML sampling interval (s)")
    parser.add_argument("--out", type=Path, default=None, help="where trace/summary go")
    parser.add_argument("--allow-cpu", action="store_true", help="run on CPU without CUDA")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print(
            f"SKIP: no CUDA device visible to torch {torch.__version__} (CUDA {torch.version.cuda})"
        )
        return 0
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_num_threads(1)

    from quant_assets.lib.monitoring.system_sampler import SystemSampler
    from quant_assets.lib.trading.bars import random_walk_bars
    from quant_assets.lib.trading.env import TradingEnvConfig
    from quant_assets.lib.training.config import TrainingConfig
    from quant_assets.lib.training.profiling import profile_training
    from quant_assets.lib.training.train import train_policy

    out = args.out or Path(tempfile.mkdtemp(prefix="quant-profile-"))
    config = TrainingConfig(
        total_timesteps=args.timesteps,
        n_envs=args.n_envs,
        device=device,  # type: ignore[arg-type]
        env=TradingEnvConfig(window=32, norm_window=100, max_episode_steps=500),
        hyperparams={"n_steps": 128, "batch_size": 1024, "policy_kwargs": {"net_arch": [256, 256]}},
    )
    samples: dict[str, list[float]] = defaultdict(list)
    with (
        SystemSampler(
            lambda name, step, value: samples[name].append(value), interval_s=args.interval
        ) as sampler,
        profile_training(out / "profile", device) as profile,
    ):
        result = train_policy(
            random_walk_bars(20_000, seed=3),
            config,
            out_dir=out / "run",
            run_id="profile-gpu",
            resume=False,
        )
    print(f"trained {result.num_timesteps} steps on {result.device}; {sampler.status}")
    for name in sorted(samples):
        values = samples[name]
        print(
            f"{name:<34} mean {statistics.fmean(values):9.1f}  peak {max(values):9.1f}  "
            f"(n={len(values)})"
        )
    if not samples:
        print("no GPU samples (NVML: " + sampler.status + ")")
    assert profile.summary is not None
    print("\n".join(profile.summary.lines()))
    print(f"trace: {profile.trace_path}\nsummary: {profile.summary_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
