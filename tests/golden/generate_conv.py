# Golden-fixture generator for Optim.NN's convolution and pooling, PyTorch 1.13 reference.
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_conv.py
#
# It writes conv.json next to itself. Output is deterministic: every case seeds torch.manual_seed(<seed>), and
# torch runs single-threaded.
#
# Layout: {"torch_version": str, "cases": {NAME: CASE}}. Tensors are {"shape": [...], "data": [flat float32 values]}.
#
#   conv_<name>      F.conv2d(x, weight, bias, stride, padding): "stride" and "padding" as [h, w] pairs, "inputs"
#                    {x, weight[, bias]}, "w" (the random weight of the loss), "output", and "grads": d/d input of
#                    sum(output * w) for x, weight and bias.
#   maxpool_<name>   F.max_pool2d(x, kernel, stride, padding), "kernel"/"stride"/"padding" pairs, "inputs" {x}, "w",
#   avgpool_<name>   "output", "grads" {x}. Max pooling cases on small whole numbers have ties in most windows.
#   net_<c>ch        the target network Conv2d(c,32,5,p=2) -> MaxPool2d(2) -> Conv2d(32,32,5,p=2) -> MaxPool2d(2) ->
#                    Conv2d(32,64,5,p=2) -> MaxPool2d(2) -> Flatten -> Linear(1024,64) -> Linear(64,10) with
#                    CrossEntropyLoss on a batch of 2. Its parameters and input are not stored: each value is
#                    pattern(index, salt) * scale (see below; the C# test computes the same), in PyTorch's parameter
#                    order. Stored: "logits", "loss", "grad_x" (all of it) and "grads", one per parameter, as
#                    {"stride": k, "data": every k-th element from 0, "sum": the sum of all}: k is 1 for tensors of
#                    up to 4096 elements, else the smallest k that keeps at most 4096.

import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))


def floats(x):
    """Each float32 as the shortest decimal that reads back as it (a third of float64's repr)."""
    return [float(repr(v)) for v in x.detach().reshape(-1).numpy().astype(np.float32)]


def t(x):
    return {"shape": list(x.shape), "data": floats(x)}


def pair(v):
    return list(v) if isinstance(v, tuple) else [v, v]


def conv_case(seed, x_shape, w_shape, stride, padding, bias=True):
    torch.manual_seed(seed)
    x = torch.randn(x_shape, requires_grad=True)
    # weights of a trained network's size (std 1/sqrt(fan in)), so that outputs are sums of small terms, not of
    # hundreds of unit products whose float32 rounding alone exceeds the absolute tolerance near zero
    w = (torch.randn(w_shape) / (w_shape[1] * w_shape[2] * w_shape[3]) ** 0.5).requires_grad_(True)
    b = torch.randn(w_shape[0], requires_grad=True) if bias else None
    out = F.conv2d(x, w, b, stride=stride, padding=padding)
    loss_w = torch.randn(out.shape)
    (out * loss_w).sum().backward()
    inputs = {"x": t(x), "weight": t(w)}
    grads = {"x": t(x.grad), "weight": t(w.grad)}
    if bias:
        inputs["bias"] = t(b)
        grads["bias"] = t(b.grad)
    return {"stride": pair(stride), "padding": pair(padding), "inputs": inputs, "w": t(loss_w), "output": t(out), "grads": grads}


def pool_case(seed, fn, x_shape, kernel, stride, padding, ties=False):
    torch.manual_seed(seed)
    x = (torch.randint(0, 3, x_shape).float() if ties else torch.randn(x_shape)).requires_grad_(True)
    out = fn(x, kernel, stride, padding)
    loss_w = torch.randn(out.shape)
    (out * loss_w).sum().backward()
    return {"kernel": pair(kernel), "stride": pair(stride if stride is not None else kernel), "padding": pair(padding),
            "inputs": {"x": t(x)}, "w": t(loss_w), "output": t(out), "grads": {"x": t(x.grad)}}


cases = {}

