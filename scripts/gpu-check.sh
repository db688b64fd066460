#!/usr/bin/env bash
# vst's GPU check, for a machine with an NVIDIA GPU, a CUDA 13 driver, cuDNN 9 and PyTorch, but no network and no
# Rust. Run from the repository root, with the folder made by scripts/build-gpu-check.sh on another machine:
#
#     bash scripts/gpu-check.sh [BIN_DIR=target/gpu-check]
#
# 1. tests     the engine's fixture tests on the GPU (VST_TEST_DEVICE=cuda:0) and vst-cuda's own tests
# 2. numerics  every CUDA kernel against the CPU backend (vst-cuda-check numerics), f32 and bf16
# 3. bench     one training step per workload and precision, PyTorch + cuDNN and vst interleaved in this run:
#              Slow R-50 8x8 at 224^2 backbone forward+backward (both), the BYOL rho=2 step (PyTorch; vst too
#              when its `vst` binary has `vst bench gpu`)
# 4. augment   the T/S/C augmentation kernels against their CPU mirror and vst-data's CPU path, then clips/s of one
#              core decoding + GPU augmentation vs + CPU augmentation (vst-cuda-check augment; AUGMENT_SAMPLES, 48)
# and prints one table. Environment: PRECISIONS (default "f32 bf16"), BATCH (8), STEPS (10), ROUNDS (2),
# RESULTS (default BIN_DIR/results; bench.jsonl and logs go there).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/gpu-check}")
RESULTS=${RESULTS:-$BIN/results}
PRECISIONS=${PRECISIONS:-f32 bf16}
BATCH=${BATCH:-8}
STEPS=${STEPS:-10}
ROUNDS=${ROUNDS:-2}
PY=${PYTHON:-python3}
mkdir -p "$RESULTS"
: >"$RESULTS/bench.jsonl"
: >"$RESULTS/summary.txt"
note() { echo "$*" >>"$RESULTS/summary.txt"; echo "[gpu-check] $*" >&2; }

[ -x "$BIN/vst-cuda-check" ] || { echo "no $BIN/vst-cuda-check: build it with scripts/build-gpu-check.sh"; exit 2; }

# The CUDA libraries: the toolkit's, or the ones PyTorch's wheels bring (nvidia/cu13/lib, nvidia/cudnn/lib).
LIBS=$("$PY" - <<'PY'
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
dirs = []
for r in roots:
    for pat in ("nvidia/*/lib", "nvidia/cu13/lib", "nvidia/cudnn/lib", "nvidia/cublas/lib", "nvidia/cuda_nvrtc/lib"):
        dirs += glob.glob(os.path.join(r, pat))
dirs += glob.glob("/usr/local/cuda/lib64") + glob.glob("/usr/local/cuda/targets/x86_64-linux/lib")
print(":".join(dict.fromkeys(d for d in dirs if os.path.isdir(d))))
PY
)
export LD_LIBRARY_PATH="${LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
note "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not available')"
note "libraries: $(for l in libcuda.so.1 libnvrtc.so.13 libcublas.so.13 libcudnn.so.9; do
    if "$PY" -c "import ctypes,sys; ctypes.CDLL(sys.argv[1])" "$l" 2>/dev/null; then printf '%s ok, ' "$l"; else printf '%s MISSING, ' "$l"; fi; done)"

