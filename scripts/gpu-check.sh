#!/usr/bin/env bash
# vst's GPU check, for a machine with an NVIDIA GPU, a CUDA 13 driver, cuDNN 9 and PyTorch, but no network and no
# Rust. One command that cannot lose its results: built on another machine by scripts/build-gpu-check.sh, run from
# the repository root:
#
#     bash scripts/gpu-check.sh [BIN_DIR=target/gpu-check]
#
# Results go to $OUT (the device tool's return folder) when it is set, else to BIN_DIR/results, as three files that
# are rewritten after every step, so a run killed from outside still returns everything done so far:
#     summary.txt      one status line per step (ok / FAILED / TIMEOUT / SKIPPED, seconds, the gist)
#     results.tar.gz   every step's log, bench.jsonl, table.md
#     table.md         the benchmark table against PyTorch (once a benchmark has run)
#
# Steps, most valuable first, each under its own `timeout` (seconds in brackets: the cap, then the expected time on
# an H200 — start-up + NVRTC compilation ~3 s and the cuDNN algorithm search ~5-15 s per process dominate):
#   env              GPU, driver and which library files load (vst-cuda-check libraries)         [30; ~5]
#   numerics-f32     every CUDA kernel against the CPU backend                                      [90; ~30]
#   r50-bf16         one Slow R-50 8x8 224² forward+backward step in bf16: PyTorch (channels-last)
#                    and vst, batch BATCH, STEPS steps                                               [2×60; ~40]
#   numerics-bf16    the same kernels in bf16                                                        [90; ~30]
#   tests            the engine's fixture tests on the GPU, vst-cuda's tests with NVRTC             [120; ~40]
#   nccl-bf16-run    `vst run` of the smoke recipe in bf16 as a one-process NCCL group             [120; ~30]
#   augment          the T/S/C augmentation kernels against their CPU mirror and vst-data's CPU path,
#                    then clips/s of one core decoding + GPU vs + CPU augmentation (AUGMENT_SAMPLES, 48) [90; ~30]
#   nvdec            NVDEC's decoded pictures against OpenH264's (must be identical), then frames/s of
#                    each, one thread (never run yet: the first GPU run says whether the bindings work) [60; ~15]
#   augment-run      `vst run` of the smoke recipe on cuda:0 with --augment-on gpu --decoder nvdec   [120; ~40]
#   bench            f32 and tf32 R-50 rows (both PyTorch layouts), BYOL rho=2 (PyTorch; vst when
#                    its binary has `vst bench gpu`), ROUNDS rounds                                  [60 each; ~150]
#   memcheck         compute-sanitizer on two backward steps of a small network, if time remains    [90; ~60]
# Expected total ~5 min; BUDGET (default 400 s) stops starting steps that could overrun it, so the whole check
# stays under 7 minutes. A failing numerics step is rerun once with CUDA_LAUNCH_BLOCKING=1 so that an asynchronous
# kernel error is reported under the right op. With no GPU (a dry run) every CUDA step fails in seconds and the
# three files are still written.
# Environment: BATCH (8), STEPS (10), ROUNDS (1), BUDGET (400), AUGMENT_SAMPLES (48), PYTHON (python3).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/gpu-check}")
DEST=${OUT:-$BIN/results}
BATCH=${BATCH:-8}
STEPS=${STEPS:-10}
ROUNDS=${ROUNDS:-1}
BUDGET=${BUDGET:-400}
PY=${PYTHON:-python3}
START=$(date +%s)
mkdir -p "$DEST"
DEST=$(realpath "$DEST")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
: >"$WORK/bench.jsonl"
: >"$DEST/summary.txt"

elapsed() { echo $(($(date +%s) - START)); }
note() { echo "$*" >>"$DEST/summary.txt"; echo "[gpu-check $(elapsed)s] $*" >&2; }

# The three result files, replaced atomically (a reader never sees half an archive).
publish() {
    cp "$DEST/summary.txt" "$WORK/summary.txt"
    tar -czf "$DEST/.results.tar.gz.tmp" -C "$WORK" . 2>/dev/null && mv "$DEST/.results.tar.gz.tmp" "$DEST/results.tar.gz"
    if [ -s "$WORK/table.md" ]; then cp "$WORK/table.md" "$DEST/.table.md.tmp" && mv "$DEST/.table.md.tmp" "$DEST/table.md"; fi
}