# Convolutions: kernel sizes 1, 3, 5; strides 1, 2; paddings 0, 1, 2; batches of 1 and several; rectangular images
# and kernels; pairs; no bias; one unbatched image.
cases["conv_k1"] = conv_case(1, [2, 3, 5, 4], [4, 3, 1, 1], 1, 0)
cases["conv_k1_stride2_pad1"] = conv_case(2, [2, 3, 5, 6], [2, 3, 1, 1], 2, 1)
cases["conv_k3"] = conv_case(3, [1, 2, 6, 6], [3, 2, 3, 3], 1, 0)
cases["conv_k3_pad1"] = conv_case(4, [3, 4, 7, 5], [5, 4, 3, 3], 1, 1)
cases["conv_k3_stride2"] = conv_case(5, [2, 3, 9, 8], [4, 3, 3, 3], 2, 0)
cases["conv_k3_stride2_pad1"] = conv_case(6, [2, 2, 8, 11], [3, 2, 3, 3], 2, 1)
cases["conv_k5_pad2"] = conv_case(7, [2, 3, 8, 8], [6, 3, 5, 5], 1, 2)
cases["conv_k5_stride2_pad2"] = conv_case(8, [3, 2, 9, 7], [4, 2, 5, 5], 2, 2)
cases["conv_k5_valid"] = conv_case(9, [1, 1, 5, 5], [2, 1, 5, 5], 1, 0)
cases["conv_rect_kernel"] = conv_case(10, [2, 3, 6, 9], [4, 3, 2, 4], 1, 0)
cases["conv_pairs"] = conv_case(11, [2, 2, 7, 10], [3, 2, 3, 5], (2, 1), (1, 2))
cases["conv_no_bias"] = conv_case(12, [2, 3, 6, 6], [4, 3, 3, 3], 1, 1, bias=False)
cases["conv_unbatched"] = conv_case(13, [3, 6, 5], [2, 3, 3, 3], 1, 1)
cases["conv_one_channel"] = conv_case(14, [4, 1, 12, 12], [8, 1, 5, 5], 1, 2)
cases["conv_wide_padding"] = conv_case(15, [1, 2, 3, 3], [2, 2, 3, 3], 2, 2)
cases["conv_deep"] = conv_case(16, [3, 32, 8, 8], [16, 32, 5, 5], 1, 2)
cases["conv_many_images"] = conv_case(17, [9, 3, 6, 7], [5, 3, 3, 3], 1, 1)

# Pooling.
mp = lambda x, k, s, p: F.max_pool2d(x, k, s, p)
ap = lambda x, k, s, p: F.avg_pool2d(x, k, s, p)
cases["maxpool_2"] = pool_case(20, mp, [2, 3, 8, 8], 2, None, 0)
cases["maxpool_2_ties"] = pool_case(21, mp, [2, 3, 8, 6], 2, None, 0, ties=True)
cases["maxpool_3_stride2_ties"] = pool_case(22, mp, [2, 2, 9, 7], 3, 2, 0, ties=True)
cases["maxpool_3_stride1_pad1_ties"] = pool_case(23, mp, [1, 2, 6, 5], 3, 1, 1, ties=True)
cases["maxpool_2_odd"] = pool_case(24, mp, [2, 2, 7, 9], 2, None, 0)
cases["maxpool_rect"] = pool_case(25, mp, [2, 3, 8, 9], (2, 3), (2, 1), (1, 1))
cases["maxpool_unbatched"] = pool_case(26, mp, [3, 6, 6], 2, 1, 1)
cases["maxpool_5_stride2_pad2"] = pool_case(27, mp, [1, 2, 10, 10], 5, 2, 2, ties=True)
cases["avgpool_2"] = pool_case(30, ap, [2, 3, 8, 8], 2, None, 0)
cases["avgpool_3_stride2"] = pool_case(31, ap, [2, 2, 9, 7], 3, 2, 0)
cases["avgpool_3_stride1_pad1"] = pool_case(32, ap, [1, 2, 6, 5], 3, 1, 1)
cases["avgpool_rect"] = pool_case(33, ap, [2, 3, 8, 9], (2, 3), (2, 1), (1, 1))
cases["avgpool_unbatched"] = pool_case(34, ap, [3, 7, 6], 2, None, 0)
cases["avgpool_5_stride2_pad2"] = pool_case(35, ap, [1, 2, 10, 10], 5, 2, 2)


def pattern(n, salt, scale):
    """Values in [-scale, scale], exact in float64 until the final rounding: ((i·7919 + salt·104729) mod 2001 − 1000) / 1000."""
    i = torch.arange(n, dtype=torch.float64)
    return ((torch.remainder(i * 7919 + salt * 104729, 2001) - 1000) / 1000 * scale).float()


def sampled(g):
    flat = g.detach().reshape(-1)
    k = 1 if flat.numel() <= 4096 else -(-flat.numel() // 4096)
    return {"shape": list(g.shape), "stride": k, "data": floats(flat[::k]), "sum": flat.double().sum().item()}


def net_case(channels):
    model = nn.Sequential(
        nn.Conv2d(channels, 32, 5, padding=2), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 5, padding=2), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1024, 64), nn.Linear(64, 10))
    with torch.no_grad():
        for salt, p in enumerate(model.parameters(), start=1):
            fan_in = p.shape[1] * (p.shape[2] * p.shape[3] if p.dim() == 4 else 1) if p.dim() > 1 else None
            scale = 1 / (fan_in ** 0.5) if fan_in else 0.1
            p.copy_(pattern(p.numel(), salt, scale).reshape(p.shape))
    x = pattern(2 * channels * 32 * 32, 0, 1.0).reshape(2, channels, 32, 32).requires_grad_(True)
    target = torch.tensor([3, 7])
    logits = model(x)
    loss = nn.CrossEntropyLoss()(logits, target)
    loss.backward()
    return {"channels": channels, "target": [3, 7], "logits": t(logits), "loss": loss.item(), "grad_x": t(x.grad),
            "grads": [sampled(p.grad) for p in model.parameters()]}


cases["net_3ch"] = net_case(3)
cases["net_1ch"] = net_case(1)

with open(os.path.join(HERE, "conv.json"), "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"conv.json: {len(cases)} cases")
