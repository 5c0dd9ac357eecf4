#!/usr/bin/env bash
# Secret scanning with detect-secrets (CI and the test suite run this same script).
#
#   scripts/ci/secret_scan.sh repo [FILE...]      tracked files (or FILEs) against .secrets.baseline:
#                                                 fails on any finding not reviewed in the baseline
#   scripts/ci/secret_scan.sh image IMAGE         a built image: its ENV, its build history (RUN
#                                                 lines with ARG values expanded) and the files a
#                                                 build of ours can write (see IMAGE_PATHS); fails
#                                                 on any finding (images have no baseline)
#
# Environment: CONTAINER_ENGINE (default: docker, else podman), DETECT_SECRETS (default: the
# project venv's detect-secrets). Exit 0 clean, 1 findings, 2 usage/tool errors.
#
# The baseline is reviewed: every entry carries "is_secret": false after `detect-secrets audit
# .secrets.baseline`. Regenerate it with
#   .venv/bin/detect-secrets scan --exclude-files '^\.secrets\.baseline$' $(git ls-files) \
#       > .secrets.baseline                                                  (then audit it)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO_ROOT="$PWD"

DS="${DETECT_SECRETS:-$PWD/.venv/bin/detect-secrets}"
[[ -x "$DS" ]] || DS="$(command -v detect-secrets || true)"
[[ -n "$DS" ]] || { echo "secret_scan: detect-secrets not found" >&2; exit 2; }
HOOK="$(dirname "$DS")/detect-secrets-hook"
# Image paths our Dockerfiles write or that commonly collect credentials; third-party packages
# come from the hash-locked requirements (docker/requirements.lock) and are not scanned.
IMAGE_PATHS=(opt/quant home root etc/pip.conf etc/environment tmp)

scan_repo() {
    local files=("$@")
    if [[ ${#files[@]} -eq 0 ]]; then
        mapfile -t files < <(git ls-files --cached --others --exclude-standard |
            grep -v -x -F .secrets.baseline)
    fi
    local tmp rc=0
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' RETURN
    # The hook rewrites the baseline it is given (line numbers): give it a copy.
    cp .secrets.baseline "$tmp/baseline"
    "$HOOK" --baseline "$tmp/baseline" "${files[@]}" >"$tmp/out" 2>&1 || rc=$?
    if [[ $rc -eq 1 ]]; then
        cat "$tmp/out"
        echo "secret_scan: secrets found that the baseline does not list (see above)" >&2
        return 1
    fi
    [[ $rc -eq 3 ]] && echo "secret_scan: baseline line numbers are stale (harmless; regenerate)"
    [[ $rc -eq 0 || $rc -eq 3 ]] || { cat "$tmp/out"; return 2; }
    echo "secret_scan: ${#files[@]} files clean against .secrets.baseline"
}

engine() {
    if [[ -n "${CONTAINER_ENGINE:-}" ]]; then echo "$CONTAINER_ENGINE"
    elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then echo docker
    elif command -v podman >/dev/null; then echo podman
    else echo "secret_scan: no container engine (docker/podman)" >&2; return 2; fi
}

scan_image() {
    local image="$1" eng tmp cid
    eng="$(engine)"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"; [[ -n "${cid:-}" ]] && "$eng" rm -f "$cid" >/dev/null 2>&1 || true' RETURN
    mkdir -p "$tmp/meta" "$tmp/fs"
    "$eng" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image" \
        >"$tmp/meta/env.txt"
    "$eng" history --no-trunc --format '{{.CreatedBy}}' "$image" >"$tmp/meta/history.txt"
    cid="$("$eng" create "$image" true)"
    "$eng" export "$cid" | tar -x -C "$tmp/fs" --no-same-owner --no-same-permissions \
        --wildcards "${IMAGE_PATHS[@]/%/*}" 2>/dev/null || true
    (cd "$tmp" && "$DS" scan --all-files meta fs >"$tmp/found.json")
    # Project files copied into the image (/opt/quant/<repo path>) carry the repo's reviewed
    # false positives: drop a finding only when the baseline lists the same secret for that file.
    local n
    n="$(python3 - "$tmp/found.json" "$REPO_ROOT/.secrets.baseline" <<'PY'
import json, re, sys
found = json.load(open(sys.argv[1]))["results"]
baseline = json.load(open(sys.argv[2]))["results"]
reviewed = {(f, r["hashed_secret"]) for f, rs in baseline.items() for r in rs}
left = 0
for name, rs in found.items():
    repo_path = re.sub(r"^fs/opt/quant/(build/lib/)?", "", name)
    for r in rs:
        if (repo_path, r["hashed_secret"]) in reviewed:
            continue
        left += 1
        print("%s:%s: %s" % (name, r["line_number"], r["type"]), file=sys.stderr)
print(left)
PY
)"
    if [[ "$n" != 0 ]]; then
        echo "secret_scan: $n finding(s) in image $image (ENV, history or files)" >&2
        return 1
    fi
    echo "secret_scan: image $image clean ($(wc -l <"$tmp/meta/env.txt") ENV, $(wc -l <"$tmp/meta/history.txt") history lines, $(find "$tmp/fs" -type f | wc -l) files)"
}

case "${1:-}" in
repo) shift; scan_repo "$@" ;;
image) [[ $# -eq 2 ]] || { echo "usage: $0 image IMAGE" >&2; exit 2; }; scan_image "$2" ;;
*) echo "usage: $0 repo [FILE...] | image IMAGE" >&2; exit 2 ;;
esac