# ---- 1. tests -------------------------------------------------------------------------------------------------
export VST_FIXTURE_DIR="$PWD/runtime/engine/tests/fixtures"
tests_failed=0
for t in "$BIN"/tests/*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    extra=()
    # vst-cuda's own tests include NVRTC compilation, marked ignored where no NVRTC is present.
    [ "$name" = "vst_cuda-unit" ] && extra=(--include-ignored)
    if VST_TEST_DEVICE=cuda:0 "$t" "${extra[@]}" >"$RESULTS/test-$name.log" 2>&1; then
        note "tests $name: $(grep -E '^test result' "$RESULTS/test-$name.log" | tail -1)"
    else
        tests_failed=1
        note "tests $name: FAILED (see $RESULTS/test-$name.log)"
        grep -E 'panicked|FAILED|failed' "$RESULTS/test-$name.log" | head -5 | tee -a "$RESULTS/summary.txt" >&2
    fi
done

# ---- 2. numerics ----------------------------------------------------------------------------------------------
numerics_failed=0
for p in f32 bf16; do
    if "$BIN/vst-cuda-check" numerics --precision "$p" >"$RESULTS/numerics-$p.log" 2>&1; then
        note "numerics $p (GPU vs CPU): $(tail -1 "$RESULTS/numerics-$p.log")"
    else
        numerics_failed=1
        note "numerics $p (GPU vs CPU): FAILED (see $RESULTS/numerics-$p.log)"
        grep -E '^FAIL|vst-cuda-check:' "$RESULTS/numerics-$p.log" | head -8 | tee -a "$RESULTS/summary.txt" >&2
    fi
done

# ---- 3. bench -------------------------------------------------------------------------------------------------
has_vst_bench=0
if "$BIN/vst" bench gpu --help >/dev/null 2>&1; then has_vst_bench=1; fi
common=(--batch "$BATCH" --steps "$STEPS" --json)
bench() { # label, command...
    local label=$1; shift
    if ! "$@" >>"$RESULTS/bench.jsonl" 2>>"$RESULTS/bench-errors.log"; then
        note "bench $label: FAILED (see $RESULTS/bench-errors.log)"
    fi
}
for round in $(seq 1 "$ROUNDS"); do
    for p in $PRECISIONS; do
        for fmt in channels_last contiguous; do
            bench "torch backbone $p $fmt" "$PY" scripts/bench_gpu_torch.py --workload backbone --precision "$p" --memory-format "$fmt" "${common[@]}"
        done
        bench "vst backbone $p" "$BIN/vst-cuda-check" bench --precision "$p" "${common[@]}"
        bench "torch byol $p" "$PY" scripts/bench_gpu_torch.py --workload byol --precision "$p" "${common[@]}"
        if [ "$has_vst_bench" = 1 ]; then
            bench "vst byol $p" "$BIN/vst" bench gpu --precision "$p" "${common[@]}"
        fi
    done
done
[ "$has_vst_bench" = 1 ] || note "vst BYOL step: not measured (this vst binary has no \`vst bench gpu\` yet)"

# ---- 4. augment -------------------------------------------------------------------------------------------------
augment_failed=0
if "$BIN/vst-cuda-check" augment --samples "${AUGMENT_SAMPLES:-48}" >"$RESULTS/augment.log" 2>&1; then
    while IFS= read -r line; do note "$line"; done < <(grep -E '^augment' "$RESULTS/augment.log")
else
    augment_failed=1
    note "augment: FAILED (see $RESULTS/augment.log)"
    grep -E '^augment|vst-cuda-check:' "$RESULTS/augment.log" | head -8 | tee -a "$RESULTS/summary.txt" >&2
fi

# ---- the table --------------------------------------------------------------------------------------------------
"$PY" - "$RESULTS/bench.jsonl" "$RESULTS/summary.txt" <<'PY' | tee "$RESULTS/table.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
best = {}
for r in rows:  # best of the rounds per (impl, workload, precision)
    k = (r["workload"], r["precision"], r["impl"])
    if k not in best or r["clips_per_s"] > best[k]["clips_per_s"]:
        best[k] = r
torch_best = {}
for (w, p, impl), r in best.items():
    if impl.startswith("torch"):
        torch_best[(w, p)] = max(torch_best.get((w, p), 0), r["clips_per_s"])
gpu = rows[0]["gpu"] if rows else "?"
print(f"\nvst GPU check on {gpu}: best of rounds; ratio = clips/s over the faster PyTorch layout, same workload and precision\n")
print("| workload | precision | implementation | batch | clips/s | ms/step | peak GiB | ratio vs PyTorch |")
print("|---|---|---|---|---|---|---|---|")
for (w, p, impl), r in sorted(best.items(), key=lambda kv: (kv[0][0], kv[0][1], not kv[0][2].startswith("vst"), kv[0][2])):
    t = torch_best.get((w, p))
    ratio = f"{r['clips_per_s'] / t:.2f}x" if t else "-"
    print(f"| {w} | {p} | {impl} | {r['batch']} | {r['clips_per_s']:.1f} | {r['ms_per_step']:.1f} | {r['peak_mem_gib']:.2f} | {ratio} |")
print()
print(open(sys.argv[2]).read())
PY
status=$((tests_failed | numerics_failed | augment_failed))
echo "gpu-check: tests $([ $tests_failed = 0 ] && echo passed || echo FAILED), numerics $([ $numerics_failed = 0 ] && echo passed || echo FAILED), augment $([ $augment_failed = 0 ] && echo passed || echo FAILED)"
exit $status
