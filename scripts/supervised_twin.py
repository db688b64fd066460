#!/usr/bin/env python3
"""Supervised PyTorch twin of a vst mini backbone: trains the same Slow ResNet (vst_spec::arch: stem 1×7×7 stride
1×2×2 + BN + ReLU + max-pool 1×3×3 stride 1×2×2, basic blocks or bottlenecks, temporal kernel 3 in the first conv of
every res4/res5 block, global average pool) from scratch with labels on a Kinetics-style frame-folder dataset and
prints its validation top-1.

It answers one question before any self-supervised run: can this network, at this crop, frame count and step
budget, learn the dataset's classes at all? If supervised training cannot, no self-supervised trend measured
with it says anything about the data.

    python3 scripts/supervised_twin.py data/moving_digits --depth 18 --width 0.25 --frames 4 --stride 4 --crop 32

Clip sampling and augmentation follow vst's mini recipes: a random start, T frames τ apart, a random resized crop
(area 0.3–1, aspect 3/4–4/3) of the frame scaled to crop², optional horizontal flip; validation takes the whole
frame scaled to crop² at evenly spaced clip starts (the scores of a video's clips are averaged).
"""

import argparse
import glob
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


def load_split(root, split, cache):
    """All frames of a split as uint8 [videos, frames, H, W, 3] plus labels (cached as .npy next to the data)."""
    path = os.path.join(cache, f"{split}.npz")
    if os.path.exists(path):
        z = np.load(path)
        return z["x"], z["y"]
    entries = []
    with open(os.path.join(root, f"{split}.csv")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, label = line.replace(",", " ").rsplit(None, 1)
                entries.append((name, int(label)))
    videos = []
    for name, _ in entries:
        files = sorted(glob.glob(os.path.join(root, name, "*.jpg")))
        videos.append(np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]))
    x = np.stack(videos)
    y = np.asarray([label for _, label in entries], dtype=np.int64)
    os.makedirs(cache, exist_ok=True)
    np.savez(path, x=x, y=y)
    return x, y


def scaled(c, width):
    return int(round(c * width))


class Unit(nn.Sequential):
    """conv (no bias) + BN (+ ReLU)."""

    def __init__(self, cin, cout, kernel, stride, relu):
        pad = tuple(k // 2 for k in kernel)
        layers = [nn.Conv3d(cin, cout, kernel, stride, pad, bias=False), nn.BatchNorm3d(cout)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Block(nn.Module):
    def __init__(self, kind, cin, inner, cout, temporal, stride):
        super().__init__()
        s = (1, stride, stride)
        if kind == "basic":
            self.branch2 = nn.Sequential(Unit(cin, inner, (temporal, 3, 3), s, True),
                                         Unit(inner, inner, (1, 3, 3), (1, 1, 1), False))
        else:
            self.branch2 = nn.Sequential(Unit(cin, inner, (temporal, 1, 1), (1, 1, 1), True),
                                         Unit(inner, inner, (1, 3, 3), s, True),
                                         Unit(inner, cout, (1, 1, 1), (1, 1, 1), False))
        self.branch1 = Unit(cin, cout, (1, 1, 1), s, False) if cin != cout or stride != 1 else None

    def forward(self, x):
        shortcut = x if self.branch1 is None else self.branch1(x)
        return F.relu(shortcut + self.branch2(x))


class SlowResNet(nn.Module):
    def __init__(self, depth, width, classes, pool=True):
        super().__init__()
        kind, blocks = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]),
                        50: ("bottleneck", [3, 4, 6, 3])}[depth]
        stem = scaled(64, width)
        self.stem = nn.Sequential(Unit(3, stem, (1, 7, 7), (1, 2, 2), True),
                                  nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)) if pool else nn.Identity())
        layers, cin = [], stem
        for i, count in enumerate(blocks):
            inner = scaled(64 << i, width)
            cout = inner if kind == "basic" else scaled(256 << i, width)
            for b in range(count):
                stride = 2 if i > 0 and b == 0 else 1
                layers.append(Block(kind, cin, inner, cout, 3 if i >= 2 else 1, stride))
                cin = cout
        self.stages = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(x.mean(dim=(2, 3, 4)))


def clip_indices(frames, t, stride, start):
    return start + stride * np.arange(t)


