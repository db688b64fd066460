#!/usr/bin/env python3
"""PyTorch reference of PySlowFast's OFFICIAL contrastive training step, written as fixtures for a step-by-step parity
test of vst's training loop (runtime/tests/fixtures/parity/).

Run from the repository root:  python3 scripts/parity_pyslowfast.py   (deterministic; CPU, one thread, ~4 minutes;
--final all|rho4 also stores the full tensors after step 20, --no-mutants skips the sensitivity runs)

What it mirrors (facebookresearch/SlowFast, the functions named; our own code, written from their semantics):
  tools/train_net.py  train_epoch      epoch_exact = cur_epoch + cur_iter / iters_per_epoch; lr from
                                       get_lr_at_epoch set on every group before the forward; zero_grad;
                                       contrastive_forward; one extra backward only when it is not sequential;
                                       contrastive_parameter_surgery; optimizer.step() only if update_param.
  slowfast/models/contrastive.py
    contrastive_forward                SEQUENTIAL (MoCo, BYOL, SimCLR): compute_key_feat(inputs,
                                       batched_inference=len(inputs) < 2) first (MoCo, BYOL), then one model call and
                                       one loss.backward() per query clip k (MoCo, BYOL: keys of the other clips) or per
                                       consecutive pair (k, k+1) (SimCLR); then _dequeue_and_enqueue(keys) (MoCo).
                                       Not sequential (SwAV): one model call over all clips, one backward.
    compute_key_feat / _update_history the key encoder is updated BEFORE the online forwards, with the momentum held
                                       in self.mmt at that moment (step 0: CONTRASTIVE.MOMENTUM; step s: the value
                                       momentum_anneal_cosine set from step s-1's epoch_exact, because forward() anneals
                                       after compute_key_feat ran); named_parameters only (BN buffers of the key
                                       encoder move by its own train-mode forwards); copy of the online parameters when
                                       iter == 0; one key-encoder forward per clip (batched_inference False for >= 2
                                       clips), the predictor of the BYOL key encoder runs too (its output is dropped,
                                       its BN statistics move).
    forward, type moco                 CE over [q.k_other, q.queue] / T, rows = (V-1) * N, the queue read before this
                                       step's enqueue.
    forward, type byol (SEQUENTIAL)    mean over the other clips' keys of sim_loss(l2(predictor), key) = -mean(cos)/T.
    forward, type simclr               the non-distributed branch (distributed_loss = False is hard-coded):
                                       exp-similarity matrix of [q; q2] without its diagonal, positives q.q2.
    forward, type swav                 swav_use_public_code: prototypes re-normalised in place at the start of every
                                       forward; every clip its own forward; crops_for_assign = clips 0 and 1; codes by
                                       `sinkhorn` (3 iterations, eps 0.05) on exp(scores / eps); each assigned crop
                                       predicted by every other clip with softmax(scores / T); mean over predictors,
                                       then over the two assigned crops; SWAV_QEUE_LEN 0 (no queue).
    _dequeue_and_enqueue               MOCO_MULTI_VIEW_QUEUE: the keys of every clip in clip order, pointer wrapping.
    momentum_anneal_cosine             1 - (1 - m0) * (cos(pi * epoch_exact / MAX_EPOCH) + 1) / 2.
    contrastive_parameter_surgery      SwAV: prototypes' grad = None while epoch_exact <= 1.0; MoCo: no optimiser
                                       step while cur_iter < QUEUE_LEN // global batch and epoch_exact < 1.
  slowfast/models/optimizer.py
    construct_optimizer (LAYER_DECAY 1.0)  groups: batch-norm parameters (weight_decay BN.WEIGHT_DECAY = 0,
                                       apply_LARS False); every other trainable parameter incl. biases
                                       (ZERO_WD_1D_PARAM False; weight_decay SOLVER.WEIGHT_DECAY, apply_LARS LARS_ON);
                                       torch.optim.SGD(momentum 0.9, dampening 0, nesterov True). The momentum encoder
                                       (requires_grad False) and the buffers are not in it.
    LARS.step (clip False, ignore_1d_param)  per LARS group: weight_decay set to 0 for the inner SGD; 1-D parameters
                                       skipped entirely (so they get neither LARS nor weight decay); for the others with
                                       both norms non-zero: a = trust*|p|/(|g| + |p|*wd + 1e-8); g += wd*p; g *= a.
  slowfast/utils/lr_policy.py get_lr_at_epoch, lr_func_cosine   warm-up line from WARMUP_START_LR to the cosine's
                                       value at WARMUP_EPOCHS; cosine not shifted (COSINE_AFTER_WARMUP False), end 0.
  slowfast/models/head_helper.py ResNetBasicHead / MLPHead    global average pool, projection MLP, predictors[0]
                                       applied to the projection output.

Where it deliberately cannot follow, or chooses:
  - One process instead of 8-64 GPUs. MoCo's shuffle-BN (_batch_shuffle/_batch_unshuffle) is then a permutation
    inside the one batch, undone after the key encoder: a no-op up to float summation order, so it is not performed.
    Sync BN (NORM_TYPE sync_batchnorm, BN_SYNC_MLP) over one process is plain per-process BN: every clip's forward
    normalises over its own N videos. all_gather in the SimCLR loss and distributed_sinkhorn do not arise. NB with
    world size 1 pytorchvideo's NaiveSyncBatchNorm{1,3}d falls back to nn.BatchNorm (running_var from the UNBIASED
    batch variance); on several GPUs it updates running_var with the BIASED variance. This reference is the
    one-process behaviour (unbiased) everywhere.
  - Hyper-parameters chosen for a well-conditioned 20-step trajectory (the brief's 0.5 / 2.0 learning rates, LARS
    trust 0.01 and warm-up start 0.01 make every case chaotic: float32 and float64 end O(1) apart). Per objective:
    base_lr, warmup_start_lr (= base_lr / 5, so the warm-up is a visible ramp), LARS trust 10 (official: 0.001
    hard-coded in construct_optimizer) and MoCo weight decay 1e-2 (official default 1e-4; raised so that a wrong
    weight-decay convention on SGD parameters moves the signatures by more than 1e-4). See OBJECTIVES.
  - Initialisation: the drawn weight of every bottleneck's last BN (branch2.c_bn) is scaled by FINAL_BN_SCALE (a
    non-zero RESNET.ZERO_INIT_FINAL_BN); the init file holds the result, so it is part of the fixture, not of the
    step. The momentum encoder starts as an exact copy of the online encoder, BN buffers included (the official code
    copies parameters at iter 0 and its fresh BN buffers are 0/1; here the buffers are varied so a wrong mapping
    shows). The official BYOL model also registers an unused `queue_x`; it is not kept here.
  - MIXED_PRECISION (MoCo's config) and the GradScaler are not mirrored: float64 reference (and a float32 run, used
    only to measure the floating-point noise floor).
  - `sinkhorn` ends with `.float()`; here the codes keep the run's dtype (a no-op in the official float32 run).
  - No evaluation / kNN between the two epochs (nothing there changes training state; knn_mem is not kept).

Sensitivity: besides the float32 run, each case is re-run in float64 with single deliberate departures from the
official step (MUTANTS: Nesterov off, lr one iteration late, weight decay on BN, LARS on biases, momentum annealed
before the key update, key BN buffers averaged, all keys in one BN batch, ...) and the largest signature deviation of
each is stored in the metadata (`sensitivity_f64`), next to the noise floor (`noise_floor_f32_vs_f64`).

Clips: for step s the batch is float32 (N*V, T, H, W, 3), channels last, row i*V + j = clip j of video i; element at
flat index f = float(splitmix64(f + s*2**40 + 12345) >> 40) / 2**24 * 2 - 1 (exact in float32).

Outputs (runtime/tests/fixtures/parity/):
  {objective}_init.safetensors    the initial state in vst's layout (convert_pyslowfast.to_vst); identical for every
                                   rho of an objective, so one per objective.
  {objective}_rho{r}_steps.safetensors
      sig.{name}  [20, 3]  after step s (row s-1): [sum t, sqrt(sum t^2), sum t*probe] in float64 on t in vst's layout,
                           probe[i] = +1 if splitmix64(i) >> 63 else -1 (flat row-major index i);
      final.{name}         the tensor after step 20 (vst layout), only with --final all|rho4 (default none: size;
                           all 12 cases with final.* make 6.1 MB instead of 2.95 MB);
      loss [20]            sum of the losses that were back-propagated at each step;
      lr [20], momentum [20] (key-encoder momentum used in that step's _update_history; 0 for SimCLR/SwAV),
      updated [20]         1 if the optimiser stepped;
      metadata `config`    JSON: hyper-parameters (`temperature` is CONTRASTIVE.T; `T` is the number of frames),
                           shapes, clip_checksum_step0, notes, the float32-vs-float64 noise floor measured here and
                           the sensitivity runs.
"""
import argparse
import copy
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save as safetensors_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_model_fixtures as mmf  # noqa: E402  (its main is guarded)
from convert_pyslowfast import to_vst  # noqa: E402

