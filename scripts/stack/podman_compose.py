#!/usr/bin/env python3
"""docker/compose.yaml with plain Podman (no Docker engine, Podman < 4.6), same arguments as
``docker compose`` for what the stack scripts use:

    scripts/stack/podman_compose.py [-f FILE] [-p NAME] [--profile P]... [--env-file F]...
        up [-d] [--wait] [--wait-timeout S] [--build] [SERVICE...]
        down [--volumes] [--remove-orphans]
        ps

Images must exist locally (``--build`` is accepted and ignored):
scripts/stack/build_service_images.sh builds them. Variables: the environment, then the
``--env-file`` files (the environment wins, as with Compose); COMPOSE_PROJECT_NAME names the
project when ``-p`` does not. The plan and runner are quant_assets/lib/stack/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from quant_assets.lib.settings import process_environment  # noqa: E402
from quant_assets.lib.stack import (  # noqa: E402
    ComposeError,
    ComposeProject,
    PodmanStack,
    StackError,
)


def _env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="podman_compose.py", description=__doc__.split("\n")[0])
    parser.add_argument("-f", "--file", type=Path, default=REPO_ROOT / "docker" / "compose.yaml")
    parser.add_argument("-p", "--project-name")
    parser.add_argument("--profile", action="append", default=[])
    parser.add_argument("--env-file", action="append", type=Path, default=[])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up")
    up.add_argument("-d", "--detach", action="store_true")
    up.add_argument("--wait", action="store_true")
    up.add_argument("--wait-timeout", type=float, default=600.0)
    up.add_argument("--build", action="store_true")
    up.add_argument("services", nargs="*")
    down = sub.add_parser("down")
    down.add_argument("-v", "--volumes", action="store_true")
    down.add_argument("--remove-orphans", action="store_true")  # always: by project label
    sub.add_parser("ps")
    args = parser.parse_args(argv)

    env: dict[str, str] = {}
    for f in args.env_file:
        env.update(_env_file(f))
    env.update(process_environment())
    podman_env = dict(process_environment())
    # The project's podman configuration (netavark networks; scripts/services/podman.sh).
    cache = podman_env.get("QUANT_SERVICES_CACHE") or str(
        Path.home() / ".cache" / "quant-platform" / "services"
    )
    conf = Path(cache) / "podman" / "containers.conf"
    if "CONTAINERS_CONF" not in podman_env and conf.is_file():
        podman_env["CONTAINERS_CONF"] = str(conf)
    try:
        name = args.project_name or env.get("COMPOSE_PROJECT_NAME") or None
        project = ComposeProject.load(args.file, env, name)
        stack = PodmanStack(
            project,
            REPO_ROOT / ".quant" / "stack",
            env=podman_env,
            log=lambda m: print(f"[stack] {m}", file=sys.stderr),
        )
        if args.command == "up":
            started = stack.up(
                args.profile, args.services, wait=args.wait, timeout_s=args.wait_timeout
            )
            print(f"up: {', '.join(s.name for s in started)}")
        elif args.command == "down":
            removed = stack.down(volumes=args.volumes)
            print(
                f"down: {len(removed)} containers removed"
                + (" with volumes" if args.volumes else "")
            )
        else:
            for c in stack.ps():
                print(f"{c.service:<14} {c.name:<40} {c.status:<8} {c.health or '-'}")
    except (ComposeError, StackError) as exc:
        print(f"podman_compose: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
