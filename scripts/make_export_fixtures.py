#!/usr/bin/env python3
"""The PyTorch side of vst-runtime's export test (runtime/tests/export.rs): loads what `vst export` wrote into a
PySlowFast-named Slow R-50 (default), or into pytorchvideo's own `create_resnet` model (`--layout pytorchvideo`),
and records its outputs on a fixed input.

PySlowFast (`python3 scripts/make_export_fixtures.py`):
1. `VST_WRITE_EXPORT_FIXTURE=1 cargo test -p vst-runtime --test export` writes
   runtime/tests/fixtures/export/encoder.safetensors: a small Slow R-50 (width 1/32, seeded initialisation with
   non-trivial batch norms) as `vst export` writes it.
2. This script turns that file into a `.pyth` checkpoint with scripts/convert_pyslowfast.py --to-pyslowfast (the
   path a user takes), loads it with torch.load(weights_only=True) into the PySlowFast-named model of
   scripts/make_model_fixtures.py with load_state_dict(strict=True) — every name and shape must match, the
   `num_batches_tracked` counters included — and writes runtime/tests/fixtures/export/features.safetensors: a fixed
   input clip (channels-last, as vst takes it) and the model's pool5 features in evaluation mode (float64
   computation, stored as float32).

pytorchvideo (`python3 scripts/make_export_fixtures.py --layout pytorchvideo`):
1. `VST_WRITE_PYTORCHVIDEO_FIXTURE=1 cargo test -p vst-runtime --test export` writes
   runtime/tests/fixtures/export/pytorchvideo_encoder.safetensors: the same network plus a fine-tune's 5-class
   classifier, as `vst export --layout pytorchvideo` writes it.
2. This script builds the model with pytorchvideo's own `pytorchvideo.models.resnet.create_resnet` (the arguments
   of its `slow_r50` hub model at width 1/32 on 4×16² clips), checks that the `create_resnet` arguments the file
   carries (`vst.pytorchvideo.create_resnet`) are those and that its names are those of `slow_r50(pretrained=False)`
   (built full size), loads the file as a user would —
   `load_state_dict(safetensors.torch.load_file(...), strict=True)` — and writes
   runtime/tests/fixtures/export/pytorchvideo_features.safetensors: a fixed input clip (channels-last), the pool5
   features (the stages' output averaged over T, H, W) and the model's logits, in evaluation mode (float64
   computation, stored as float32).
   Needs pytorchvideo 0.1.5 and what `import pytorchvideo.models.resnet` needs: that import runs
   pytorchvideo/models/__init__.py, which imports every model module — models/weight_init.py needs fvcore (and fvcore
   iopath, portalocker, termcolor, tabulate, tqdm), models/head.py `from torchvision.ops import RoIAlign` — so
   torchvision too, the release built for the installed torch (0.29.2 for torch 2.15 here; it loads its compiled
   operators at import). All with --no-deps, so that pip leaves the installed torch alone:
       pip install --no-deps pytorchvideo==0.1.5 fvcore==0.1.5.post20221221 iopath==0.1.10 portalocker \
           termcolor tabulate tqdm torchvision==0.29.2
   (numpy too, which requirements.txt brings.) Nothing is stubbed: the model is pytorchvideo's code.

Run from the repository root (needs torch and safetensors):  python3 scripts/make_export_fixtures.py [--layout ...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_model_fixtures import SlowR50  # noqa: E402  (PySlowFast's module names)

FIXTURES = os.path.join(HERE, "..", "runtime", "tests", "fixtures", "export")
WIDTH = 1 / 32
FRAMES, SIDE = 4, 16
CLASSES = 5  # the fine-tuned classifier of the pytorchvideo fixture


def pyslowfast_fixture():
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


def pytorchvideo_fixture():
    exported = os.path.join(FIXTURES, "pytorchvideo_encoder.safetensors")
    if not os.path.exists(exported):
        sys.exit(f"{exported} is missing: run VST_WRITE_PYTORCHVIDEO_FIXTURE=1 cargo test -p vst-runtime --test export")
    from pytorchvideo.models.resnet import create_resnet  # see the module doc for what it needs installed

    stem = int(64 * WIDTH)
    # slow_r50's arguments (pytorchvideo/models/hub/resnet.py: stem_conv_kernel_size=(1, 7, 7), model_depth=50,
    # create_resnet's default stage kernels), at our width and class count; the head pools the whole 4×1×1 output
    # of res5 on 4×16² clips, as slow_r50's (8, 7, 7) does on 8×224².
    model = create_resnet(model_depth=50, stem_dim_out=stem, stem_conv_kernel_size=(1, 7, 7),
                          model_num_class=CLASSES, head_pool_kernel_size=(FRAMES, 1, 1))
    with safe_open(exported, framework="pt") as f:
        meta = f.metadata()
    args = json.loads(meta["vst.pytorchvideo.create_resnet"])
    expected = dict(model_depth=50, stem_dim_out=stem, stem_conv_kernel_size=[1, 7, 7],
                    stage_conv_a_kernel_size=[[1, 1, 1], [1, 1, 1], [3, 1, 1], [3, 1, 1]],
                    stage_conv_b_kernel_size=[[1, 3, 3]] * 4, model_num_class=CLASSES)
    assert args == expected, (args, expected)
    # The names are those of pytorchvideo's slow_r50 hub model (built full size, untrained: names and structure do
    # not depend on the width), less the `num_batches_tracked` counters.
    from pytorchvideo.models.hub import slow_r50

    hub = {k for k in slow_r50(pretrained=False).state_dict() if not k.endswith("num_batches_tracked")}
    exported_names = set(load_file(exported))
    assert exported_names == hub, (sorted(exported_names ^ hub)[:10])
    # What a user does: the file straight into the model, every name and shape checked. A plain dict has no
    # `_metadata`, so BatchNorm fills in the `num_batches_tracked` counters the file does not carry.
    model.load_state_dict(load_file(exported), strict=True)
    model = model.to(torch.float64).eval()
    torch.manual_seed(4326)
    clip = torch.randn(2, 3, FRAMES, SIDE, SIDE).to(torch.float32)  # N, C, T, H, W
    with torch.no_grad():
        x = clip.to(torch.float64)
        for block in model.blocks[:5]:  # stem, res2 .. res5
            x = block(x)
        features = x.mean((2, 3, 4))
        logits = model(clip.to(torch.float64))
    out = {
        "input": clip.permute(0, 2, 3, 4, 1).contiguous(),  # N, T, H, W, C: vst's layout
        "features": features.to(torch.float32).contiguous(),
        "logits": logits.to(torch.float32).contiguous(),
    }
    path = os.path.join(FIXTURES, "pytorchvideo_features.safetensors")
    save_file(out, path, metadata={"generator": "scripts/make_export_fixtures.py --layout pytorchvideo",
                                   "cases": json.dumps(dict(depth=50, width=WIDTH, frames=FRAMES, crop=SIDE,
                                                            classes=CLASSES))})
    print(f"wrote {path}: features {tuple(features.shape)}, |features| {features.norm():.4f}, "
          f"logits {tuple(logits.shape)}, |logits| {logits.norm():.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layout", choices=("pyslowfast", "pytorchvideo"), default="pyslowfast",
                    help="which export to load (default: pyslowfast)")
    if ap.parse_args().layout == "pytorchvideo":
        pytorchvideo_fixture()
    else:
        pyslowfast_fixture()


if __name__ == "__main__":
    main()