OUT = os.path.join(HERE, "..", "runtime", "tests", "fixtures", "parity")

N, T_FRAMES, H, W, C = 4, 2, 16, 16, 3
WIDTH = 1 / 32
STEPS, ITERS_PER_EPOCH, MAX_EPOCH = 20, 10, 2
WARMUP_EPOCHS = 1.0
SGD_MOMENTUM = 0.9
SEED = {"moco": 101, "byol": 202, "simclr": 303, "swav": 404}
# rho = 1 (two spatial crops) is the same computation as rho = 2 for the training step (two views per video, the
# same clips here); they differ only in how the loader draws the views. So rho = 2 serves both.
RHOS = (2, 4)
# Every bottleneck's last BN (branch2.c_bn, PySlowFast's transform_final_bn) has its drawn weight scaled by this:
# near-RESNET.ZERO_INIT_FINAL_BN. Without it this 50-layer, 2..64-channel network with 8-sample BN batches in res4/5 is
# so ill-conditioned that float32 and float64 already differ by 1e-4 in the step-1 keys and 1e-3 in the step-1 gradient.
FINAL_BN_SCALE = 0.05

# Learning rates, LARS trust and warm-up start are far below the brief's (0.5 / 2.0, trust 0.01, warm-up start 0.01):
# with those, every case is chaotic here (float32 vs float64 differ by O(1) after 20 steps; BN parameters, which get
# plain SGD at the full rate, jump by several times their norm per step). These keep the float32-vs-float64 noise
# floor of every signature below 1e-5 of the tensor's norm over the 20 steps (measured, stored in the metadata).
OBJECTIVES = {
    "moco": dict(head=(8, 16, 3, False), temperature=0.1, queue_len=16, multi_view_queue=True, momentum=0.9,
                 momentum_annealing=True, sequential=True, lars=False, trust=None, weight_decay=1e-2,
                 base_lr=0.015, warmup_start_lr=0.003),
    "byol": dict(head=(8, 16, 2, True), predictor=(8, 16, 2, True), temperature=0.5, momentum=0.9,
                 momentum_annealing=True, sequential=True, lars=True, trust=10.0, weight_decay=1e-6,
                 base_lr=1e-4, warmup_start_lr=2e-5),
    "simclr": dict(head=(8, 16, 3, True), temperature=0.1, sequential=True, lars=True, trust=10.0, weight_decay=1e-6,
                   base_lr=2e-5, warmup_start_lr=4e-6),
    "swav": dict(head=(8, 16, 3, True), temperature=0.1, prototypes=6, sinkhorn_eps=0.05, sinkhorn_iters=3,
                 swav_queue_len=0, sequential=False, lars=True, trust=10.0, weight_decay=1e-6,
                 base_lr=5e-5, warmup_start_lr=1e-5),
}
COMMON = dict(bn_weight_decay=0.0, sgd_momentum=SGD_MOMENTUM, nesterov=True, dampening=0.0, lr_policy="cosine",
              cosine_end_lr=0.0, cosine_after_warmup=False, warmup_epochs=WARMUP_EPOCHS, max_epoch=MAX_EPOCH,
              layer_decay=1.0, zero_wd_1d_param=False, bn_eps=1e-5, bn_momentum=0.1, lars_eps=1e-8,
              final_bn_weight_scale=FINAL_BN_SCALE)

