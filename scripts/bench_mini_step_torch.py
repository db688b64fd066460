#!/usr/bin/env python3
"""PyTorch twin of vst's mini training step (`cargo bench -p vst-runtime --bench mini_step`), driven line by line
so that the Rust bench can interleave PyTorch and vst steps of the same work.

The same network and step as vst's `Preset::Mini` (runtime/src/bench.rs, settings of recipes/mini/base.vst):
- Slow ResNet (runtime/src/model/resnet.rs, the table of compiler/spec/src/arch.rs): stem conv 1x7x7 stride 1x2x2
  + BN + ReLU, max-pool 1x3x3 stride 1x2x2; res2..res5 (R-18/34 basic blocks: a = [kt,3,3] with the stage's
  spatial stride, b = [1,3,3]; R-50/101 bottlenecks: a = [kt,1,1], b = [1,3,3] strided, c = 1x1x1, 4x expansion);
  kt = 3 in res4 and res5; projection shortcut (1x1x1 + BN) where shape changes; global average pool.
- Heads mlp(layers: 2, hidden, out): Linear (no bias when BN follows) + BN + ReLU + Linear; MoCo without BN.
- Every view is its own batch-norm batch (forwarded separately), through the online and (MoCo, BYOL) the momentum
  encoder (training-mode BN, no gradient), momentum update before the keys are computed.
- SimCLR: NT-Xent of consecutive clip pairs (T 0.2), summed. MoCo: every clip a query against the other clips'
  keys and a 128-key queue (T 0.2), summed over queries; all keys enqueued. BYOL: 2 - 2 cos over ordered pairs,
  summed over queries. SwAV: 32 prototypes (re-normalised every step), Sinkhorn (eps 0.05, 3 iterations) codes of
  clips 0 and 1 with a 256-row queue of past embeddings prepended, predicted by the other clips (T 0.2).
- SGD, momentum 0.9, Nesterov, weight decay 1e-4 except on BN parameters; lr 0.1 (SimCLR) or 0.3.

Protocol on stdin/stdout: after setup the script prints `ready ...`; then each line `run <objective>` runs one
step and answers `<milliseconds>`; `quit` ends.
Usage: bench_mini_step_torch.py --threads N --depth 18 --width 0.25 --frames 4 --size 32 --batch 32 --clips 2
       [--head-hidden 128 --head-out 64] [--objectives simclr,moco,byol,swav]"""
