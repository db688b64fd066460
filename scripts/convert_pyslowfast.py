#!/usr/bin/env python3
"""Converts a PySlowFast checkpoint (.pyth, written by torch.save) into a vst weights file (safetensors), and back.

    python3 scripts/convert_pyslowfast.py IN.pyth OUT.safetensors
    python3 scripts/convert_pyslowfast.py --to-pyslowfast IN.safetensors OUT.pyth

The reverse direction also takes what `vst export` writes (PySlowFast's bare `ResNet` names, PyTorch's layout).

Names stay PySlowFast's `ContrastiveModel` state_dict names (`backbone.s1.pathway0_stem.conv.weight`,
`backbone.head.projection.projection.0.weight`, `backbone_hist.*`, `queue_x`, `swav_prototypes.weight`); see
runtime/src/train/checkpoint.rs. What changes:
  - convolution weights are permuted from PyTorch's Cout x Cin x kT x kH x kW to vst's Cout x kT x kH x kW x Cin;
  - a bare ResNet state_dict (a supervised checkpoint: `s1.*`, `head.*`) gets the `backbone.` prefix, and a
    DistributedDataParallel `module.` prefix is dropped;
  - integer counters (`num_batches_tracked`, `ptr`, `iter`) are not kept (they are listed in the metadata), nor is
    `queue_swav` (vst keeps one SwAV queue for all views), nor the optimiser state;
  - everything is stored as float32; BN running statistics and `queue_x` are marked as buffers (`vst.buffers`).
The reverse direction writes {"epoch", "model_state"} with `num_batches_tracked = 0` for every batch norm, which
PySlowFast's `load_checkpoint` accepts; vst's optimiser buffers are not exported.

A vst weights file loads with `Learner::load_weights` (vst-runtime). Requires torch and safetensors."""
import argparse
import json
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

SKIPPED_ALWAYS = ("queue_swav",)
BUFFER_SUFFIXES = ("running_mean", "running_var")


def load_pyth(path, unsafe_pickle):
    try:
        return torch.load(path, map_location="cpu", weights_only=not unsafe_pickle)
    except Exception as e:  # weights_only refuses pickled objects other than tensors and plain containers
        if unsafe_pickle:
            raise
        sys.exit(f"{path}: cannot be read as plain tensors ({e}).\n"
                 "If you trust the file, pass --unsafe-pickle to let torch unpickle arbitrary objects.")


def state_dict_of(ckpt, path):
    if isinstance(ckpt, dict):
        for key in ("model_state", "state_dict", "model"):
            if key in ckpt and isinstance(ckpt[key], dict):
                return ckpt[key]
        if all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            return ckpt
    sys.exit(f"{path}: no `model_state` (PySlowFast checkpoint) or state_dict found")


def to_vst(state, epoch=None):
    """PySlowFast state_dict -> (tensors, metadata) in vst's layout."""
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    bare = not any(k.startswith(("backbone.", "backbone_hist.")) for k in state)
    tensors, buffers, skipped = {}, [], []
    for name, value in state.items():
        if bare and (name.startswith("s") or name.startswith("head.")):
            name = "backbone." + name
        if name.endswith("num_batches_tracked") or not value.is_floating_point() or name in SKIPPED_ALWAYS:
            skipped.append(name)
            continue
        t = value.detach().to(torch.float32)
        if t.dim() == 5:
            t = t.permute(0, 2, 3, 4, 1)
        tensors[name] = t.contiguous()
        if name.endswith(BUFFER_SUFFIXES) or name == "queue_x":
            buffers.append(name)
    meta = {"vst.buffers": json.dumps(buffers), "vst.source": "pyslowfast",
            "vst.pyslowfast.skipped": json.dumps(skipped)}
    if epoch is not None:
        meta["vst.source_epoch"] = str(epoch)
    return tensors, meta


def to_pyslowfast(tensors, layout=None):
    """vst tensors -> PySlowFast state_dict. `layout` is the file's `vst.layout`: "pytorch" for what `vst export`
    writes (convolutions already Cout x Cin x kT x kH x kW), absent for vst's own checkpoints."""
    state = {}
    for name, t in tensors.items():
        if name.startswith("optimizer.") or name in SKIPPED_ALWAYS:
            continue
        if t.dim() == 5 and layout != "pytorch":
            t = t.permute(0, 4, 1, 2, 3)
        state[name] = t.contiguous()
        if name.endswith(".running_mean"):
            state[name[: -len("running_mean")] + "num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return state


def write_atomically(path, write):
    """Writes through a temporary file in the same directory, then renames it over `path`."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_safetensors(path):
    with safe_open(path, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, (f.metadata() or {})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--to-pyslowfast", action="store_true", help="convert a vst file back to a .pyth checkpoint")
    ap.add_argument("--unsafe-pickle", action="store_true",
                    help="allow torch.load to unpickle arbitrary objects (only for files you trust)")
    args = ap.parse_args()
    if args.to_pyslowfast:
        tensors, meta = read_safetensors(args.input)
        if meta.get("vst.export", "pyslowfast") != "pyslowfast":
            sys.exit(f"{args.input} was exported with `--layout {meta['vst.export']}`: its names are not "
                     "PySlowFast's; export again without --layout to make a .pyth")
        epoch = None
        if "vst.checkpoint" in meta:
            epoch = json.loads(meta["vst.checkpoint"]).get("epoch")
        elif "vst.source_epoch" in meta:
            epoch = meta["vst.source_epoch"]
        state = to_pyslowfast(tensors, meta.get("vst.layout"))
        write_atomically(args.output, lambda p: torch.save({"epoch": epoch, "model_state": state}, p))
        print(f"wrote {args.output}: {len(state)} entries")
    else:
        ckpt = load_pyth(args.input, args.unsafe_pickle)
        epoch = ckpt.get("epoch") if isinstance(ckpt, dict) else None
        tensors, meta = to_vst(state_dict_of(ckpt, args.input), epoch)
        write_atomically(args.output, lambda p: save_file(tensors, p, metadata=meta))
        skipped = json.loads(meta["vst.pyslowfast.skipped"])
        counters = sum(1 for k in skipped if k.endswith("num_batches_tracked"))
        others = [k for k in skipped if not k.endswith("num_batches_tracked")]
        print(f"wrote {args.output}: {len(tensors)} tensors; not kept: {counters} num_batches_tracked counters"
              + (f", {', '.join(others)}" if others else ""))


if __name__ == "__main__":
    main()
