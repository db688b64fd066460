#!/usr/bin/env bash
# Builds, on a machine with Rust (no GPU or CUDA needed), everything scripts/gpu-check.sh runs on the GPU machine,
# into one folder to carry there (default target/gpu-check):
#   vst-cuda-check            GPU-vs-CPU numerics and the backbone benchmark
#   vst                       the CLI (gpu-check.sh runs `vst bench gpu` when this binary has it)
#   tests/<name>              test binaries: the engine's fixture tests (run with VST_TEST_DEVICE=cuda:0) and
#                             vst-cuda's own tests (incl. the NVRTC compile check)
# Binaries are stripped to keep the folder small; the script fails if the folder exceeds 56 MiB (the device tool
# carries at most 64 MiB, the working tree included).
# TEST_PACKAGES (default "vst-engine vst-cuda") names the crates whose tests are carried: add a crate once its
# tests honour VST_TEST_DEVICE (tests/common of the engine shows how).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-target/gpu-check}
rm -rf "$DEST"
mkdir -p "$DEST/tests"

cargo build --release -p vst-cuda --bin vst-cuda-check
cargo build --release -p vst --bin vst
cp target/release/vst-cuda-check target/release/vst "$DEST/"

# Test executables, found from cargo's JSON messages (their names carry a hash).
packages=()
for p in ${TEST_PACKAGES:-vst-engine vst-cuda}; do packages+=(-p "$p"); done
cargo test --release "${packages[@]}" --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys, shutil, os
dest = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    kind = m.get("target", {}).get("kind")
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m.get("profile", {}).get("test") \
            and kind in (["lib"], ["test"]):
        t = m["target"]
        # Library unit tests are named after their crate, integration tests after their file.
        name = t["name"] + ("-unit" if t["kind"] == ["lib"] else "")
        # CPU-only binaries would spend device time for nothing: the engine unit tests (its kernels on the
        # CPU) and the dry run of the check script.
        if name in ("vst_engine-unit", "gpu_check_dry_run"):
            continue
        out = os.path.join(dest, "tests", name)
        shutil.copy(m["executable"], out)
        print("test binary:", out)
' "$DEST"

if command -v strip >/dev/null; then
    strip "$DEST"/vst-cuda-check "$DEST"/vst "$DEST"/tests/* 2>/dev/null || true
fi
# The device tool carries at most 64 MiB (with the rest of the working tree): refuse a folder that would not fit.
size=$(du -sb "$DEST" | cut -f1)
echo "$DEST: $((size / 1048576)) MiB"
if [ "$size" -gt $((56 * 1048576)) ]; then
    echo "build-gpu-check: $DEST is $((size / 1048576)) MiB; with the working tree it must fit the device tool's 64 MiB carry (limit here 56 MiB)" >&2
    exit 1
fi
