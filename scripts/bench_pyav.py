#!/usr/bin/env python3
"""The PyAV + PyTorch baseline of the data pipeline benchmark (run by `cargo bench -p vst-data --bench pipeline`).

Reads a plan written by the Rust benchmark (video paths and, per sample, the frame indices of each clip), then for
every clip: seeks with PyAV to the keyframe before its first frame, decodes up to its last frame, converts only the
clip's frames to RGB, and applies the paper's augmentations in PyTorch exactly as the Rust pipeline does: short-side
scale jitter and random resized crop (area, log-uniform aspect, torchvision's algorithm) composed into one bilinear
resampling of the source frames (F.grid_sample), flip, colour jitter
(brightness, contrast, saturation, hue in random order, one draw per clip), grayscale, Gaussian blur (σ, kernel to
3σ, reflected borders), normalisation; output T×H×W×C float32. Prints one JSON line: clips, seconds.

Usage: bench_pyav.py PLAN.json --processes N [--decode-only]
"""
import argparse
import json
import math
import multiprocessing as mp
import random
import time

import av
import numpy as np
import torch
import torch.nn.functional as F

MEAN, STD = 0.45, 0.225


def decode_clip(container, stream, frames, to_rgb=True):
    """The frames (presentation indices, ascending) of one clip as T×H×W×3 uint8 (or the decoded frames
    themselves, unconverted, when `to_rgb` is false)."""
    rate = stream.average_rate
    tb = stream.time_base
    start = stream.start_time or 0
    ticks = 1 / (rate * tb)  # pts units per frame (constant frame rate)
    index_of = lambda pts: int(round((pts - start) / ticks))
    wanted = set(frames)
    first, last = frames[0], frames[-1]
    container.seek(int(start + first * ticks), backward=True, any_frame=False, stream=stream)
    got = {}
    for frame in container.decode(stream):
        i = index_of(frame.pts)
        if i in wanted and i not in got:
            got[i] = frame.to_ndarray(format="rgb24") if to_rgb else frame
        if i >= last and len(got) == len(wanted):
            break
    return np.stack([got[f] for f in frames]) if to_rgb else [got[f] for f in frames]


def resized_crop_params(h, w, rng, area=(0.2, 0.766), ratio=(0.75, 1.333)):
    """torchvision's RandomResizedCrop.get_params."""
    total = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = total * rng.uniform(*area)
        aspect = math.exp(rng.uniform(*log_ratio))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            return rng.randint(0, h - ch), rng.randint(0, w - cw), ch, cw
    in_ratio = w / h
    if in_ratio < ratio[0]:
        cw, ch = w, int(round(w / ratio[0]))
    elif in_ratio > ratio[1]:
        ch, cw = h, int(round(h * ratio[1]))
    else:
        cw, ch = w, h
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def gray(x):
    return (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)


def rgb_to_hsv(x):
    r, g, b = x.unbind(1)
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_div = torch.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / cr_div, (maxc - g) / cr_div, (maxc - b) / cr_div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return torch.stack((h, s, maxc), 1)


def hsv_to_rgb(x):
    h, s, v = x.unbind(1)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(torch.int32) % 6
    p = (v * (1.0 - s)).clamp(0.0, 1.0)
    q = (v * (1.0 - s * f)).clamp(0.0, 1.0)
    t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0)
    mask = i.unsqueeze(1) == torch.arange(6, dtype=torch.int32).view(-1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v), 1)
    a2 = torch.stack((t, v, v, q, p, p), 1)
    a3 = torch.stack((p, p, t, v, v, q), 1)
    a4 = torch.stack((a1, a2, a3), 1)  # T, 3, 6, H, W
    return torch.einsum("...ijk,...xijk->...xjk", mask.to(x.dtype), a4)


def blur(x, sigma):
    size = x.shape[-1]
    radius = max(1, min(math.ceil(3 * sigma), size - 1))
    d = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(d * d) / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def augment(clip, rng, size):
    """clip: T×H×W×3 uint8 → T×size×size×3 float32, the paper's T/S/C (one draw per clip)."""
    x = torch.from_numpy(clip).permute(0, 3, 1, 2).float().div_(255.0)
    h, w = x.shape[-2:]
    side = rng.randint(round(256 * size / 224), round(320 * size / 224))
    scale = side / min(h, w)
    nh, nw = round(h * scale), round(w * scale)
    i, j, ch, cw = resized_crop_params(nh, nw, rng)
    # Scale jitter and crop compose into one bilinear resampling of the source (as the Rust pipeline does),
    # rather than upscaling whole frames first: the crop's box in normalised source coordinates.
    x0, x1 = j / nw * 2 - 1, (j + cw) / nw * 2 - 1
    y0, y1 = i / nh * 2 - 1, (i + ch) / nh * 2 - 1
    theta = torch.tensor([[(x1 - x0) / 2, 0.0, (x1 + x0) / 2], [0.0, (y1 - y0) / 2, (y1 + y0) / 2]])
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), (x.shape[0], 3, size, size), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if rng.random() < 0.5:
        x = x.flip(-1)
    if rng.random() < 0.8:
        order = [0, 1, 2, 3]
        rng.shuffle(order)
        fb, fc, fs = (rng.uniform(0.4, 1.6) for _ in range(3))
        fh = rng.uniform(-0.15, 0.15)
        for op in order:
            if op == 0:
                x = (x * fb).clamp_(0, 1)
            elif op == 1:
                mean = gray(x).mean()
                x = ((x - mean) * fc + mean).clamp_(0, 1)
            elif op == 2:
                g = gray(x)
                x = (g + (x - g) * fs).clamp_(0, 1)
            else:
                hsv = rgb_to_hsv(x)
                hsv[:, 0] = torch.fmod(hsv[:, 0] + fh + 1.0, 1.0)
                x = hsv_to_rgb(hsv)
    if rng.random() < 0.2:
        x = gray(x).expand(-1, 3, -1, -1)
    if rng.random() < 0.5:
        x = blur(x, rng.uniform(0.1, 2.0))
    x = (x - MEAN) / STD
    return x.permute(0, 2, 3, 1).contiguous()


def run_sample(args):
    index, sample, size, decode_only = args
    rng = random.Random(index)
    out = []
    with av.open(sample["path"]) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        stream.codec_context.thread_count = 1
        for frames in sample["clips"]:
            if decode_only:
                out.append(decode_clip(container, stream, frames, to_rgb=False))
            else:
                out.append(augment(decode_clip(container, stream, frames), rng, size))
    return len(out)


def init_worker():
    torch.set_num_threads(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("plan")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--decode-only", action="store_true", help="decode only: no RGB conversion, no augmentation")
    args = parser.parse_args()
    with open(args.plan) as f:
        plan = json.load(f)
    size = plan["size"]
    jobs = [(i, s, size, args.decode_only) for i, s in enumerate(plan["samples"])]
    init_worker()
    # Warm-up: imports, first-call overheads, page cache.
    run_sample(jobs[0])
    started = time.perf_counter()
    if args.processes <= 1:
        clips = sum(run_sample(j) for j in jobs)
    else:
        with mp.get_context("fork").Pool(args.processes, initializer=init_worker) as pool:
            # Start the workers before the clock (a DataLoader's workers are long-lived too).
            pool.map(init_worker_noop, range(args.processes))
            started = time.perf_counter()
            clips = sum(pool.imap_unordered(run_sample, jobs, chunksize=1))
    seconds = time.perf_counter() - started
    print(json.dumps({"clips": clips, "seconds": seconds}))


def init_worker_noop(_):
    return 0


if __name__ == "__main__":
    main()
