#!/usr/bin/env python3
"""PyTorch reference of PySlowFast's MoCo shuffle-BN across 2 GPUs, emulated in one process, as a fixture for
runtime/tests/shuffle_bn.rs (runtime/tests/fixtures/shuffle_bn.safetensors).

Run from the repository root:  python3 scripts/make_shuffle_bn_fixtures.py   (deterministic; CPU, seconds)

What it mirrors (facebookresearch/SlowFast, slowfast/models/contrastive.py; our own code, from their semantics):
  _batch_shuffle(x)    x_gather = concat_all_gather(x) (every GPU's videos in rank order); idx_shuffle =
                       torch.randperm(batch_size_all) drawn on rank 0 and broadcast; GPU r keeps
                       x_gather[idx_shuffle.view(num_gpus, -1)[r]]; idx_unshuffle = argsort(idx_shuffle).
  key encoder          the momentum encoder (backbone_hist) in training mode on each GPU's shuffled share: its batch
                       norm normalises over that GPU's 4 videos (per-GPU BN, the official MoCo setting).
  _batch_unshuffle(x)  x_gather = all_gather(x); GPU r keeps x_gather[idx_unshuffle.view(num_gpus, -1)[r]] — so the
                       keys of every GPU, concatenated, are the whole batch's keys in video order.

The model is the tiny Slow R-50 of scripts/parity_pyslowfast.py (MoCo's heads); its momentum encoder is perturbed
away from the online network so a test that read the wrong encoder fails. Stored: the weights (vst layout), the input
view (8 videos, channels last), the permutation, the keys with shuffle-BN, and the keys without shuffling (each GPU
normalising its own 4 videos), which differ from the shuffled ones — the test checks that it can tell them apart.
Computed in float64; inputs and weights are float32 values.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import parity_pyslowfast as ref  # noqa: E402  (its main is guarded)
from convert_pyslowfast import to_vst  # noqa: E402

OUT = os.path.join(HERE, "..", "runtime", "tests", "fixtures", "shuffle_bn.safetensors")
GPUS, VIDEOS = 2, 8


def keys_on_gpus(encoder, x_all, perm):
    """Every GPU's keys of its share of `x_all[perm]` (or of `x_all` when perm is None), gathered in rank order and,
    with a permutation, put back in video order."""
    order = perm if perm is not None else torch.arange(VIDEOS)
    per_gpu = order.view(GPUS, -1)
    gathered = torch.cat([ref.encode(encoder, x_all[idx])[0] for idx in per_gpu])
    return gathered[torch.argsort(order)] if perm is not None else gathered


def main():
    torch.manual_seed(7)
    model = ref.initial_model("moco")
    with torch.no_grad():
        for p in model.backbone_hist.parameters():
            p.mul_(1.0 + 0.2 * torch.rand_like(p))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    tensors, meta = to_vst(state)

    x = torch.randn(VIDEOS, ref.C, ref.T_FRAMES, ref.H, ref.W, generator=torch.Generator().manual_seed(8))
    perm = torch.randperm(VIDEOS, generator=torch.Generator().manual_seed(9))
    model = model.double()
    model.train()
    with torch.no_grad():
        shuffled = keys_on_gpus(model.backbone_hist, x.double(), perm)
        unshuffled = keys_on_gpus(model.backbone_hist, x.double(), None)

    tensors["x"] = x.permute(0, 2, 3, 4, 1).contiguous().float()
    tensors["perm"] = perm.float()
    tensors["keys_shuffled"] = shuffled.float()
    tensors["keys_unshuffled"] = unshuffled.float()
    cfg = ref.OBJECTIVES["moco"]
    meta["cases"] = json.dumps(dict(gpus=GPUS, videos=VIDEOS, frames=ref.T_FRAMES, side=ref.H, width=ref.WIDTH,
                                    head=cfg["head"], queue_len=cfg["queue_len"], temperature=cfg["temperature"],
                                    shuffled_vs_unshuffled=float((shuffled - unshuffled).abs().max())))
    ref.write_safetensors(OUT, tensors, meta)
    print(f"wrote {OUT}: keys {tuple(shuffled.shape)}, shuffled vs unshuffled differ by "
          f"{float((shuffled - unshuffled).abs().max()):.3g}")


if __name__ == "__main__":
    main()