# Deliberate departures from the official step, run only to measure how far each would move the signatures
# (the sensitivity of a test built on these fixtures). None of them is used for the fixtures themselves.
MUTANTS = {
    "all": ["no_nesterov", "lr_of_next_iter", "bn_weight_decay"],
    # (LARS on the BN group would change nothing: every BN parameter is 1-D, and LARS skips 1-D parameters.)
    "lars": ["lars_on_1d_params", "weight_decay_on_1d_params"],
    "key": ["momentum_annealed_before_key_update", "momentum_not_annealed", "key_bn_buffers_averaged",
            "keys_in_one_bn_batch"],
    "moco": ["queue_first_clip_only", "enqueue_before_queries", "no_update_rule_ignored"],
    "simclr": ["middle_clips_forwarded_once"],
    "swav": ["prototypes_frozen_while_lt_1", "prototypes_never_frozen", "prototypes_not_renormalised"],
}


def mutants_for(objective):
    out = list(MUTANTS["all"])
    if OBJECTIVES[objective]["lars"]:
        out += MUTANTS["lars"]
    if objective in ("moco", "byol"):
        out += MUTANTS["key"]
    out += MUTANTS.get(objective, [])
    return out


# ---------------------------------------------------------------------------------------------------------------
# Deterministic data.