# step NAME CAP COMMAND...: runs COMMAND under `timeout CAP` with its output in NAME.log, records its status.
# Skipped when the budget left is smaller than CAP. Returns the command's status (124 for a timeout).
step() {
    local name=$1 cap=$2; shift 2
    local left=$((BUDGET - $(elapsed)))
    if [ "$left" -lt "$cap" ]; then
        note "$name: SKIPPED (budget: ${left}s left of ${BUDGET}s, the step may take ${cap}s)"
        publish
        return 125
    fi
    local t0 rc
    t0=$(date +%s)
    timeout -k 5 "$cap" "$@" >"$WORK/$name.log" 2>&1
    rc=$?
    local secs=$(($(date +%s) - t0))
    case $rc in
        0) note "$name: ok (${secs}s) $(grep -v '^\s*$' "$WORK/$name.log" | tail -1 | cut -c1-200)" ;;
        124|137) note "$name: TIMEOUT after ${secs}s (cap ${cap}s); last line: $(tail -1 "$WORK/$name.log" | cut -c1-200)" ;;
        *)
            local gist
            gist=$(grep -E 'FAIL|error|Error|panicked' "$WORK/$name.log" | head -3)
            [ -n "$gist" ] || gist=$(grep -v '^\s*$' "$WORK/$name.log" | tail -2)
            note "$name: FAILED rc=$rc (${secs}s): $(echo "$gist" | tr '\n' ' ' | cut -c1-300)" ;;
    esac
    publish
    return $rc
}

# The benchmark table from bench.jsonl (best round per implementation, workload and precision).
make_table() {
    "$PY" - "$WORK/bench.jsonl" >"$WORK/table.md" 2>>"$WORK/table-errors.log" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    try:
        rows.append(json.loads(line))
    except ValueError:
        pass
best = {}
for r in rows:
    k = (r["workload"], r["precision"], r["impl"])
    if k not in best or r["clips_per_s"] > best[k]["clips_per_s"]:
        best[k] = r
torch_best = {}
for (w, p, impl), r in best.items():
    if impl.startswith("torch"):
        torch_best[(w, p)] = max(torch_best.get((w, p), 0), r["clips_per_s"])
gpu = rows[0].get("gpu", "?") if rows else "?"
print(f"vst GPU check on {gpu}: best of rounds; ratio = clips/s over the faster PyTorch layout, same workload and precision\n")
print("| workload | precision | implementation | batch | clips/s | ms/step | peak GiB | ratio vs PyTorch |")
print("|---|---|---|---|---|---|---|---|")
for (w, p, impl), r in sorted(best.items(), key=lambda kv: (kv[0][0], kv[0][1], not kv[0][2].startswith("vst"), kv[0][2])):
    t = torch_best.get((w, p))
    ratio = f"{r['clips_per_s'] / t:.2f}x" if t else "-"
    print(f"| {w} | {p} | {impl} | {r['batch']} | {r['clips_per_s']:.1f} | {r['ms_per_step']:.1f} | {r['peak_mem_gib']:.2f} | {ratio} |")
PY
}

# bench NAME CAP COMMAND...: a step whose JSON lines are added to bench.jsonl.
bench() {
    local name=$1
    step "$@"
    local rc=$?
    grep -h '^{' "$WORK/$name.log" >>"$WORK/bench.jsonl" 2>/dev/null
    make_table
    publish
    return $rc
}

note "gpu-check: BIN=$BIN BATCH=$BATCH STEPS=$STEPS ROUNDS=$ROUNDS BUDGET=${BUDGET}s"
if [ ! -x "$BIN/vst-cuda-check" ]; then
    note "no $BIN/vst-cuda-check: build it with scripts/build-gpu-check.sh and carry $BIN"
    publish
    exit 2
fi

# ---- the libraries: one consistent set ------------------------------------------------------------------------
# PyTorch's wheels (nvidia/cu13/lib, nvidia/cudnn/lib, ...) when they hold cuBLAS, cuDNN and NVRTC; otherwise the
# toolkit's folders. Never both: cudarc tries unversioned names first, so a toolkit's libcublas.so would win over
# the wheels' libcublas.so.13 and pull its dependencies from the other copy.
LIBS=$("$PY" - <<'PY' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
wheel_dirs = [d for r in roots for d in sorted(glob.glob(os.path.join(r, "nvidia", "*", "lib"))) if os.path.isdir(d)]
def has(dirs, prefix):
    return any(glob.glob(os.path.join(d, prefix + "*")) for d in dirs)
toolkit = [d for d in ("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib") if os.path.isdir(d)]
if wheel_dirs and all(has(wheel_dirs, p) for p in ("libcublas.so", "libcudnn.so", "libnvrtc.so")):
    print(":".join(dict.fromkeys(wheel_dirs)))
else:
    print(":".join(dict.fromkeys(toolkit + wheel_dirs)))
PY
)
export LD_LIBRARY_PATH="${LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Each cuDNN algorithm choice (per layer and pass) goes to the steps' logs.
export VST_LOG_CONV_ALGOS=1
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >"$WORK/environment.txt"
nvidia-smi >>"$WORK/environment.txt" 2>&1
note "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not available')"
step env 30 "$BIN/vst-cuda-check" libraries

