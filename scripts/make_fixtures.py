#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for vst-engine's tests (runtime/engine/tests/fixtures/*.safetensors).

Every op is evaluated in float64 by PyTorch on fixed random inputs; outputs, the upstream gradient used, and the
gradients of every input are stored as float32. Tensors are stored in vst-engine's layouts: activations channels-last
(N,T,H,W,C), convolution weights (Cout,kT,kH,kW,Cin/groups). Case parameters (stride, padding, ...) go in the file's
metadata as JSON. Run from the repository root:  python3 scripts/make_fixtures.py
Requires: pip install -r scripts/requirements.txt"""
import json, os
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime", "engine", "tests", "fixtures")
torch.manual_seed(1234)
D = torch.float64


def to_cl(x):  # N,C,T,H,W -> N,T,H,W,C
    return x.permute(0, 2, 3, 4, 1).contiguous()


def w_cl(w):  # Cout,Cin,kT,kH,kW -> Cout,kT,kH,kW,Cin
    return w.permute(0, 2, 3, 4, 1).contiguous()


def f32(d):
    return {k: v.detach().to(torch.float32).contiguous() for k, v in d.items()}


def save(name, tensors, meta):
    path = os.path.join(OUT, name)
    save_file(f32(tensors), path, metadata={"cases": json.dumps(meta)})
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors)")


def conv_fixtures():
    # Every kernel/stride/padding combination of a Slow R-50, plus a general case (3D kernel, odd strides, groups).
    cases = [
        ("stem_1x7x7_s122", 3, 8, (2, 2, 12, 12), (1, 7, 7), (1, 2, 2), (0, 3, 3), 1),
        ("k133_s1", 4, 5, (2, 2, 6, 6), (1, 3, 3), (1, 1, 1), (0, 1, 1), 1),
        ("k133_s122", 4, 5, (2, 2, 7, 7), (1, 3, 3), (1, 2, 2), (0, 1, 1), 1),
        ("k311_s1", 6, 4, (2, 4, 5, 5), (3, 1, 1), (1, 1, 1), (1, 0, 0), 1),
        ("k111_s1", 6, 7, (2, 2, 4, 4), (1, 1, 1), (1, 1, 1), (0, 0, 0), 1),
        ("k111_s122", 6, 7, (2, 2, 7, 7), (1, 1, 1), (1, 2, 2), (0, 0, 0), 1),
        ("k333_s212_g2", 4, 6, (2, 5, 6, 7), (3, 3, 3), (2, 1, 2), (1, 1, 0), 2),
    ]
    tensors, meta = {}, {}
    for name, cin, cout, (n, t, h, w), k, s, p, g in cases:
        x = torch.randn(n, cin, t, h, w, dtype=D, requires_grad=True)
        wt = (torch.randn(cout, cin // g, *k, dtype=D) * 0.3).requires_grad_(True)
        y = F.conv3d(x, wt, stride=s, padding=p, groups=g)
        dy = torch.randn_like(y)
        dx, dw = torch.autograd.grad(y, (x, wt), dy)
        tensors.update({f"{name}.x": to_cl(x), f"{name}.w": w_cl(wt), f"{name}.y": to_cl(y), f"{name}.dy": to_cl(dy),
                        f"{name}.dx": to_cl(dx), f"{name}.dw": w_cl(dw)})
        meta[name] = {"stride": s, "padding": p, "groups": g}
    save("conv3d.safetensors", tensors, meta)


def pool_fixtures():
    cases = [("k133_s122_p011", (2, 3, 2, 9, 9), (1, 3, 3), (1, 2, 2), (0, 1, 1)),
             ("k222_s2_p0", (1, 2, 4, 6, 6), (2, 2, 2), (2, 2, 2), (0, 0, 0))]
    tensors, meta = {}, {}
    for name, shape, k, s, p in cases:
        x = torch.randn(*shape, dtype=D, requires_grad=True)
        y = F.max_pool3d(x, k, s, p)
        dy = torch.randn_like(y)
        (dx,) = torch.autograd.grad(y, (x,), dy)
        tensors.update({f"{name}.x": to_cl(x), f"{name}.y": to_cl(y), f"{name}.dy": to_cl(dy), f"{name}.dx": to_cl(dx)})
        meta[name] = {"kernel": k, "stride": s, "padding": p}
    save("max_pool3d.safetensors", tensors, meta)


def bn_fixtures():
    tensors, meta = {}, {}
    # name, shape (channels-last), training, fused relu
    cases = [("bn3d_train", (2, 2, 3, 4, 5), True, False), ("bn3d_train_relu", (2, 2, 3, 4, 5), True, True),
             ("bn3d_eval", (2, 2, 3, 3, 4), False, False), ("bn1d_train", (8, 6), True, False),
             ("bn1d_train_relu", (8, 6), True, True)]
    for name, shape, train, relu in cases:
        c = shape[-1]
        x = (torch.randn(*shape, dtype=D) * 2 + 0.5).requires_grad_(True)
        gamma = (torch.rand(c, dtype=D) + 0.5).requires_grad_(True)
        beta = torch.randn(c, dtype=D).requires_grad_(True)
        rm = torch.randn(c, dtype=D) * 0.1
        rv = torch.rand(c, dtype=D) + 0.5
        rm0, rv0 = rm.clone(), rv.clone()
        # PyTorch BN wants N,C,...: move the channel axis to position 1.
        perm = [0, len(shape) - 1] + list(range(1, len(shape) - 1))
        inv = [perm.index(i) for i in range(len(shape))]
        y = F.batch_norm(x.permute(*perm), rm, rv, gamma, beta, training=train, momentum=0.1, eps=1e-5).permute(*inv)
        if relu:
            y = F.relu(y)
        dy = torch.randn_like(y)
        dx, dg, db = torch.autograd.grad(y, (x, gamma, beta), dy)
        tensors.update({f"{name}.x": x, f"{name}.gamma": gamma, f"{name}.beta": beta, f"{name}.running_mean0": rm0,
                        f"{name}.running_var0": rv0, f"{name}.running_mean1": rm, f"{name}.running_var1": rv,
                        f"{name}.y": y, f"{name}.dy": dy, f"{name}.dx": dx, f"{name}.dgamma": dg, f"{name}.dbeta": db})
        meta[name] = {"train": train, "relu": relu, "momentum": 0.1, "eps": 1e-5}
    save("batch_norm.safetensors", tensors, meta)


def op_fixtures():
    """Generic ops: inputs x0, x1, ...; output y; upstream gradient dy; input gradients dx0, dx1, ..."""
    pos = lambda *s: (torch.rand(*s, dtype=D) + 0.5)
    rn = lambda *s: torch.randn(*s, dtype=D)
    targets = [3, 0, 4, 1, 1, 2]
    cases = [
        ("add_broadcast", [rn(3, 4, 5), rn(4, 1)], lambda a, b: a + b, {}),
        ("sub_broadcast", [rn(3, 4, 5), rn(5)], lambda a, b: a - b, {}),
        ("mul_broadcast", [rn(3, 4, 5), rn(3, 1, 5)], lambda a, b: a * b, {}),
        ("div_broadcast", [rn(3, 4, 5), pos(4, 5)], lambda a, b: a / b, {}),
        ("exp", [rn(4, 5)], torch.exp, {}),
        ("log", [pos(4, 5)], torch.log, {}),
        ("sqrt", [pos(4, 5)], torch.sqrt, {}),
        ("square", [rn(4, 5)], torch.square, {}),
        ("relu", [rn(4, 5)], torch.relu, {}),
        ("scale", [rn(4, 5)], lambda a: a * -2.5, {"s": -2.5}),
        ("sum_axis1", [rn(3, 4, 5)], lambda a: a.sum(1), {"axes": [1], "keepdim": False}),
        ("mean_axes02_keepdim", [rn(3, 4, 5)], lambda a: a.mean((0, 2), keepdim=True), {"axes": [0, 2], "keepdim": True}),
        ("sum_all", [rn(3, 4)], lambda a: a.sum(), {"axes": [], "keepdim": False}),
        ("softmax", [rn(5, 7)], lambda a: torch.softmax(a, -1), {}),
        ("log_softmax", [rn(5, 7)], lambda a: torch.log_softmax(a, -1), {}),
        ("cross_entropy", [rn(6, 5)], lambda a: F.cross_entropy(a, torch.tensor(targets)), {"targets": targets}),
        ("matmul", [rn(3, 4), rn(4, 5)], lambda a, b: a @ b, {"ta": False, "tb": False}),
        ("matmul_ta", [rn(4, 3), rn(4, 5)], lambda a, b: a.T @ b, {"ta": True, "tb": False}),
        ("matmul_tb", [rn(3, 4), rn(5, 4)], lambda a, b: a @ b.T, {"ta": False, "tb": True}),
        ("matmul_batched", [rn(2, 3, 4), rn(2, 4, 5)], lambda a, b: a @ b, {"ta": False, "tb": False}),
        ("matmul_batched_shared", [rn(2, 3, 4), rn(4, 5)], lambda a, b: a @ b, {"ta": False, "tb": False}),
        ("linear", [rn(4, 6), rn(3, 6), rn(3)], lambda x, w, b: F.linear(x, w, b), {}),
        ("transpose", [rn(2, 3, 4)], lambda a: a.transpose(0, 2), {"a": 0, "b": 2}),
        ("permute", [rn(2, 3, 4)], lambda a: a.permute(1, 2, 0), {"perm": [1, 2, 0]}),
        ("concat_axis1", [rn(2, 3), rn(2, 2)], lambda a, b: torch.cat([a, b], 1), {"axis": 1}),
        ("slice_axis1", [rn(3, 4, 2)], lambda a: a[:, 1:3], {"axis": 1, "start": 1, "len": 2}),
        ("index_select_axis0", [rn(3, 4)], lambda a: a[[2, 0, 2]], {"axis": 0, "indices": [2, 0, 2]}),
        ("l2_normalize", [rn(4, 6)], lambda a: F.normalize(a, dim=-1, eps=1e-12), {"eps": 1e-12}),
        ("cosine_similarity", [rn(4, 6), rn(4, 6)], lambda a, b: F.cosine_similarity(a, b, dim=-1, eps=1e-8), {"eps": 1e-8}),
        ("global_avg_pool", [rn(2, 2, 3, 3, 4)], lambda a: a.mean((1, 2, 3)), {}),
        ("broadcast_to", [rn(1, 4)], lambda a: a.expand(3, 4), {"shape": [3, 4]}),
    ]
    tensors, meta = {}, {}
    for name, xs, fn, params in cases:
        xs = [x.clone().requires_grad_(True) for x in xs]
        y = fn(*xs)
        dy = torch.randn_like(y)
        grads = torch.autograd.grad(y, xs, dy)
        for i, (x, g) in enumerate(zip(xs, grads)):
            tensors[f"{name}.x{i}"] = x
            tensors[f"{name}.dx{i}"] = g
        tensors[f"{name}.y"] = y
        tensors[f"{name}.dy"] = dy
        meta[name] = dict(params, inputs=len(xs))
    save("ops.safetensors", tensors, meta)


class Bottleneck(torch.nn.Module):
    def __init__(self, cin, cinner, cout, temporal, stride):
        super().__init__()
        kt = 3 if temporal else 1
        self.conv_a = torch.nn.Conv3d(cin, cinner, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.bn_a = torch.nn.BatchNorm3d(cinner)
        self.conv_b = torch.nn.Conv3d(cinner, cinner, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.bn_b = torch.nn.BatchNorm3d(cinner)
        self.conv_c = torch.nn.Conv3d(cinner, cout, 1, bias=False)
        self.bn_c = torch.nn.BatchNorm3d(cout)
        self.shortcut = None
        if cin != cout or stride != 1:
            self.shortcut = torch.nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False)
            self.bn_s = torch.nn.BatchNorm3d(cout)

    def forward(self, x):
        y = F.relu(self.bn_a(self.conv_a(x)))
        y = F.relu(self.bn_b(self.conv_b(y)))
        y = self.bn_c(self.conv_c(y))
        s = x if self.shortcut is None else self.bn_s(self.shortcut(x))
        return F.relu(y + s)


class TinySlowResNet(torch.nn.Module):
    """Stem 1x7x7/s1x2x2 + BN + ReLU + max-pool 1x3x3/s1x2x2, a strided bottleneck with a 3x1x1 temporal conv and a
    projection shortcut, an identity bottleneck, global average pool, linear head."""

    def __init__(self, classes=5):
        super().__init__()
        self.stem_conv = torch.nn.Conv3d(3, 8, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.stem_bn = torch.nn.BatchNorm3d(8)
        self.block1 = Bottleneck(8, 4, 16, temporal=True, stride=2)
        self.block2 = Bottleneck(16, 4, 16, temporal=False, stride=1)
        self.head = torch.nn.Linear(16, classes)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem_conv(x)))
        x = F.max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1))
        x = self.block2(self.block1(x))
        return self.head(x.mean((2, 3, 4)))


def resnet_fixture():
    model = TinySlowResNet().to(D)
    with torch.no_grad():  # non-trivial affine parameters so that their gradients are tested meaningfully
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    model.train()
    x = torch.randn(2, 3, 4, 16, 16, dtype=D)
    targets = [1, 4]
    params0 = {k: v.detach().clone() for k, v in model.state_dict().items() if "num_batches" not in k}
    loss = F.cross_entropy(model(x), torch.tensor(targets))
    model.zero_grad()
    loss.backward()
    tensors = {"input": to_cl(x), "loss": loss.detach().reshape(1)}
    names = []
    for k, v in params0.items():
        v = w_cl(v) if v.dim() == 5 else v
        tensors[f"param.{k}"] = v
        names.append(k)
    for k, p in model.named_parameters():
        tensors[f"grad.{k}"] = w_cl(p.grad) if p.dim() == 5 else p.grad
    for k, v in model.state_dict().items():
        if "running" in k:
            tensors[f"after.{k}"] = v
    save("tiny_resnet.safetensors", tensors, {"targets": targets, "names": names})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    conv_fixtures()
    pool_fixtures()
    bn_fixtures()
    op_fixtures()
    resnet_fixture()
