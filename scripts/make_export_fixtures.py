#!/usr/bin/env python3
"""The PyTorch side of vst-runtime's export test (runtime/tests/export.rs): loads what `vst export` wrote into a
PySlowFast-named Slow R-50 and records its features on a fixed input.

1. `VST_WRITE_EXPORT_FIXTURE=1 cargo test -p vst-runtime --test export` writes
   runtime/tests/fixtures/export/encoder.safetensors: a small Slow R-50 (width 1/32, seeded initialisation with
   non-trivial batch norms) as `vst export` writes it.
2. This script turns that file into a `.pyth` checkpoint with scripts/convert_pyslowfast.py --to-pyslowfast (the
   path a user takes), loads it with torch.load(weights_only=True) into the PySlowFast-named model of
   scripts/make_model_fixtures.py with load_state_dict(strict=True) — every name and shape must match, the
   `num_batches_tracked` counters included — and writes runtime/tests/fixtures/export/features.safetensors: a fixed
   input clip (channels-last, as vst takes it) and the model's pool5 features in evaluation mode (float64
   computation, stored as float32).

Run from the repository root (needs torch and safetensors):  python3 scripts/make_export_fixtures.py
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_model_fixtures import SlowR50  # noqa: E402  (PySlowFast's module names)

FIXTURES = os.path.join(HERE, "..", "runtime", "tests", "fixtures", "export")
WIDTH = 1 / 32
FRAMES, SIDE = 4, 16


def main():
    exported = os.path.join(FIXTURES, "encoder.safetensors")
    if not os.path.exists(exported):
        sys.exit(f"{exported} is missing: run VST_WRITE_EXPORT_FIXTURE=1 cargo test -p vst-runtime --test export")
    with tempfile.TemporaryDirectory() as tmp:
        pyth = os.path.join(tmp, "exported.pyth")
        subprocess.run([sys.executable, os.path.join(HERE, "convert_pyslowfast.py"), "--to-pyslowfast", exported,
                        pyth], check=True)
        state = torch.load(pyth, map_location="cpu", weights_only=True)["model_state"]
    model = SlowR50(WIDTH, (8, 16, 2, False))
    del model.head  # an encoder export has no classifier
    model.load_state_dict(state, strict=True)
    model = model.to(torch.float64).eval()
    torch.manual_seed(4325)
    clip = torch.randn(2, 3, FRAMES, SIDE, SIDE).to(torch.float32)  # N, C, T, H, W
    with torch.no_grad():
        features = model.pool5(clip.to(torch.float64))
    out = {
        "input": clip.permute(0, 2, 3, 4, 1).contiguous(),  # N, T, H, W, C: vst's layout
        "features": features.to(torch.float32).contiguous(),
    }
    path = os.path.join(FIXTURES, "features.safetensors")
    save_file(out, path, metadata={"generator": "scripts/make_export_fixtures.py",
                                           "cases": json.dumps(dict(depth=50, width=WIDTH, frames=FRAMES, crop=SIDE))})
    print(f"wrote {path}: features {tuple(features.shape)}, |features| {features.norm():.4f}")


if __name__ == "__main__":
    main()
