#!/usr/bin/env python3
"""PyTorch side of vst-engine's benchmark (`cargo bench -p vst-engine --bench layers`), driven line by line so that
the Rust bench can interleave PyTorch and vst runs of the same work.

Protocol on stdin/stdout: after setup the script prints `ready`; then each command line `run <case>` runs the case
once (untimed warm-up runs are the caller's business) and answers `<milliseconds>`; `quit` ends. Cases:
  conv:<i>     forward + backward (input and weight gradients) of layer i of LAYERS (conv3d, N,C,T,H,W)
  conv2d:<i>   the same layer as conv2d on N*T frames (only meaningful for 1xKxK kernels)
  step         one training step of the small Slow ResNet below (forward, cross-entropy, backward, SGD update)
Shapes and FLOP counting follow ../shared/bench/torch_layers.py (64 frames = 8 clips x 8 frames, f32).
Usage: bench_torch_engine.py --threads N"""
import argparse, sys, time
import torch
import torch.nn.functional as F

# name, input (N,C,T,H,W), weight (Cout,Cin,kT,kH,kW), stride, padding
LAYERS = [
    ("stem 1x7x7 s1x2x2 3->64 @112", (8, 3, 8, 112, 112), (64, 3, 1, 7, 7), (1, 2, 2), (0, 3, 3)),
    ("1x3x3 64->64 @28", (8, 64, 8, 28, 28), (64, 64, 1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("1x1x1 256->256 @14", (8, 256, 8, 14, 14), (256, 256, 1, 1, 1), (1, 1, 1), (0, 0, 0)),
    ("3x1x1 1024->256 @7", (8, 1024, 8, 7, 7), (256, 1024, 3, 1, 1), (1, 1, 1), (1, 0, 0)),
    # The mini study's (Slow R-18 x 1/4, 4x32^2 clips, 32 videos x 2 views = 64 clips) stem and a res2 conv.
    ("mini stem 1x7x7 s1x2x2 3->16 @32", (64, 3, 4, 32, 32), (16, 3, 1, 7, 7), (1, 2, 2), (0, 3, 3)),
    ("mini 1x3x3 16->16 @8", (64, 16, 4, 8, 8), (16, 16, 1, 3, 3), (1, 1, 1), (0, 1, 1)),
]

# The small Slow ResNet of the training-step row: (in, inner, out, temporal kernel, spatial stride) per stage.
STAGES = [(32, 16, 64, 1, 1), (64, 32, 128, 1, 2), (128, 64, 256, 3, 2), (256, 128, 512, 3, 2)]
STEP_INPUT = (8, 3, 8, 112, 112)
CLASSES = 10


class Bottleneck(torch.nn.Module):
    def __init__(self, cin, inner, cout, kt, stride):
        super().__init__()
        self.a = torch.nn.Conv3d(cin, inner, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.bn_a = torch.nn.BatchNorm3d(inner)
        self.b = torch.nn.Conv3d(inner, inner, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.bn_b = torch.nn.BatchNorm3d(inner)
        self.c = torch.nn.Conv3d(inner, cout, 1, bias=False)
        self.bn_c = torch.nn.BatchNorm3d(cout)
        self.s = torch.nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False)
        self.bn_s = torch.nn.BatchNorm3d(cout)

    def forward(self, x):
        y = F.relu(self.bn_a(self.a(x)))
        y = F.relu(self.bn_b(self.b(y)))
        y = self.bn_c(self.c(y))
        return F.relu(y + self.bn_s(self.s(x)))


class SmallSlowResNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv3d(3, 32, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.stem_bn = torch.nn.BatchNorm3d(32)
        self.blocks = torch.nn.Sequential(*[Bottleneck(*s) for s in STAGES])
        self.head = torch.nn.Linear(512, CLASSES)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem(x)))
        x = F.max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1))
        return self.head(self.blocks(x).mean((2, 3, 4)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    convs = []
    for _, xs, ws, s, p in LAYERS:
        x = torch.randn(*xs).requires_grad_(True)
        w = (torch.randn(*ws) * (2.0 / (ws[1] * ws[2] * ws[3] * ws[4])) ** 0.5).requires_grad_(True)
        convs.append((x, w, s, p))
    model = SmallSlowResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    clips = torch.randn(*STEP_INPUT)
    labels = torch.randint(0, CLASSES, (STEP_INPUT[0],))

    def conv(i):
        x, w, s, p = convs[i]
        F.conv3d(x, w, stride=s, padding=p).sum().backward()
        x.grad = None; w.grad = None

    def conv2d(i):
        x3, w3, s, p = convs[i]
        n, c, t, h, wd = x3.shape
        x = x3.detach().permute(0, 2, 1, 3, 4).reshape(n * t, c, h, wd).contiguous().requires_grad_(True)
        w = w3.detach()[:, :, 0].contiguous().requires_grad_(True)
        t0 = time.perf_counter()
        F.conv2d(x, w, stride=s[1:], padding=p[1:]).sum().backward()
        return time.perf_counter() - t0

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(clips), labels).backward()
        opt.step()

    print(f"ready torch {torch.__version__} threads {torch.get_num_threads()}", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        case = cmd[1]
        if case.startswith("conv2d:"):
            dt = conv2d(int(case[7:]))
        else:
            t0 = time.perf_counter()
            if case.startswith("conv:"):
                conv(int(case[5:]))
            elif case == "step":
                step()
            else:
                print(f"error unknown case {case}", flush=True)
                continue
            dt = time.perf_counter() - t0
        print(f"{dt * 1e3:.3f}", flush=True)


if __name__ == "__main__":
    main()