def splitmix64(x):
    """Vectorised splitmix64 over a numpy uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def batch_vst(step, V):
    """(N*V, T, H, W, 3) float32, channels last, row i*V + j = clip j of video i."""
    shape = (N * V, T_FRAMES, H, W, C)
    f = np.arange(int(np.prod(shape)), dtype=np.uint64)
    with np.errstate(over="ignore"):
        u = splitmix64(f + np.uint64(step * (1 << 40) + 12345))
    vals = (u >> np.uint64(40)).astype(np.float64) / float(1 << 24) * 2.0 - 1.0
    out = vals.astype(np.float32)
    assert np.array_equal(out.astype(np.float64), vals)
    return out.reshape(shape)


def clips_official(batch, V, dtype):
    """The official per-clip list: clip j = rows j, V+j, ... as N, C, T, H, W."""
    b = torch.from_numpy(batch).to(dtype)
    return [b[j::V].permute(0, 4, 1, 2, 3).contiguous() for j in range(V)]


_PROBES = {}


def probe(n):
    if n not in _PROBES:
        u = splitmix64(np.arange(n, dtype=np.uint64))
        _PROBES[n] = torch.from_numpy(np.where((u >> np.uint64(63)) == 1, 1.0, -1.0))
    return _PROBES[n]


# ---------------------------------------------------------------------------------------------------------------
# The model: PySlowFast's ContrastiveModel state (names as its state_dict) around the Slow R-50 twin.

class Contrastive(nn.Module):
    def __init__(self, objective, cfg):
        super().__init__()
        self.objective = objective
        self.backbone = mmf.SlowR50(WIDTH, cfg["head"])
        if "predictor" in cfg:  # ResNetBasicHead.predictors[0]: MLPHead(num_classes -> num_classes)
            out = cfg["head"][0]
            _, hidden, layers, bn = cfg["predictor"]
            self.backbone.head.predictors = nn.ModuleList([mmf.MLPHead(out, out, hidden, layers, bn)])
        mmf.init_like_pyslowfast_but_varied(self.backbone)
        with torch.no_grad():
            for name, m in self.backbone.named_modules():
                if name.endswith("branch2.c_bn"):
                    m.weight.mul_(FINAL_BN_SCALE)
        if objective in ("moco", "byol"):
            self.backbone_hist = copy.deepcopy(self.backbone)
            for p in self.backbone_hist.parameters():
                p.requires_grad = False
            self.register_buffer("iter", torch.zeros([1], dtype=torch.long))
        if objective == "moco":
            self.register_buffer("ptr", torch.tensor([0]))
            dim = cfg["head"][0]
            stdv = 1.0 / math.sqrt(dim / 3)
            self.register_buffer("queue_x", torch.rand(cfg["queue_len"], dim).mul_(2 * stdv).add_(-stdv))
        if objective == "swav":
            self.swav_prototypes = nn.Linear(cfg["head"][0], cfg["prototypes"], bias=False)
        self.mmt = cfg.get("momentum", 0.0)


def encode(backbone, x):
    """ResNet forward with ResNetBasicHead in training: projection, [predictor(projection)...]."""
    pooled = backbone.pool5(x)  # AdaptiveAvgPool3d((1,1,1)), then flattened
    proj = backbone.head.projection(pooled)
    preds = [p(proj) for p in getattr(backbone.head, "predictors", [])]
    return proj, preds


def l2n(x):  # contrastive.Normalize(power=2, dim=1): no epsilon
    return x.div(x.pow(2).sum(1, keepdim=True).pow(0.5))


# ---------------------------------------------------------------------------------------------------------------
# Schedules (lr_policy.get_lr_at_epoch with lr_func_cosine; ContrastiveModel.momentum_anneal_cosine).

def cosine(cfg, e):
    end = COMMON["cosine_end_lr"]
    return end + (cfg["base_lr"] - end) * (math.cos(math.pi * e / MAX_EPOCH) + 1.0) * 0.5


def lr_at(cfg, e):
    lr = cosine(cfg, e)
    if e < WARMUP_EPOCHS:
        start = cfg["warmup_start_lr"]
        lr = e * (cosine(cfg, WARMUP_EPOCHS) - start) / WARMUP_EPOCHS + start
    return lr


def momentum_anneal(cfg, e):
    return 1 - (1 - cfg["momentum"]) * (math.cos(math.pi * e / MAX_EPOCH) + 1.0) * 0.5


# ---------------------------------------------------------------------------------------------------------------
# Optimiser: construct_optimizer (LAYER_DECAY 1.0) and LARS.step.

def build_optimizer(model, cfg, variant):
    bn, non_bn = [], []
    for _, m in model.named_modules():
        is_bn = isinstance(m, nn.modules.batchnorm._NormBase)
        for _, p in m.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            (bn if is_bn else non_bn).append(p)
    bn_wd = cfg["weight_decay"] if "bn_weight_decay" in variant else COMMON["bn_weight_decay"]
    groups = [dict(params=bn, weight_decay=bn_wd, layer_decay=1.0, apply_LARS=False),
              dict(params=non_bn, weight_decay=cfg["weight_decay"], layer_decay=1.0, apply_LARS=cfg["lars"])]
    groups = [g for g in groups if g["params"]]
    assert sum(len(g["params"]) for g in groups) == sum(p.requires_grad for p in model.parameters())
    return torch.optim.SGD(groups, lr=cfg["base_lr"], momentum=SGD_MOMENTUM, weight_decay=cfg["weight_decay"],
                           dampening=0.0, nesterov="no_nesterov" not in variant, foreach=False)


def optimizer_step(opt, cfg, variant):
    if not cfg["lars"]:
        opt.step()
        return
    with torch.no_grad():
        saved = [g.get("weight_decay", 0) for g in opt.param_groups]
        for g, wd in zip(opt.param_groups, saved):
            if not g.get("apply_LARS", True):
                continue
            g["weight_decay"] = 0
            for p in g["params"]:
                if p.grad is None:
                    continue
                if p.ndim == 1 and "lars_on_1d_params" not in variant:  # ignore_1d_param
                    if "weight_decay_on_1d_params" in variant:
                        p.grad.data += wd * p.data
                    continue
                pn, gn = torch.norm(p.data), torch.norm(p.grad.data)
                if pn != 0 and gn != 0:
                    a = cfg["trust"] * pn / (gn + pn * wd + COMMON["lars_eps"])
                    p.grad.data += wd * p.data
                    p.grad.data *= a
        opt.step()
        for g, wd in zip(opt.param_groups, saved):
            g["weight_decay"] = wd


# ---------------------------------------------------------------------------------------------------------------
# The pieces of ContrastiveModel used by the four objectives.

@torch.no_grad()
def update_history(model, variant):
    m = model.mmt
    online = dict(model.backbone.named_parameters())
    if int(model.iter) == 0:
        for name, p in model.backbone_hist.named_parameters():
            p.data.copy_(online[name].data)
    for name, p in model.backbone_hist.named_parameters():
        p.data = online[name].data * (1.0 - m) + p.data * m
    if "key_bn_buffers_averaged" in variant:
        online_b = dict(model.backbone.named_buffers())
        for name, b in model.backbone_hist.named_buffers():
            if b.is_floating_point():
                b.copy_(online_b[name] * (1.0 - m) + b * m)


@torch.no_grad()
def compute_key_feat(model, clips, variant):
    update_history(model, variant)
    model.iter += 1
    if "keys_in_one_bn_batch" in variant:
        keys = l2n(encode(model.backbone_hist, torch.cat(clips, dim=0))[0])
        return list(keys.split(clips[0].shape[0], dim=0))
    return [l2n(encode(model.backbone_hist, c)[0]) for c in clips]  # batched_inference False: one forward per clip


@torch.no_grad()
def dequeue_and_enqueue(model, keys):
    ptr = int(model.ptr.item())
    k = model.queue_x.shape[0]
    for key in keys:
        n = int(key.size(0))
        assert k % n == 0 and ptr + n <= k
        model.queue_x[ptr: ptr + n, :] = key
        ptr += n
        if ptr == k:
            ptr = 0
        model.ptr[0] = ptr


def moco_query(model, cfg, clip, other_keys):
    q = l2n(encode(model.backbone, clip)[0])
    queue_neg = torch.einsum("nc,kc->nk", q, model.queue_x.clone().detach())
    logits = torch.cat([torch.cat([torch.einsum("nc,nc->n", q, k).unsqueeze(-1), queue_neg], dim=1)
                        for k in other_keys], dim=0) / cfg["temperature"]
    return F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long))


def byol_query(model, cfg, clip, other_keys):
    _, preds = encode(model.backbone, clip)
    p = l2n(preds[0])
    loss = 0.0
    for k in other_keys:  # sim_loss: -mean(einsum(q, k) / T)
        loss = loss + (-(torch.einsum("nc,nc->n", p, k) / cfg["temperature"]).mean())
    return loss / len(other_keys)


def simclr_loss(cfg, q, q2):
    out = torch.cat([q, q2], dim=0)
    sim = torch.exp(torch.mm(out, out.t().contiguous()) / cfg["temperature"])
    mask = (torch.ones_like(sim) - torch.eye(out.shape[0], dtype=sim.dtype)).bool()
    sim = sim.masked_select(mask).view(out.shape[0], -1)
    pos = torch.exp(torch.sum(q * q2, dim=-1) / cfg["temperature"])
    pos = torch.cat([pos, pos], dim=0)
    return (-torch.log(pos / sim.sum(dim=-1))).mean()


def simclr_pair(model, cfg, c1, c2):
    return simclr_loss(cfg, l2n(encode(model.backbone, c1)[0]), l2n(encode(model.backbone, c2)[0]))


def swav_loss(model, cfg, clips, variant):
    if "prototypes_not_renormalised" not in variant:
        with torch.no_grad():
            w = F.normalize(model.swav_prototypes.weight.data.clone(), dim=1, p=2)
            model.swav_prototypes.weight.copy_(w)
    V, bs = len(clips), clips[0].shape[0]
    outputs = []
    for c in clips:
        z = F.normalize(encode(model.backbone, c)[0], dim=1, p=2)
        outputs.append(model.swav_prototypes(z))
    output = torch.cat(outputs, dim=0)
    crops_for_assign = np.arange(V - (V - 2))  # swav_extra_crops = V - 2: clips 0 and 1
    loss = 0.0
    for crop_id in crops_for_assign:
        with torch.no_grad():
            out = output[bs * crop_id: bs * (crop_id + 1)]
            q = mmf.sinkhorn(torch.exp(out / cfg["sinkhorn_eps"]), cfg["sinkhorn_iters"])[-bs:]  # the official `sinkhorn`
        sub = 0.0
        for v in np.delete(np.arange(V), crop_id):
            p = torch.softmax(output[bs * v: bs * (v + 1)] / cfg["temperature"], dim=1)
            sub = sub - torch.mean(torch.sum(q * torch.log(p), dim=1))
        loss = loss + sub / (V - 1)
    return loss / len(crops_for_assign)


# ---------------------------------------------------------------------------------------------------------------
# One iteration of train_epoch (+ contrastive_forward, contrastive_parameter_surgery).

def train_step(model, opt, cfg, step, clips, variant=frozenset()):
    cur_epoch, cur_iter = divmod(step, ITERS_PER_EPOCH)
    epoch_exact = cur_epoch + float(cur_iter) / ITERS_PER_EPOCH
    lr = lr_at(cfg, epoch_exact + (1.0 / ITERS_PER_EPOCH if "lr_of_next_iter" in variant else 0.0))
    for g in opt.param_groups:
        g["lr"] = lr * g["layer_decay"]
    opt.zero_grad(set_to_none=True)
    obj, V = model.objective, len(clips)
    losses, mmt_used = [], 0.0

    def anneal():  # first line of ContrastiveModel.forward
        if cfg.get("momentum_annealing") and "momentum_not_annealed" not in variant:
            model.mmt = momentum_anneal(cfg, epoch_exact)

    if obj in ("moco", "byol"):
        if "momentum_annealed_before_key_update" in variant:
            anneal()
        mmt_used = model.mmt
        keys = compute_key_feat(model, clips, variant)
        if obj == "moco" and "enqueue_before_queries" in variant:
            dequeue_and_enqueue(model, keys)
        for k in range(V):
            other = keys[:k] + keys[k + 1:]
            anneal()
            loss = (moco_query if obj == "moco" else byol_query)(model, cfg, clips[k], other)
            loss.backward()
            losses.append(loss.detach())
        if obj == "moco" and "enqueue_before_queries" not in variant:
            dequeue_and_enqueue(model, keys[:1] if "queue_first_clip_only" in variant else keys)
    elif obj == "simclr":
        if "middle_clips_forwarded_once" in variant:
            qs = [l2n(encode(model.backbone, c)[0]) for c in clips]
            pair_losses = [simclr_loss(cfg, qs[k], qs[k + 1]) for k in range(V - 1)]
            sum(pair_losses).backward()
            losses += [l.detach() for l in pair_losses]
        else:
            for k in range(V - 1):  # vids = inputs[k:k+2]; the last clip breaks the loop
                anneal()
                loss = simclr_pair(model, cfg, clips[k], clips[k + 1])
                loss.backward()
                losses.append(loss.detach())
    else:
        anneal()
        loss = swav_loss(model, cfg, clips, variant)
        loss.backward()
        losses.append(loss.detach())

    # contrastive_parameter_surgery
    if obj == "swav" and "prototypes_never_frozen" not in variant:
        if (epoch_exact < 1.0) if "prototypes_frozen_while_lt_1" in variant else (epoch_exact <= 1.0):
            model.swav_prototypes.weight.grad = None
    iters_noupdate = cfg["queue_len"] // N if obj == "moco" else 0  # QUEUE_LEN // BATCH_SIZE // NUM_SHARDS
    update = not (cur_iter < iters_noupdate and epoch_exact < 1) or "no_update_rule_ignored" in variant
    if update:
        optimizer_step(opt, cfg, variant)
    return dict(loss=float(sum(l.double() for l in losses)), lr=lr, momentum=mmt_used, updated=float(update))


# ---------------------------------------------------------------------------------------------------------------
# Runs, signatures, measurements.

def vst_state(model):
    """Floating state tensors in vst's layout (names as to_vst), kept in the run's dtype."""
    out = {}
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked") or not t.is_floating_point():
            continue
        t = t.detach()
        if t.dim() == 5:
            t = t.permute(0, 2, 3, 4, 1)
        out[name] = t.contiguous()
    return out


def signature(t):
    t = t.to(torch.float64).reshape(-1)
    return torch.stack([t.sum(), torch.sqrt((t * t).sum()), (t * probe(t.numel())).sum()])


def initial_model(objective):
    torch.manual_seed(SEED[objective])
    model = Contrastive(objective, OBJECTIVES[objective])  # float32 draws
    model.train()
    return model


def views(rho):
    return 2 if rho == 1 else rho  # rho = 1: TRAIN_CROP_NUM_SPATIAL 2, two clips


def run(objective, rho, dtype, init_state, variant=frozenset()):
    cfg, V = OBJECTIVES[objective], views(rho)
    model = initial_model(objective)
    model.load_state_dict(init_state)
    model = model.to(dtype)
    model.train()
    opt = build_optimizer(model, cfg, variant)
    sigs = {name: [] for name in vst_state(model)}
    rec = dict(loss=[], lr=[], momentum=[], updated=[])
    for s in range(STEPS):
        r = train_step(model, opt, cfg, s, clips_official(batch_vst(s, V), V, dtype), variant)
        for k in rec:
            rec[k].append(r[k])
        for name, t in vst_state(model).items():
            sigs[name].append(signature(t))
    return model, {k: torch.stack(v) for k, v in sigs.items()}, rec


def sig_deviation(sa, sb, step=None):
    """max over tensors (and steps, or at one 0-based step) of |a - b| / max(|b|, sqrt(sum b^2)), per signature
    entry; returns (value, worst tensor)."""
    worst, name = 0.0, None
    for n in sb:
        a, b = (sa[n], sb[n]) if step is None else (sa[n][step:step + 1], sb[n][step:step + 1])
        scale = torch.clamp(b.abs(), min=1e-300)
        scale = torch.maximum(scale, b[:, 1:2].expand_as(b))
        d = float(((a - b).abs() / scale).max())
        if d > worst:
            worst, name = d, n
    return worst, name


def movement(init_vst, final_vst, prefix):
    names = [n for n in final_vst if n.startswith(prefix)]
    d2 = sum(float((final_vst[n].double() - init_vst[n].double()).pow(2).sum()) for n in names)
    n2 = sum(float(init_vst[n].double().pow(2).sum()) for n in names)
    per = sorted(float((final_vst[n].double() - init_vst[n].double()).norm() / init_vst[n].double().norm())
                 for n in names)
    return dict(total=math.sqrt(d2 / n2), min=per[0], median=per[len(per) // 2], max=per[-1])


def write_safetensors(path, tensors, metadata):
    """safetensors.torch.save_file, but with the header in a fixed order (metadata keys sorted, tensors by offset):
    the library writes its metadata map in an arbitrary order, so regenerating would change the bytes."""
    raw = safetensors_bytes({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata)
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    ordered = {"__metadata__": dict(sorted(header.pop("__metadata__", {}).items()))}
    for k in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        ordered[k] = header[k]
    head = json.dumps(ordered, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + raw[8 + n:])
    os.chmod(path, 0o644)


def is_buffer(name):
    return name.endswith(("running_mean", "running_var")) or name == "queue_x"


NOTES = [
    "Official SEQUENTIAL contrastive_forward for MoCo, BYOL, SimCLR: keys first (MoCo, BYOL), then one backward per "
    "query clip (SimCLR: per consecutive pair (k, k+1)); SwAV (not sequential): one model call, one backward. Every "
    "clip is its own forward, so its own BN batch of N videos, in both encoders.",
    "Key-encoder momentum: step 1 (1-based) uses CONTRASTIVE.MOMENTUM (and _update_history copies the online "
    "parameters first, iter == 0); step s >= 2 uses the value annealed from step s-1's epoch_exact, because "
    "compute_key_feat runs before forward() anneals. Parameters only; the key encoder's BN buffers move by its own "
    "train-mode forwards (BYOL: its predictor runs too; its output is dropped).",
    "MoCo shuffle-BN is not performed: with one process it is a within-batch permutation, a no-op up to float "
    "summation order.",
    "LARS skips 1-D parameters entirely: the biases of LARS groups get neither the LARS scaling nor weight decay "
    "(the inner SGD's weight decay is 0 for LARS groups during the step). BN parameters: plain SGD, weight decay 0.",
    "SimCLR: each pair (k, k+1) forwards both clips, so clips 1..V-2 are forwarded twice per step and their BN "
    "running statistics updated twice (order: clip k, clip k+1, next pair). Gradients are those of the sum of "
    "the pair losses (not averaged over pairs).",
    "SwAV: prototypes re-normalised (rows, in place) at the start of every forward; grad set to None (so no "
    "optimiser update, no momentum buffer, no LARS) while epoch_exact <= 1.0: steps 1..11 (1-based). The stored "
    "prototypes after a step are the normalised ones of that step's forward plus the optimiser update.",
    "MoCo: no optimiser step at steps 1..4 (1-based; cur_iter < 16 // 4 in epoch 0); forward, key update, BN "
    "statistics and queue still happen. Keys are enqueued after all queries, every clip in clip order. The initial "
    "queue is not normalised.",
    "rho = 1 (two spatial crops) and rho = 2 (two clips) are the identical computation on identical clips (V = 2).",
    "loss = sum of the back-propagated losses of the step (the official log divides by 2V; not here).",
    "Learning rates and WARMUP_START_LR are much smaller, the LARS trust much larger, than the brief's (with those "
    "the runs are chaotic: float32 and float64 diverge by O(1) over 20 steps); MoCo's weight decay is 1e-2. "
    "branch2.c_bn weights are scaled by final_bn_weight_scale at initialisation (the init file holds the result).",
    "BN running_var uses the unbiased batch variance (nn.BatchNorm; PySlowFast with one process). PySlowFast's "
    "multi-GPU NaiveSyncBatchNorm (BYOL, SimCLR, SwAV configs) would use the biased one.",
]


def main():
    ap = argparse.ArgumentParser(description="PySlowFast training-step parity fixtures")
    ap.add_argument("--final", choices=["all", "none", "rho4"], default="none",
                    help="which cases carry final.* (the full tensors after step 20)")
    ap.add_argument("--objectives", default="moco,byol,simclr,swav")
    ap.add_argument("--no-mutants", action="store_true", help="skip the sensitivity runs (metadata then lacks them)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)

    for V in (2, 4):
        b0 = batch_vst(0, V)
        print(f"clips: step 0 batch {tuple(b0.shape)} sum = {float(b0.astype(np.float64).sum())!r}, "
              f"first 4 = {[float(x) for x in b0.reshape(-1)[:4]]}")

    for objective in args.objectives.split(","):
        cfg = OBJECTIVES[objective]
        model0 = initial_model(objective)
        init_state = copy.deepcopy(model0.state_dict())
        tensors, meta = to_vst(init_state)
        init_vst = vst_state(model0)
        assert set(tensors) == set(init_vst), set(tensors) ^ set(init_vst)
        path = os.path.join(OUT, f"{objective}_init.safetensors")
        write_safetensors(path, tensors, meta)
        for rho in RHOS:
            V, case = views(rho), f"{objective}_rho{rho}"
            m64, sig64, rec = run(objective, rho, torch.float64, init_state)
            _, sig32, _ = run(objective, rho, torch.float32, init_state)
            st64 = vst_state(m64)
            noise_by_step = [sig_deviation(sig32, sig64, s)[0] for s in range(STEPS)]
            noise, noise_worst = sig_deviation(sig32, sig64)
            params64 = {n: t for n, t in st64.items() if not is_buffer(n)}
            mv = {"online_params": movement(init_vst, params64, "backbone."),
                  "online_bn_buffers": movement(init_vst, {n: t for n, t in st64.items() if is_buffer(n)},
                                                "backbone.")}
            if objective in ("moco", "byol"):
                mv["key_params"] = movement(init_vst, params64, "backbone_hist.")
            if objective == "swav":
                mv["prototypes"] = movement(init_vst, params64, "swav_prototypes.")
            sens = {}
            if not args.no_mutants:
                for mut in mutants_for(objective):
                    if mut == "middle_clips_forwarded_once" and V < 3:
                        continue
                    _, sigm, _ = run(objective, rho, torch.float64, init_state, frozenset([mut]))
                    d, worst = sig_deviation(sigm, sig64)
                    over = sum(1 for n in sig64 if sig_deviation({n: sigm[n]}, {n: sig64[n]})[0] > 1e-4)
                    sens[mut] = {"max_deviation": d, "worst": worst, "tensors_over_1e-4": over}
            b0 = batch_vst(0, V)
            config = dict(objective=objective, rho=rho, V=V, N=N, T=T_FRAMES, H=H, W=W, C=C, width=WIDTH,
                          depth=50, steps=STEPS, steps_per_epoch=ITERS_PER_EPOCH, seed=SEED[objective],
                          init_file=f"{objective}_init.safetensors", **cfg, **COMMON,
                          iters_noupdate=(cfg["queue_len"] // N if objective == "moco" else 0),
                          clip_rule="value(f, s) = float(splitmix64(f + s*2**40 + 12345) >> 40) / 2**24 * 2 - 1; "
                                    "(N*V, T, H, W, 3) channels last, row i*V + j = clip j of video i",
                          clip_checksum_step0=float(b0.astype(np.float64).sum()),
                          clip_first4_step0=[float(x) for x in b0.reshape(-1)[:4]],
                          signature="[sum t, sqrt(sum t^2), sum t*probe] in float64 on vst's layout; probe[i] = +1 "
                                    "if splitmix64(i) >> 63 else -1",
                          deviation_metric="|a - b| / max(|b|, sqrt(sum b^2)) per signature entry, max over tensors",
                          noise_floor_f32_vs_f64=dict(max_over_steps=noise, worst=noise_worst, by_step=noise_by_step),
                          movement_step0_to_20=mv, sensitivity_f64=sens,
                          final_included=(args.final == "all" or (args.final == "rho4" and rho == 4)),
                          notes=" ".join(NOTES))
            out = {f"sig.{n}": v.to(torch.float32) for n, v in sig64.items()}
            if config["final_included"]:
                out.update({f"final.{n}": v.to(torch.float32) for n, v in st64.items()})
            for k, v in rec.items():
                out[k] = torch.tensor(v, dtype=torch.float32)
            path = os.path.join(OUT, f"{case}_steps.safetensors")
            write_safetensors(path, out, {"config": json.dumps(config)})
            print(f"{case}: V={V} loss {rec['loss'][0]:.6f} -> {rec['loss'][-1]:.6f}; noise f32/f64 {noise:.1e} "
                  f"({noise_worst}); moved: online {mv['online_params']['total']:.2e} "
                  f"(median {mv['online_params']['median']:.1e}, min {mv['online_params']['min']:.1e})"
                  + (f", key {mv['key_params']['total']:.2e}" if "key_params" in mv else "")
                  + (f", prototypes {mv['prototypes']['total']:.2e}" if "prototypes" in mv else "")
                  + f"; {os.path.getsize(path)} bytes", flush=True)
            for mut, r in sens.items():
                print(f"    mutant {mut}: max deviation {r['max_deviation']:.1e} ({r['worst']}), "
                      f"{r['tensors_over_1e-4']} tensors > 1e-4", flush=True)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"total {total} bytes in {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
