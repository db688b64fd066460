#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for vst-runtime's model, objective and optimiser tests
(runtime/tests/fixtures/*.safetensors). The sibling of scripts/make_fixtures.py (the engine's); same conventions:
PyTorch computes in float64 on fixed random inputs, tensors are stored as float32 in vst's layouts (activations
channels-last N,T,H,W,C; convolution weights Cout,kT,kH,kW,Cin), case parameters go in the metadata as JSON.

  objectives.safetensors  SimCLR, MoCo, BYOL, SwAV over rho clips: loss and gradients w.r.t. the embeddings (and
                          SwAV's prototypes), for rho in {1, 2, 3, 4} (rho = 1: two spatial crops, so 2 views).
                          The default (official) cases follow PySlowFast's structure, not vst's: contrastive.py's
                          per-query MoCo/BYOL loss and per-pair SimCLR loss, each back-propagated by its own
                          backward() call (SEQUENTIAL: True), SwAV's single loss with codes from clips 0 and 1.
                          The other cases (`mean`, other pair rules) are vst's documented alternatives, written
                          row by row in loops independent of vst's vectorised code; they check vst's rule, not
                          the official one.
  optim.safetensors       two steps of SGD (plain and Nesterov) and of PySlowFast's LARS wrapper on conv, linear,
                          bias and batch-norm parameters; the PySlowFast learning-rate schedule at a few epochs.
  pyslowfast_slow_r50.safetensors
                          a small Slow R-50 (width 1/32) built with PySlowFast's module names, saved by torch.save
                          as a .pyth checkpoint, converted by scripts/convert_pyslowfast.py (and checked to convert
                          back exactly); its pool5 features (eval and train mode) and projection on a fixed clip.

Run from the repository root:  python3 scripts/make_model_fixtures.py"""
import json
import math
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "runtime", "tests", "fixtures")
D = torch.float64
torch.manual_seed(4321)


def to_cl(x):  # N,C,T,H,W -> N,T,H,W,C
    return x.permute(0, 2, 3, 4, 1).contiguous()


def w_cl(w):  # Cout,Cin,kT,kH,kW -> Cout,kT,kH,kW,Cin
    return w.permute(0, 2, 3, 4, 1).contiguous()


def save(name, tensors, meta):
    path = os.path.join(OUT, name)
    save_file({k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}, path,
              metadata={"cases": json.dumps(meta)})
    os.chmod(path, 0o644)
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors)")


# ------------------------------------------------------------------------------------------------------------------
# Objectives. Rows are video-major: view j of video i is row i*V + j, so z[j::V] is view j of every video.

def partners(V, rule):
    """Ordered (query view, positive view) pairs."""
    if rule == "all_pairs":
        return [(q, p) for q in range(V) for p in range(V) if p != q]
    if rule == "first_two":  # the official SwAV's crops_for_assign = [0, 1]
        return [(q, p) for q in range(2) for p in range(V) if p != q]
    return [pair for k in range(V - 1) for pair in ((k, k + 1), (k + 1, k))]


# Each reference returns the list of SUB-LOSSES the official trainer back-propagates one by one
# (contrastive_forward with SEQUENTIAL: True: one backward per query clip for MoCo/BYOL, per consecutive clip pair
# for SimCLR; SwAV is not sequential: one loss). `reduce` turns them into what is differentiated: "sum" (the
# official gradients, accumulated by separate backward() calls below) or "mean" (every (query, positive) row
# weighted equally: the paper's wording, vst's `clip_loss: mean`).

def simclr_rows(z, N, V, T, rule):
    """Per-row SimCLR losses for every ordered pair of `rule`. Consecutive: each pair (k, k+1) is the official
    two-clip NT-Xent (denominator: every other row of those two clips). All pairs: for query a with positive b the
    denominator holds b and every row of other videos (the official pos_mask / neg_mask formulation)."""
    zn = F.normalize(z, dim=1)
    s = zn @ zn.T / T
    rows = {}
    for q, p in partners(V, rule):
        for i in range(N):
            a, b = i * V + q, i * V + p
            if rule == "consecutive":
                neg = [c for c in range(N * V) if c // V != i and c % V in (q, p)]
            else:
                neg = [c for c in range(N * V) if c // V != i]
            logits = torch.cat([s[a, b].reshape(1), s[a, neg]])
            rows[(q, p, i)] = torch.logsumexp(logits, 0) - s[a, b]
    return rows


def simclr_official_pair(z, N, V, T, k):
    """The official (non-distributed) SimCLR loss of clips k and k+1, written as contrastive.py computes it."""
    zn = F.normalize(z, dim=1)
    q, q2 = zn[k::V], zn[k + 1::V]
    out = torch.cat([q, q2], dim=0)
    sim = torch.exp(out @ out.t() / T)
    mask = (torch.ones_like(sim) - torch.eye(2 * N, dtype=D)).bool()
    sim = sim.masked_select(mask).view(2 * N, -1)
    pos = torch.exp(torch.sum(q * q2, dim=-1) / T)
    pos = torch.cat([pos, pos], dim=0)
    return (-torch.log(pos / sim.sum(dim=-1))).mean()


def group(rows, N, V, rule, by):
    """Sub-losses: the mean of the rows of each query (by="query") or each unordered pair (by="pair")."""
    keys = {}
    for q, p in partners(V, rule):
        key = q if by == "query" else tuple(sorted((q, p)))
        keys.setdefault(key, []).extend(rows[(q, p, i)] for i in range(N))
    return [torch.stack(v).mean() for v in keys.values()]


def moco_rows(q_raw, k_raw, queue, N, V, T, rule):
    q, k = F.normalize(q_raw, dim=1), F.normalize(k_raw, dim=1)
    rows = {}
    for a, b in partners(V, rule):
        qa, kb = q[a::V], k[b::V]
        pos = torch.einsum("nc,nc->n", qa, kb).unsqueeze(-1)
        neg = torch.einsum("nc,kc->nk", qa, queue)
        ce = F.cross_entropy(torch.cat([pos, neg], dim=1) / T, torch.zeros(N, dtype=torch.long), reduction="none")
        for i in range(N):
            rows[(a, b, i)] = ce[i]
    return rows


def moco_official_query(q_raw, k_raw, queue, N, V, T, a):
    """The official per-query MoCo loss: the query clip a against every other clip's keys, logits stacked key by
    key, one mean cross-entropy (contrastive.py, `self.type == "moco"` with keys given)."""
    q, k = F.normalize(q_raw, dim=1), F.normalize(k_raw, dim=1)
    qa = q[a::V]
    queue_neg = torch.einsum("nc,kc->nk", qa, queue)
    logits = torch.cat([torch.cat([torch.einsum("nc,nc->n", qa, k[b::V]).unsqueeze(-1), queue_neg], dim=1)
                        for b in range(V) if b != a], dim=0) / T
    return F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long))


def byol_rows(p_raw, t_raw, N, V):
    p, t = F.normalize(p_raw, dim=1), F.normalize(t_raw, dim=1)
    rows = {}
    for a, b in partners(V, "all_pairs"):
        cos = (p[a::V] * t[b::V]).sum(dim=1)
        for i in range(N):
            rows[(a, b, i)] = 2 - 2 * cos[i]
    return rows


def byol_official_query(p_raw, t_raw, N, V, a):
    """The official per-query BYOL loss: mean over the other clips' targets of sim_loss = −mean(cos)/T, T = 0.5;
    plus 2, so that the value is vst's 2 − 2·cos (a constant: the gradient is the official one)."""
    p, t = F.normalize(p_raw, dim=1), F.normalize(t_raw, dim=1)
    others = [b for b in range(V) if b != a]
    return 2 + sum(-(p[a::V] * t[b::V]).sum(dim=1).mean() / 0.5 for b in others) / len(others)


def sinkhorn(Q, iters):
    """The official `sinkhorn` (input B x K, works on its transpose)."""
    with torch.no_grad():
        Q = Q.t().clone()
        Q /= torch.sum(Q)
        K, B = Q.shape
        r = torch.ones(K, dtype=Q.dtype) / K
        c = torch.ones(B, dtype=Q.dtype) / B
        for _ in range(iters):
            Q *= (r / torch.sum(Q, dim=1)).unsqueeze(1)
            Q *= (c / torch.sum(Q, dim=0)).unsqueeze(0)
        Q = Q / torch.sum(Q, dim=0, keepdim=True)
        return Q.t()


def swav(z_raw, prototypes, N, V, T, eps, iters, rule, queue=None):
    """One loss (the official SwAV is not sequential): for each code clip j, the mean over its predicting clips of
    the cross-entropy between j's Sinkhorn codes and the prediction's softmax; then the mean over code clips (with
    `first_two`, the official crops_for_assign = [0, 1]). Every rule here gives each code clip the same number of
    predictors except `consecutive`, whose mean is taken over all (code, predictor) pairs."""
    z = F.normalize(z_raw, dim=1)
    out = z @ prototypes.t()
    terms = []
    for j, p in partners(V, rule):
        with torch.no_grad():
            o = out[j::V].detach()
            if queue is not None:
                o = torch.cat([queue @ prototypes.detach().t(), o])
            codes = sinkhorn(torch.exp(o / eps), iters)[-N:]
        log_p = torch.log(torch.softmax(out[p::V] / T, dim=1))
        terms.append(-torch.mean(torch.sum(codes * log_p, dim=1)))
    return torch.stack(terms).mean()


def backward_sum(sub_losses, xs):
    """The official structure: one backward() per sub-loss, gradients accumulating. Returns (Σ losses, grads)."""
    for x in xs:
        x.grad = None
    for loss in sub_losses:
        loss.backward(retain_graph=True)
    return torch.stack([l.detach() for l in sub_losses]).sum(), [x.grad.clone() for x in xs]


def backward_mean(rows, xs):
    loss = torch.stack(list(rows.values())).mean()
    return loss.detach(), list(torch.autograd.grad(loss, xs))


def objective_fixtures():
    torch.manual_seed(4321)  # each fixture file its own stream: adding a case to one leaves the others as they were
    N, Dim, K, P, L = 4, 8, 12, 6, 8
    T, eps, iters = 0.1, 0.05, 3
    tensors, meta = {}, {}

    def put(name, case, loss, inputs, grads):
        tensors.update({f"{name}.{k}": v.detach() for k, v in inputs.items()})
        tensors[f"{name}.loss"] = loss.reshape(1)
        tensors.update({f"{name}.d{k}": g for k, g in grads.items()})
        meta[name] = case

    for rho in (1, 2, 3, 4):
        V = max(rho, 2)
        base = dict(rho=rho, videos=N, views=V, temperature=T)
        # SimCLR: official = consecutive pairs, one backward per pair (written as contrastive.py computes it);
        # the mean over all ordered pairs and the sum over all pairs as the other settings.
        for rule, reduce in [("consecutive", "sum"), ("all_pairs", "mean")] + \
                            ([("all_pairs", "sum"), ("consecutive", "mean")] if V >= 3 else []):
            name = f"simclr_rho{rho}_{rule}_{reduce}"
            z = torch.randn(N * V, Dim, dtype=D, requires_grad=True)
            if rule == "consecutive" and reduce == "sum":
                loss, (dz,) = backward_sum([simclr_official_pair(z, N, V, T, k) for k in range(V - 1)], [z])
            elif reduce == "sum":
                loss, (dz,) = backward_sum(group(simclr_rows(z, N, V, T, rule), N, V, rule, "pair"), [z])
            else:
                loss, (dz,) = backward_mean(simclr_rows(z, N, V, T, rule), [z])
            put(name, dict(base, kind="simclr", rule=rule, reduction=reduce), loss, {"z": z}, {"z": dz})
        # MoCo: official = every other clip's key, one backward per query clip.
        for rule, reduce in [("all_pairs", "sum"), ("all_pairs", "mean")] + \
                            ([("consecutive", "sum")] if V >= 3 else []):
            name = f"moco_rho{rho}_{rule}_{reduce}"
            q = torch.randn(N * V, Dim, dtype=D, requires_grad=True)
            k = torch.randn(N * V, Dim, dtype=D)
            stdv = 1.0 / math.sqrt(Dim / 3)
            queue = torch.rand(K, Dim, dtype=D) * 2 * stdv - stdv
            if rule == "all_pairs" and reduce == "sum":
                loss, (dq,) = backward_sum([moco_official_query(q, k, queue, N, V, T, a) for a in range(V)], [q])
            elif reduce == "sum":
                loss, (dq,) = backward_sum(group(moco_rows(q, k, queue, N, V, T, rule), N, V, rule, "query"), [q])
            else:
                loss, (dq,) = backward_mean(moco_rows(q, k, queue, N, V, T, rule), [q])
            put(name, dict(base, kind="moco", rule=rule, reduction=reduce), loss,
                {"q": q, "keys": k, "queue": queue}, {"q": dq})
        # BYOL: official = one backward per query clip against every other clip's target.
        for reduce in ("sum", "mean"):
            name = f"byol_rho{rho}_all_pairs_{reduce}"
            p = torch.randn(N * V, Dim, dtype=D, requires_grad=True)
            t = torch.randn(N * V, Dim, dtype=D)
            if reduce == "sum":
                loss, (dp,) = backward_sum([byol_official_query(p, t, N, V, a) for a in range(V)], [p])
            else:
                loss, (dp,) = backward_mean(byol_rows(p, t, N, V), [p])
            put(name, dict(rho=rho, videos=N, views=V, rule="all_pairs", reduction=reduce, kind="byol"), loss,
                {"predictions": p, "targets": t}, {"predictions": dp})
        # SwAV: official = codes of clips 0 and 1 predicted by every other clip, one loss.
        for rule in ["first_two", "all_pairs"] + (["consecutive"] if V >= 3 else []):
            name = f"swav_rho{rho}_{rule}"
            z = torch.randn(N * V, Dim, dtype=D, requires_grad=True)
            protos = F.normalize(torch.randn(P, Dim, dtype=D), dim=1).requires_grad_(True)
            loss = swav(z, protos, N, V, T, eps, iters, rule)
            loss, (dz, dp) = backward_sum([loss], [z, protos])
            put(name, dict(base, kind="swav", rule=rule, epsilon=eps, iterations=iters), loss,
                {"z": z, "prototypes": protos}, {"z": dz, "prototypes": dp})

    # SwAV with a queue of past (normalised) embeddings prepended to every Sinkhorn input.
    name, V = "swav_rho2_all_pairs_queue", 2
    z = torch.randn(N * V, Dim, dtype=D, requires_grad=True)
    protos = F.normalize(torch.randn(P, Dim, dtype=D), dim=1).requires_grad_(True)
    queue = F.normalize(torch.randn(L, Dim, dtype=D), dim=1)
    loss, (dz, dp) = backward_sum([swav(z, protos, N, V, T, eps, iters, "all_pairs", queue)], [z, protos])
    put(name, dict(rho=2, videos=N, views=V, rule="all_pairs", temperature=T, kind="swav", epsilon=eps,
                   iterations=iters), loss, {"z": z, "prototypes": protos, "queue": queue},
        {"z": dz, "prototypes": dp})

    # Sinkhorn alone (codes of a batch).
    scores = F.normalize(torch.randn(10, Dim, dtype=D), dim=1) @ F.normalize(torch.randn(P, Dim, dtype=D), dim=1).t()
    tensors["sinkhorn.scores"] = scores
    tensors["sinkhorn.codes"] = sinkhorn(torch.exp(scores / eps), iters)
    meta["sinkhorn"] = dict(kind="sinkhorn", epsilon=eps, iterations=iters)
    save("objectives.safetensors", tensors, meta)


# ------------------------------------------------------------------------------------------------------------------
# Optimisers: PySlowFast's parameter groups and LARS wrapper (slowfast/models/optimizer.py).

def lars_step(sgd, trust, eps=1e-8):
    """PySlowFast's LARS (NVIDIA LARC, clip=False, 1-D parameters ignored) around a torch SGD."""
    with torch.no_grad():
        saved = []
        for group in sgd.param_groups:
            wd = group["weight_decay"]
            saved.append(wd)
            if not group["apply_LARS"]:
                continue
            group["weight_decay"] = 0
            for p in group["params"]:
                if p.grad is None or p.ndim == 1:
                    continue
                pn, gn = torch.norm(p.data), torch.norm(p.grad.data)
                if pn != 0 and gn != 0:
                    ratio = trust * pn / (gn + pn * wd + eps)
                    p.grad.data += wd * p.data
                    p.grad.data *= ratio
        sgd.step()
        for group, wd in zip(sgd.param_groups, saved):
            group["weight_decay"] = wd


def optim_fixtures():
    torch.manual_seed(4322)  # each fixture file its own stream: adding a case to one leaves the others as they were
    shapes = {"conv.weight": (4, 3, 1, 3, 3), "fc.weight": (5, 6), "fc.bias": (5,), "fc2.weight": (3, 5),
              "bn.weight": (4,), "bn.bias": (4,)}
    roles = {"conv.weight": "weight", "fc.weight": "weight", "fc.bias": "bias", "fc2.weight": "weight",
             "bn.weight": "bn_scale", "bn.bias": "bn_shift"}
    init = {n: torch.randn(*s, dtype=D) * 0.5 for n, s in shapes.items()}
    init["bn.weight"] = torch.rand(4, dtype=D) + 0.5
    step_grads = [{n: torch.randn(*s, dtype=D) * 0.1 for n, s in shapes.items()} for _ in range(2)]
    step_grads[0]["fc2.weight"].zero_()  # LARS leaves a zero gradient unscaled (and undecayed)
    cases = {
        "sgd": dict(kind="sgd", momentum=0.9, weight_decay=1e-3, nesterov=False, lrs=[0.5, 0.3]),
        "sgd_nesterov": dict(kind="sgd", momentum=0.9, weight_decay=1e-3, nesterov=True, lrs=[0.5, 0.3]),
        "lars": dict(kind="lars", momentum=0.9, weight_decay=1e-3, trust=0.001, lrs=[4.8, 3.0]),
        "lars_trust02": dict(kind="lars", momentum=0.9, weight_decay=1e-6, trust=0.02, lrs=[0.6, 0.4]),
        "lars_nesterov": dict(kind="lars", momentum=0.9, weight_decay=1e-6, trust=0.02, nesterov=True,
                              lrs=[0.6, 0.4]),
    }
    layout = lambda n, t: w_cl(t) if t.dim() == 5 else t
    tensors = {}
    for n in shapes:
        tensors[f"init.{n}"] = layout(n, init[n])
        for s in range(2):
            tensors[f"grad{s}.{n}"] = layout(n, step_grads[s][n])
    for case, c in cases.items():
        params = {n: init[n].clone().requires_grad_(True) for n in shapes}
        bn = [params[n] for n in shapes if roles[n].startswith("bn")]
        other = [params[n] for n in shapes if not roles[n].startswith("bn")]
        lars = c["kind"] == "lars"
        groups = [dict(params=bn, weight_decay=0.0, apply_LARS=False),
                  dict(params=other, weight_decay=c["weight_decay"], apply_LARS=lars)]
        sgd = torch.optim.SGD(groups, lr=c["lrs"][0], momentum=c["momentum"], weight_decay=c["weight_decay"],
                              nesterov=c.get("nesterov", False))
        for s, lr in enumerate(c["lrs"]):
            for g in sgd.param_groups:
                g["lr"] = lr
            for n, p in params.items():
                p.grad = step_grads[s][n].clone()
            if lars:
                lars_step(sgd, c["trust"])
            else:
                sgd.step()
            for n, p in params.items():
                tensors[f"{case}.step{s}.{n}"] = layout(n, p.detach().clone())
    # PySlowFast's learning rate (slowfast/utils/lr_policy.py, cosine, warm-up from WARMUP_START_LR).
    base, start, warm, max_epoch = 4.8, 0.001, 35.0, 200.0
    cos = lambda e: base * (math.cos(math.pi * e / max_epoch) + 1.0) * 0.5
    lr_at = lambda e: start + e * (cos(warm) - start) / warm if e < warm else cos(e)
    epochs = [0.0, 0.5, 17.25, 34.9, 35.0, 100.0, 150.5, 199.99]
    schedule = dict(base_lr=base, warmup_start_lr=start, warmup_epochs=warm, epochs=max_epoch,
                    at=[[e, lr_at(e)] for e in epochs])
    save("optim.safetensors", tensors, dict(cases=cases, roles=roles, shapes=shapes, schedule=schedule))


# ------------------------------------------------------------------------------------------------------------------
# A small Slow R-50 with PySlowFast's module names (slowfast/models/{stem,resnet,head}_helper.py).

class ResNetBasicStem(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=1e-5, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)
        self.pool_layer = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))

    def forward(self, x):
        return self.pool_layer(self.relu(self.bn(self.conv(x))))


class VideoModelStem(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.pathway0_stem = ResNetBasicStem(cin, cout)

    def forward(self, x):
        return self.pathway0_stem(x)


class BottleneckTransform(nn.Module):
    def __init__(self, cin, cout, inner, kt, stride):
        super().__init__()
        self.a = nn.Conv3d(cin, inner, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.a_bn = nn.BatchNorm3d(inner)
        self.b = nn.Conv3d(inner, inner, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.b_bn = nn.BatchNorm3d(inner)
        self.c = nn.Conv3d(inner, cout, 1, bias=False)
        self.c_bn = nn.BatchNorm3d(cout)

    def forward(self, x):
        x = F.relu(self.a_bn(self.a(x)))
        x = F.relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class ResBlock(nn.Module):
    def __init__(self, cin, cout, inner, kt, stride):
        super().__init__()
        if cin != cout or stride != 1:
            self.branch1 = nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False)
            self.branch1_bn = nn.BatchNorm3d(cout)
        self.branch2 = BottleneckTransform(cin, cout, inner, kt, stride)

    def forward(self, x):
        s = self.branch1_bn(self.branch1(x)) if hasattr(self, "branch1") else x
        return F.relu(s + self.branch2(x))


class ResStage(nn.Module):
    def __init__(self, blocks, cin, cout, inner, kt, stride):
        super().__init__()
        for i in range(blocks):
            self.add_module(f"pathway0_res{i}", ResBlock(cin if i == 0 else cout, cout, inner, kt,
                                                         stride if i == 0 else 1))
        self.blocks = blocks

    def forward(self, x):
        for i in range(self.blocks):
            x = getattr(self, f"pathway0_res{i}")(x)
        return x


class MLPHead(nn.Module):
    def __init__(self, din, dout, hidden, layers, bn):
        super().__init__()
        mods = [nn.Linear(din, hidden, bias=not bn)]
        for i in range(1, layers):
            if bn:
                mods.append(nn.BatchNorm1d(hidden))
            mods.append(nn.ReLU(inplace=True))
            last = i == layers - 1
            mods.append(nn.Linear(hidden, dout if last else hidden, bias=True if last else not bn))
        self.projection = nn.Sequential(*mods)

    def forward(self, x):
        return self.projection(x)


class Head(nn.Module):
    def __init__(self, din, dout, hidden, layers, bn):
        super().__init__()
        self.projection = MLPHead(din, dout, hidden, layers, bn)

    def forward(self, x):
        return self.projection(x.mean((2, 3, 4)))


class SlowR50(nn.Module):
    def __init__(self, width, head):
        super().__init__()
        w = lambda c: int(c * width)
        self.s1 = VideoModelStem(3, w(64))
        dims = [w(64)] + [w(256 << i) for i in range(4)]
        for i, blocks in enumerate([3, 4, 6, 3]):
            self.add_module(f"s{i + 2}", ResStage(blocks, dims[i], dims[i + 1], w(64 << i), 3 if i >= 2 else 1,
                                                  1 if i == 0 else 2))
        self.head = Head(dims[-1], *head)

    def pool5(self, x):
        for s in ("s1", "s2", "s3", "s4", "s5"):
            x = getattr(self, s)(x)
        return x.mean((2, 3, 4))

    def forward(self, x):
        return self.head.projection(self.pool5(x))


class ContrastiveModel(nn.Module):
    """The parts of PySlowFast's ContrastiveModel that hold state (MoCo flavour)."""

    def __init__(self, width, head, queue_len):
        super().__init__()
        self.backbone = SlowR50(width, head)
        self.backbone_hist = SlowR50(width, head)
        self.register_buffer("ptr", torch.tensor([0]))
        stdv = 1.0 / math.sqrt(head[0] / 3)
        self.register_buffer("queue_x", torch.rand(queue_len, head[0]).mul_(2 * stdv).add_(-stdv))
        self.register_buffer("iter", torch.zeros([1], dtype=torch.long))


def init_like_pyslowfast_but_varied(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm3d, nn.BatchNorm1d)):
                # Non-trivial affine parameters and running statistics, so that a wrong mapping shows.
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)


def pyslowfast_checkpoint_fixture():
    torch.manual_seed(4323)  # each fixture file its own stream: adding a case to one leaves the others as they were
    width, head = 1 / 32, (8, 16, 3, True)  # head: out, hidden, layers, BN (MoCo's official head has no BN)
    model = ContrastiveModel(width, head, queue_len=16).to(D)
    init_like_pyslowfast_but_varied(model)
    clip = torch.randn(2, 3, 4, 16, 16, dtype=D)
    with tempfile.TemporaryDirectory() as tmp:
        pyth = os.path.join(tmp, "checkpoint_epoch_00003.pyth")
        torch.save({"epoch": 3, "model_state": model.state_dict(), "optimizer_state": {}, "cfg": "{}"}, pyth)
        converted = os.path.join(tmp, "converted.safetensors")
        convert = [sys.executable, os.path.join(HERE, "convert_pyslowfast.py")]
        subprocess.run(convert + [pyth, converted], check=True)
        back = os.path.join(tmp, "back.pyth")
        subprocess.run(convert + ["--to-pyslowfast", converted, back], check=True)
        # The round trip restores every tensor exactly (float64 -> float32 aside) and loads strictly.
        restored = torch.load(back, weights_only=True)["model_state"]
        original = model.state_dict()
        for name, value in original.items():
            if name in ("ptr", "iter"):
                assert name not in restored, name
                continue
            assert restored[name].dtype == value.dtype or value.is_floating_point(), name
            assert torch.equal(restored[name].to(value.dtype), value.to(torch.float32).to(value.dtype)) \
                or name.endswith("num_batches_tracked"), name
        check = ContrastiveModel(width, head, queue_len=16)
        missing, unexpected = check.load_state_dict(restored, strict=False)
        assert set(missing) == {"ptr", "iter"} and not unexpected, (missing, unexpected)
        with safe_open(converted, framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
            meta = f.metadata()
    # The committed fixture keeps the online network only (the momentum encoder and queue were exercised above).
    kept = {k: v for k, v in tensors.items() if k.startswith("backbone.")}
    buffers = [b for b in json.loads(meta["vst.buffers"]) if b in kept]
    backbone = model.backbone
    backbone.eval()
    with torch.no_grad():
        features_eval = backbone.pool5(clip)
    backbone.train()
    with torch.no_grad():
        features_train = backbone.pool5(clip)
        projection_train = backbone.head.projection(features_train)
    out = dict(kept)
    out.update({"input": to_cl(clip), "features_eval": features_eval, "features_train": features_train,
                "projection_train": projection_train})
    path = os.path.join(OUT, "pyslowfast_slow_r50.safetensors")
    save_file({k: v.to(torch.float32).contiguous() for k, v in out.items()}, path,
              metadata={"vst.buffers": json.dumps(buffers), "vst.source": "pyslowfast",
                        "cases": json.dumps(dict(depth=50, width=width, frames=4, crop=16, head_out=head[0],
                                                 head_hidden=head[1], head_layers=head[2], head_bn=head[3]))})
    os.chmod(path, 0o644)
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(out)} tensors)")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    objective_fixtures()
    optim_fixtures()
    pyslowfast_checkpoint_fixture()