# ---- numerics, then the one number that matters most ------------------------------------------------------------
numerics() { # precision
    local p=$1 rc
    step "numerics-$p" 90 "$BIN/vst-cuda-check" numerics --precision "$p"
    rc=$?
    [ $rc = 0 ] && return 0
    [ $rc = 125 ] && return 1 # skipped
    step "numerics-$p-blocking" 90 env CUDA_LAUNCH_BLOCKING=1 "$BIN/vst-cuda-check" numerics --precision "$p"
    return 1
}
failed=0
numerics f32 || failed=1
common=(--batch "$BATCH" --steps "$STEPS" --json)
bench r50-bf16-torch 60 "$PY" scripts/bench_gpu_torch.py --workload backbone --precision bf16 --memory-format channels_last "${common[@]}"
bench r50-bf16-vst 60 "$BIN/vst-cuda-check" bench --precision bf16 "${common[@]}" || failed=1
numerics bf16 || failed=1

# ---- tests: the engine's fixture tests on the GPU, vst-cuda's own with NVRTC -----------------------------------
export VST_FIXTURE_DIR="$PWD/runtime/engine/tests/fixtures"
for t in "$BIN"/tests/*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    extra=()
    [ "$name" = "vst_cuda-unit" ] && extra=(--include-ignored)
    step "test-$name" 120 env VST_TEST_DEVICE=cuda:0 "$t" "${extra[@]}" || failed=1
done

# ---- NCCL (a group of one) and a few bf16 training steps end to end ----------------------------------------
# The smoke recipe (every objective, seconds-scale) on the GPU in bf16, as process 0 of a `--gpus` group of one:
# NCCL initialises, the learner's collectives go through it, and training, checkpoints and evaluations run.
step nccl-bf16-run 120 env VST_NCCL_RANK=0 VST_NCCL_SIZE=1 VST_NCCL_DIR="$WORK/nccl" \
    "$BIN/vst" run tests/recipes/smoke.vst --device cuda:0 --precision bf16 --runs "$WORK/runs" --gpus 1 || failed=1
rm -rf "$WORK/runs" "$WORK/nccl"

# ---- the augmentation kernels ---------------------------------------------------------------------------------
step augment 90 "$BIN/vst-cuda-check" augment --samples "${AUGMENT_SAMPLES:-48}" || failed=1

# ---- NVDEC decoding ---------------------------------------------------------------------------------------------
step nvdec 60 "$BIN/vst-cuda-check" nvdec || failed=1

# ---- training with the GPU augmentation and NVDEC in the loader ------------------------------------------------------------
step augment-run 120 "$BIN/vst" run tests/recipes/smoke.vst --device cuda:0 --augment-on gpu --decoder nvdec \
    --runs "$WORK/runs-augment" || failed=1
rm -rf "$WORK/runs-augment"

# ---- the rest of the benchmark ---------------------------------------------------------------------------------
has_vst_bench=0
"$BIN/vst" bench gpu --help >/dev/null 2>&1 && has_vst_bench=1
for round in $(seq 1 "$ROUNDS"); do
    for p in bf16 f32 tf32; do
        if [ "$p" != bf16 ] || [ "$round" -gt 1 ]; then
            bench "r50-$p-torch-r$round" 60 "$PY" scripts/bench_gpu_torch.py --workload backbone --precision "$p" --memory-format channels_last "${common[@]}"
            bench "r50-$p-vst-r$round" 60 "$BIN/vst-cuda-check" bench --precision "$p" "${common[@]}"
        fi
        bench "r50-$p-torch-ncdhw-r$round" 60 "$PY" scripts/bench_gpu_torch.py --workload backbone --precision "$p" --memory-format contiguous "${common[@]}"
        bench "byol-$p-torch-r$round" 60 "$PY" scripts/bench_gpu_torch.py --workload byol --precision "$p" "${common[@]}"
        if [ "$has_vst_bench" = 1 ]; then
            bench "byol-$p-vst-r$round" 60 "$BIN/vst" bench gpu --precision "$p" "${common[@]}"
        fi
    done
done
[ "$has_vst_bench" = 1 ] || note "vst BYOL step: not measured (the carried vst binary has no \`vst bench gpu\`)"

# ---- last, if time remains: memory errors in a few backward steps -----------------------------------------------
if command -v compute-sanitizer >/dev/null; then
    step memcheck 90 compute-sanitizer --tool memcheck --error-exitcode 3 \
        "$BIN/vst-cuda-check" bench --precision f32 --batch 1 --frames 4 --size 64 --warmup 0 --steps 2 || failed=1
else
    note "memcheck: SKIPPED (no compute-sanitizer on this machine)"
fi

note "gpu-check: done in $(elapsed)s; $([ $failed = 0 ] && echo 'every check passed' || echo 'SOME CHECKS FAILED (see above)')"
publish
exit $failed