import argparse, copy, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv(cin, cout, kernel, stride=(1, 1, 1)):
    return nn.Conv3d(cin, cout, kernel, stride=stride, padding=tuple(k // 2 for k in kernel), bias=False)


class ConvBn(nn.Module):
    def __init__(self, cin, cout, kernel, stride=(1, 1, 1), relu=True):
        super().__init__()
        self.conv, self.bn, self.relu = conv(cin, cout, kernel, stride), nn.BatchNorm3d(cout), relu

    def forward(self, x):
        y = self.bn(self.conv(x))
        return F.relu(y) if self.relu else y


class Block(nn.Module):
    def __init__(self, basic, cin, inner, cout, kt, s):
        super().__init__()
        stride = (1, s, s)
        if basic:
            self.branch2 = nn.Sequential(ConvBn(cin, inner, (kt, 3, 3), stride), ConvBn(inner, cout, (1, 3, 3), relu=False))
        else:
            self.branch2 = nn.Sequential(
                ConvBn(cin, inner, (kt, 1, 1)),
                ConvBn(inner, inner, (1, 3, 3), stride),
                ConvBn(inner, cout, (1, 1, 1), relu=False),
            )
        self.branch1 = ConvBn(cin, cout, (1, 1, 1), stride, relu=False) if cin != cout or s != 1 else None

    def forward(self, x):
        short = x if self.branch1 is None else self.branch1(x)
        return F.relu(self.branch2(x) + short)


class SlowResNet(nn.Module):
    def __init__(self, depth, width):
        super().__init__()
        basic = depth in (18, 34)
        counts = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}[depth]
        ch = lambda c: int(round(c * width))
        self.stem = ConvBn(3, ch(64), (1, 7, 7), (1, 2, 2))
        blocks, cin = [], ch(64)
        for i, n in enumerate(counts):
            inner = ch(64 << i)
            cout = inner if basic else ch(256 << i)
            kt = 3 if i >= 2 else 1
            for b in range(n):
                blocks.append(Block(basic, cin, inner, cout, kt, 2 if i > 0 and b == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.dim = cin

    def forward(self, x):
        x = F.max_pool3d(self.stem(x), (1, 3, 3), (1, 2, 2), (0, 1, 1))
        return self.blocks(x).mean((2, 3, 4))


def mlp(cin, hidden, out, bn):
    if bn:
        return nn.Sequential(nn.Linear(cin, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out))
    return nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(), nn.Linear(hidden, out))


class Encoder(nn.Module):
    def __init__(self, a, bn_head):
        super().__init__()
        self.backbone = SlowResNet(a.depth, a.width)
        self.head = mlp(self.backbone.dim, a.head_hidden, a.head_out, bn_head)

    def forward(self, x):
        return self.head(self.backbone(x))


def sgd(params_module_list, lr):
    decay, no_decay = [], []
    for m in params_module_list:
        for mod in m.modules():
            for p in mod.parameters(recurse=False):
                (no_decay if isinstance(mod, nn.modules.batchnorm._BatchNorm) else decay).append(p)
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, momentum=0.9, nesterov=True,
    )


class Step:
    """One objective's model, optimiser and state."""

    def __init__(self, objective, a):
        self.objective, self.a = objective, a
        self.online = Encoder(a, bn_head=objective != "moco")
        modules = [self.online]
        self.target = None
        if objective in ("moco", "byol"):
            self.target = copy.deepcopy(self.online)
            for p in self.target.parameters():
                p.requires_grad_(False)
            self.m = 0.98
        if objective == "byol":
            self.predictor = mlp(a.head_out, a.head_hidden, a.head_out, True)
            modules.append(self.predictor)
        extra = []
        if objective == "moco":
            stdv = 1.0 / (a.head_out / 3) ** 0.5
            self.queue = torch.rand(128, a.head_out) * 2 * stdv - stdv
            self.ptr = 0
        if objective == "swav":
            self.prototypes = nn.Parameter(F.normalize(torch.randn(32, a.head_out), dim=1))
            extra.append(self.prototypes)
            self.queue = F.normalize(torch.randn(256, a.head_out), dim=1)
            self.ptr = 0
        self.opt = sgd(modules, 0.1 if objective == "simclr" else 0.3)
        if extra:
            self.opt.add_param_group({"params": extra, "weight_decay": 1e-4})
        v, n = a.clips, a.batch
        clips = torch.randn(n, v, 3, a.frames, a.size, a.size)
        self.views = [clips[:, j].contiguous() for j in range(v)]

    @torch.no_grad()
    def momentum_update(self):
        on, tg = list(self.online.parameters()), list(self.target.parameters())
        torch._foreach_mul_(tg, self.m)
        torch._foreach_add_(tg, on, alpha=1 - self.m)

    def enqueue(self, rows):
        k = rows.shape[0]
        idx = (torch.arange(k) + self.ptr) % self.queue.shape[0]
        self.queue[idx] = rows
        self.ptr = (self.ptr + k) % self.queue.shape[0]

    def loss(self):
        a, views, v, n = self.a, self.views, self.a.clips, self.a.batch
        z = [self.online(x) for x in views]
        if self.objective == "simclr":
            total = 0.0
            for k in range(v - 1):
                zn = F.normalize(torch.cat([z[k], z[k + 1]]), dim=1)
                sim = zn @ zn.t() / 0.2
                sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
                labels = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
                total = total + F.cross_entropy(sim, labels)
            return total
        if self.objective in ("moco", "byol"):
            self.momentum_update()
            with torch.no_grad():
                keys = [F.normalize(self.target(x), dim=1) for x in views]
        if self.objective == "moco":
            total = 0.0
            for q in range(v):
                qn = F.normalize(z[q], dim=1)
                neg = qn @ self.queue.t()
                rows = []
                for p in range(v):
                    if p != q:
                        pos = (qn * keys[p]).sum(1, keepdim=True)
                        rows.append(torch.cat([pos, neg], 1))
                logits = torch.cat(rows) / 0.2
                total = total + F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long))
            self.pending = torch.cat(keys)
            return total
        if self.objective == "byol":
            total = 0.0
            for q in range(v):
                pn = F.normalize(self.predictor(z[q]), dim=1)
                cos = torch.cat([(pn * keys[p]).sum(1) for p in range(v) if p != q])
                total = total + (2 - 2 * cos).mean()
            return total
        # SwAV
        with torch.no_grad():
            self.prototypes.copy_(F.normalize(self.prototypes, dim=1))
        zn = [F.normalize(x, dim=1) for x in z]
        scores = [x @ self.prototypes.t() for x in zn]
        with torch.no_grad():
            queue_scores = self.queue @ self.prototypes.t()
        total, pairs = 0.0, 0
        for j in range(min(2, v)):
            with torch.no_grad():
                q = sinkhorn(torch.cat([queue_scores, scores[j].detach()]))[-n:]
            for p in range(v):
                if p != j:
                    total = total - (q * F.log_softmax(scores[p] / 0.2, dim=1)).sum(1).mean()
                    pairs += 1
        self.pending = torch.cat(zn).detach()
        return total / pairs

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss()
        loss.backward()
        self.opt.step()
        if self.objective in ("moco", "swav"):
            self.enqueue(self.pending)
        return loss.item()


@torch.no_grad()
def sinkhorn(scores, eps=0.05, iterations=3):
    q = torch.exp((scores - scores.max()) / eps).t()
    q /= q.sum()
    k, b = q.shape
    for _ in range(iterations):
        q /= q.sum(dim=1, keepdim=True)
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= b
    return (q / q.sum(dim=0, keepdim=True)).t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--depth", type=int, default=18)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--head-hidden", type=int, default=128)
    ap.add_argument("--head-out", type=int, default=64)
    ap.add_argument("--objectives", default="simclr,moco,byol,swav")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    steps = {o: Step(o, a) for o in a.objectives.split(",")}
    print(f"ready torch {torch.__version__} threads {torch.get_num_threads()}", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        step = steps.get(cmd[1])
        if step is None:
            print(f"error unknown objective {cmd[1]}", flush=True)
            continue
        t0 = time.perf_counter()
        step.step()
        print(f"{(time.perf_counter() - t0) * 1e3:.3f}", flush=True)


if __name__ == "__main__":
    main()
