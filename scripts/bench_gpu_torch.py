#!/usr/bin/env python3
"""PyTorch + cuDNN yardstick for vst's GPU benchmark (run by scripts/gpu-check.sh on the GPU machine).

Workloads, each one training step on one GPU, timed after warm-up (cudnn.benchmark on, as vst benchmarks cuDNN's
algorithms too):
  backbone  Slow R-50 8x8 forward + backward on B clips (the same network and loss as `vst-cuda-check bench`).
  byol      the BYOL rho = 2 step of the paper: B videos, 2 clips each; online encoder (backbone + projection MLP
            2048-4096-256 with BN) and predictor (256-4096-256), momentum target encoder, symmetric loss
            2 - 2 cos(p, z'), SGD with momentum, EMA update of the target.
Precisions: f32 (TF32 off everywhere, as vst's f32), tf32 (TF32 on for convolutions and matmuls), bf16
(torch.autocast bfloat16). Memory format: channels_last_3d (vst's layout) or contiguous (NCDHW), --memory-format.

Prints one JSON object per result (--json) with clips/s (backbone clips through the online encoder per second:
B per step for `backbone`, 2B for `byol`), ms/step and peak memory (torch.cuda.max_memory_allocated).
The Slow R-50 here follows PySlowFast's Slow pathway: stem 1x7x7/1,2,2 + max-pool 1x3x3/1,2,2; bottlenecks
3-4-6-3 with temporal kernel 3 in the first conv of res4/res5 blocks, spatial stride in the 3x3 conv."""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Bottleneck(nn.Module):
    def __init__(self, cin, inner, cout, kt, stride):
        super().__init__()
        self.a = nn.Conv3d(cin, inner, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.a_bn = nn.BatchNorm3d(inner)
        self.b = nn.Conv3d(inner, inner, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.b_bn = nn.BatchNorm3d(inner)
        self.c = nn.Conv3d(inner, cout, 1, bias=False)
        self.c_bn = nn.BatchNorm3d(cout)
        self.proj = None
        if cin != cout or stride != 1:
            self.proj = nn.Sequential(
                nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False), nn.BatchNorm3d(cout)
            )

    def forward(self, x):
        h = F.relu(self.a_bn(self.a(x)))
        h = F.relu(self.b_bn(self.b(h)))
        h = self.c_bn(self.c(h))
        return F.relu(h + (x if self.proj is None else self.proj(x)))


class SlowR50(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv3d(3, 64, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.stem_bn = nn.BatchNorm3d(64)
        blocks, cin = [], 64
        for i, (n, inner, kt) in enumerate([(3, 64, 1), (4, 128, 1), (6, 256, 3), (3, 512, 3)]):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(Bottleneck(cin, inner, inner * 4, kt, stride))
                cin = inner * 4
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem(x)))
        x = F.max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1))
        x = self.blocks(x)
        return x.mean(dim=(2, 3, 4))


def mlp(cin, hidden, cout):
    return nn.Sequential(nn.Linear(cin, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, cout))


class Byol(nn.Module):
    def __init__(self):
        super().__init__()
        self.online = nn.Sequential(SlowR50(), mlp(2048, 4096, 256))
        self.predictor = mlp(256, 4096, 256)
        self.target = nn.Sequential(SlowR50(), mlp(2048, 4096, 256))
        self.target.load_state_dict(self.online.state_dict())
        for p in self.target.parameters():
            p.requires_grad_(False)

    def loss(self, clips):  # clips: rho=2 tensors of B x 3 x T x H x W
        b = clips[0].shape[0]
        both = torch.cat(clips)
        p = F.normalize(self.predictor(self.online(both)), dim=1)
        with torch.no_grad():
            z = F.normalize(self.target(both), dim=1)
        z = torch.cat([z[b:], z[:b]])  # each clip's target is the other clip of its video
        return (2 - 2 * (p * z).sum(dim=1)).mean()

    @torch.no_grad()
    def update_target(self, m):
        on = [p for p in self.online.parameters()]
        tg = [p for p in self.target.parameters()]
        torch._foreach_mul_(tg, m)
        torch._foreach_add_(tg, on, alpha=1 - m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", choices=["backbone", "byol"], default="backbone")
    ap.add_argument("--precision", choices=["f32", "tf32", "bf16"], default="f32")
    ap.add_argument("--memory-format", choices=["channels_last", "contiguous"], default="channels_last")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.backends.cudnn.benchmark = True
    tf32 = a.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    dev = torch.device("cuda")
    fmt = torch.channels_last_3d if a.memory_format == "channels_last" else torch.contiguous_format
    torch.manual_seed(0)
    model = (SlowR50() if a.workload == "backbone" else Byol()).to(dev).to(memory_format=fmt)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9) if a.workload == "byol" else None
    shape = (a.batch, 3, a.frames, a.size, a.size)
    host = [torch.randn(shape).pin_memory() for _ in range(2)]

    def step():
        clips = [h.to(dev, non_blocking=True).contiguous(memory_format=fmt) for h in host]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            if a.workload == "backbone":
                loss = model(clips[0]).mean()
            else:
                loss = model.loss(clips)
        loss.backward()
        if opt is not None:
            opt.step()
            opt.zero_grad(set_to_none=True)
            model.update_target(0.996)
        else:
            for p in params:
                p.grad = None
        return loss.item()  # synchronises, as vst's bench does

    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        last = step()
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    clips_per_step = a.batch * (2 if a.workload == "byol" else 1)
    row = {
        "impl": f"torch {torch.__version__} ({a.memory_format})",
        "workload": "backbone fwd+bwd" if a.workload == "backbone" else "BYOL rho=2 step",
        "precision": a.precision,
        "batch": a.batch,
        "frames": a.frames,
        "size": a.size,
        "clips_per_s": round(clips_per_step * a.steps / dt, 3),
        "ms_per_step": round(dt * 1000 / a.steps, 3),
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
        "gpu": torch.cuda.get_device_name(0),
        "loss": last,
    }
    print(json.dumps(row) if a.json else row)


if __name__ == "__main__":
    main()