def train_batch(x, y, idx, args, rng):
    """Random clips, random resized crops and flips of videos `idx`: float [B, 3, T, crop, crop]."""
    n_frames, h, w = x.shape[1], x.shape[2], x.shape[3]
    span = (args.frames - 1) * args.stride + 1
    out = []
    for v in idx:
        start = rng.integers(0, n_frames - span + 1)
        clip = torch.from_numpy(x[v, clip_indices(n_frames, args.frames, args.stride, start)])
        clip = clip.permute(3, 0, 1, 2).float() / 255.0  # 3, T, H, W
        for _ in range(10):
            area = rng.uniform(args.area_min, 1.0) * h * w
            aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            cw, ch = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                break
        else:
            cw, ch = w, h
        x0, y0 = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
        crop = clip[:, :, y0:y0 + ch, x0:x0 + cw]
        crop = F.interpolate(crop, size=(args.crop, args.crop), mode="bilinear", align_corners=False)
        if args.flip and rng.uniform() < 0.5:
            crop = crop.flip(-1)
        out.append(crop)
    batch = torch.stack(out)
    mean = torch.tensor([0.45, 0.45, 0.45]).view(1, 3, 1, 1, 1)
    std = torch.tensor([0.225, 0.225, 0.225]).view(1, 3, 1, 1, 1)
    return (batch - mean) / std, torch.from_numpy(y[idx])


@torch.no_grad()
def evaluate(model, x, y, args, clips=3):
    model.eval()
    n_frames = x.shape[1]
    span = (args.frames - 1) * args.stride + 1
    starts = np.linspace(0, n_frames - span, clips).round().astype(int)
    mean = torch.tensor([0.45, 0.45, 0.45]).view(1, 3, 1, 1, 1)
    std = torch.tensor([0.225, 0.225, 0.225]).view(1, 3, 1, 1, 1)
    scores = torch.zeros(len(x), model.fc.out_features)
    single = 0
    for k, start in enumerate(starts):
        for b in range(0, len(x), 64):
            clip = torch.from_numpy(x[b:b + 64][:, clip_indices(n_frames, args.frames, args.stride, start)])
            clip = clip.permute(0, 4, 1, 2, 3).float() / 255.0
            n, c, t, h, w = clip.shape
            clip = F.interpolate(clip.reshape(n, c * t, h, w), size=(args.crop, args.crop), mode="bilinear",
                                 align_corners=False).reshape(n, c, t, args.crop, args.crop)
            s = F.softmax(model((clip - mean) / std), dim=1)
            scores[b:b + 64] += s
            if k == clips // 2:
                single += (s.argmax(1).numpy() == y[b:b + 64]).sum()
    model.train()
    return 100.0 * (scores.argmax(1).numpy() == y).mean(), 100.0 * single / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", help="dataset folder with train.csv, val.csv and frame folders")
    p.add_argument("--depth", type=int, default=18)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--crop", type=int, default=32)
    p.add_argument("--area-min", type=float, default=0.3)
    p.add_argument("--flip", action="store_true")
    p.add_argument("--no-pool", action="store_true", help="drop the stem's max-pool (an architecture variant)")
    p.add_argument("--steps", type=int, default=360)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--wd", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=24, help="warm-up steps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=0)
    p.add_argument("--cache", default=None, help="where decoded frames are cached (default ROOT/.twin-cache)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    cache = args.cache or os.path.join(args.root, ".twin-cache")
    xt, yt = load_split(args.root, "train", cache)
    xv, yv = load_split(args.root, "val", cache)
    classes = int(max(yt.max(), yv.max())) + 1
    model = SlowResNet(args.depth, args.width, classes, pool=not args.no_pool)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    started = time.time()
    order = rng.permutation(len(xt))
    pos = 0
    for step in range(args.steps):
        if pos + args.batch > len(order):
            order, pos = rng.permutation(len(xt)), 0
        idx = order[pos:pos + args.batch]
        pos += args.batch
        lr = args.lr * (step + 1) / args.warmup if step < args.warmup else \
            args.lr * 0.5 * (1 + math.cos(math.pi * (step - args.warmup) / max(1, args.steps - args.warmup)))
        for g in opt.param_groups:
            g["lr"] = lr
        xb, yb = train_batch(xt, yt, idx, args, rng)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not torch.isfinite(loss):
            sys.exit(f"error: the loss is {loss.item()} at step {step}")
        if args.eval_every and (step + 1) % args.eval_every == 0:
            top1, top1_single = evaluate(model, xv, yv, args)
            print(f"step {step + 1}: loss {loss.item():.3f}, val top-1 {top1:.1f} ({top1_single:.1f} one clip)",
                  flush=True)
    top1, top1_single = evaluate(model, xv, yv, args)
    print(f"R-{args.depth} x{args.width} {args.frames}x{args.stride} {args.crop}² {args.steps} steps of "
          f"{args.batch} (lr {args.lr}, flip {args.flip}): val top-1 {top1:.1f} % over {len(xv)} videos "
          f"(3 clips; {top1_single:.1f} % one clip), {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
