# Golden-fixture generator for Optim.NN's tensor ops on rank 3 and 4 (NCHW) tensors, PyTorch 1.13 reference:
# broadcasting of any ranks, reductions along any dimension, log-softmax, row indexing, elementwise functions,
# Linear over [*, in], and the shape and selection ops (reshape, view, flatten, nn.Flatten, permute, squeeze,
# unsqueeze, max, argmax, eq).
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_tensor4.py
#
# It writes tensor4.json next to itself. Output is deterministic: every case seeds torch.manual_seed(<seed>),
# and torch runs single-threaded.
#
# Layout: {"torch_version": str, "cases": {NAME: CASE}}. Tensors are {"shape": [...], "data": [flat float32
# values]}; integer and bool results (indices, comparisons) are stored as floats, as Optim.NN holds them. Per case:
#   "inputs": {name: tensor}, every input requiring a gradient; "output": op(inputs); and, when the output records a
#   gradient, "weight": a tensor w of the output's shape and "grads": {name: d/d input of sum(output * w)}. Outputs
#   that record no gradient (argmax, indices, eq) have no "weight" and empty "grads". The C# test
#   (Tensor4GoldenTests.cs) applies the same op to the same inputs.

import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": x.float().reshape(-1).tolist()}


def op_case(seed, inputs, fn, positive=(), integers=()):
    """inputs: {name: shape or a fixed tensor}; names in `positive` get values in (0.5, 2), names in `integers`
    whole numbers in [0, 3) (so that maxima tie and comparisons hit)."""
    torch.manual_seed(seed)
    tensors = {}
    for name, spec in inputs.items():
        if isinstance(spec, torch.Tensor):
            v = spec.clone()
        elif name in positive:
            v = torch.rand(spec) * 1.5 + 0.5
        elif name in integers:
            v = torch.randint(0, 3, spec).float()
        else:
            v = torch.randn(spec)
        tensors[name] = v.requires_grad_(True)
    out = fn(**tensors)
    case = {"inputs": {k: t(v) for k, v in tensors.items()}, "output": t(out), "grads": {}}
    if out.requires_grad:
        w = torch.randn(out.shape)
        (out * w).sum().backward()
        case["weight"] = t(w)
        case["grads"] = {k: t(v.grad) for k, v in tensors.items() if v.grad is not None}
    return case


cases = {}

# Broadcasting, forward and backward (the backward sums over the broadcast dimensions).
cases["add_4d_channels"] = op_case(1, {"a": [2, 3, 4, 5], "b": [3, 1, 1]}, lambda a, b: a + b)
cases["mul_outer_4d"] = op_case(2, {"a": [2, 1, 4, 1], "b": [1, 3, 1, 5]}, lambda a, b: a * b)
cases["add_2d_over_4d"] = op_case(3, {"a": [4, 5], "b": [2, 3, 4, 5]}, lambda a, b: a + b)
cases["sub_3d_row"] = op_case(4, {"a": [2, 3, 4], "b": [4]}, lambda a, b: a - b)
cases["div_4d_by_channels"] = op_case(5, {"a": [2, 3, 4, 5], "b": [1, 3, 1, 1]}, lambda a, b: a / b, positive=("b",))
cases["div_row_by_4d"] = op_case(6, {"a": [1, 5], "b": [2, 3, 4, 5]}, lambda a, b: a / b, positive=("b",))
cases["mul_scalar_4d"] = op_case(7, {"a": [2, 3, 2, 2], "b": []}, lambda a, b: a * b)
cases["sub_3d_crossed"] = op_case(8, {"a": [3, 1, 4], "b": [1, 5, 1]}, lambda a, b: a - b)
cases["add_same_4d"] = op_case(9, {"a": [2, 2, 3, 3], "b": [2, 2, 3, 3]}, lambda a, b: a + b)
cases["mul_3d_column"] = op_case(10, {"a": [2, 3, 4], "b": [2, 3, 1]}, lambda a, b: a * b)
cases["div_3d_by_4d_mixed"] = op_case(11, {"a": [3, 1, 5], "b": [2, 1, 4, 1]}, lambda a, b: a / b, positive=("b",))
cases["constants_4d"] = op_case(12, {"a": [2, 3, 2, 2]}, lambda a: (2.5 - a) * 3.0 / 4.0 + 1.5)

# Reductions along every dimension.
for d in range(4):
    cases[f"sum_4d_dim{d}"] = op_case(20 + d, {"a": [2, 3, 4, 5]}, lambda a, d=d: a.sum(d))
    cases[f"mean_4d_dim{d}_keepdim"] = op_case(24 + d, {"a": [2, 3, 4, 5]}, lambda a, d=d: a.mean(d, keepdim=True))
cases["sum_4d_dim_neg3_keepdim"] = op_case(28, {"a": [2, 3, 4, 5]}, lambda a: a.sum(-3, keepdim=True))
cases["mean_3d_dim1"] = op_case(29, {"a": [3, 4, 5]}, lambda a: a.mean(1))
cases["sum_3d_dim_neg1"] = op_case(30, {"a": [3, 4, 5]}, lambda a: a.sum(-1))
cases["sum_4d_all"] = op_case(31, {"a": [2, 3, 4, 5]}, lambda a: a.sum())
cases["mean_3d_all"] = op_case(32, {"a": [3, 4, 5]}, lambda a: a.mean())
cases["mean_spatial_4d"] = op_case(33, {"a": [2, 3, 4, 5]}, lambda a: a.mean(3).mean(2))

# Log-softmax along the last dimension.
cases["log_softmax_3d"] = op_case(40, {"a": [2, 3, 5]}, lambda a: F.log_softmax(a, dim=-1))
cases["log_softmax_4d"] = op_case(41, {"a": [2, 3, 2, 4]}, lambda a: F.log_softmax(a, dim=3))

# Row indexing.
cases["index_3d"] = op_case(50, {"a": [3, 2, 4]}, lambda a: a[1] * a[-1])
cases["index_4d"] = op_case(51, {"a": [4, 2, 3, 2]}, lambda a: a[2] + a[0])
cases["slice_4d"] = op_case(52, {"a": [5, 2, 3, 2]}, lambda a: a[1:3] * a[3:5])
cases["index_twice_4d"] = op_case(53, {"a": [3, 4, 2, 2]}, lambda a: a[1][2])

# Elementwise functions on rank 3 and 4.
cases["neg_4d"] = op_case(60, {"a": [2, 3, 2, 2]}, lambda a: -a)
cases["exp_3d"] = op_case(61, {"a": [2, 3, 4]}, lambda a: a.exp())
cases["log_4d"] = op_case(62, {"a": [2, 3, 2, 2]}, lambda a: a.log(), positive=("a",))
cases["relu_4d"] = op_case(63, {"a": [2, 3, 4, 5]}, lambda a: a.relu())
cases["tanh_3d"] = op_case(64, {"a": [2, 3, 4]}, lambda a: a.tanh())
cases["sigmoid_4d"] = op_case(65, {"a": [2, 3, 2, 2]}, lambda a: a.sigmoid())
cases["pow2_4d"] = op_case(66, {"a": [2, 3, 2, 2]}, lambda a: a ** 2)
cases["pow_fractional_3d"] = op_case(67, {"a": [2, 3, 4]}, lambda a: a ** 1.5, positive=("a",))

# Linear over [*, in].
cases["linear_3d"] = op_case(70, {"x": [2, 3, 5], "w": [4, 5], "b": [4]}, lambda x, w, b: F.linear(x, w, b))
cases["linear_4d_no_bias"] = op_case(71, {"x": [2, 2, 3, 5], "w": [4, 5]}, lambda x, w: F.linear(x, w))

# Shapes.
cases["reshape_3d_inferred"] = op_case(80, {"a": [2, 3, 4]}, lambda a: a.reshape(4, -1))
cases["reshape_2d_to_4d"] = op_case(81, {"a": [8, 6]}, lambda a: a.reshape(-1, 2, 3, 2))
cases["reshape_to_scalar"] = op_case(82, {"a": [1, 1, 1]}, lambda a: a.reshape(()))
cases["view_4d"] = op_case(83, {"a": [2, 3, 4, 5]}, lambda a: a.view(6, 20) * a.view(6, 20))
cases["flatten_all_4d"] = op_case(84, {"a": [2, 3, 2, 2]}, lambda a: torch.flatten(a))
cases["flatten_from_1"] = op_case(85, {"a": [2, 3, 2, 2]}, lambda a: torch.flatten(a, 1))
cases["flatten_middle"] = op_case(86, {"a": [2, 3, 4, 5]}, lambda a: torch.flatten(a, 1, 2))
cases["flatten_scalar"] = op_case(87, {"a": []}, lambda a: torch.flatten(a))
cases["flatten_layer"] = op_case(88, {"a": [2, 3, 2, 2]}, lambda a: nn.Flatten()(a))
cases["flatten_layer_negative_dims"] = op_case(89, {"a": [2, 3, 2, 2]}, lambda a: nn.Flatten(-3, -2)(a))
cases["permute_4d_nhwc"] = op_case(90, {"a": [2, 3, 4, 5]}, lambda a: a.permute(0, 2, 3, 1))
cases["permute_3d"] = op_case(91, {"a": [2, 3, 4]}, lambda a: a.permute(2, 0, 1))
cases["permute_negative_dims"] = op_case(92, {"a": [2, 3, 4]}, lambda a: a.permute(-1, 0, 1) + a.permute(2, 0, 1))
cases["permute_2d"] = op_case(93, {"a": [3, 5]}, lambda a: a.permute(1, 0))
cases["squeeze_dim"] = op_case(94, {"a": [2, 1, 3, 1]}, lambda a: a.squeeze(1))
cases["squeeze_negative_dim"] = op_case(95, {"a": [2, 1, 3, 1]}, lambda a: a.squeeze(-1))
cases["squeeze_not_one"] = op_case(96, {"a": [2, 1, 3, 1]}, lambda a: a.squeeze(0))
cases["squeeze_all"] = op_case(97, {"a": [2, 1, 3, 1]}, lambda a: a.squeeze())
cases["unsqueeze_front"] = op_case(98, {"a": [2, 3, 4]}, lambda a: a.unsqueeze(0))
cases["unsqueeze_end"] = op_case(99, {"a": [2, 3, 4]}, lambda a: a.unsqueeze(-1))
cases["unsqueeze_middle"] = op_case(100, {"a": [2, 3, 4]}, lambda a: a.unsqueeze(2))

# Maxima and comparisons; integer inputs tie.
cases["max_all_4d"] = op_case(110, {"a": [2, 3, 4, 5]}, lambda a: a.max())
cases["max_all_ties"] = op_case(111, {"a": torch.tensor([[[1.0, 3.0], [3.0, 2.0]], [[3.0, 0.0], [-1.0, 2.0]]])}, lambda a: a.max())
cases["max_dim1_4d_values"] = op_case(112, {"a": [2, 3, 4, 5]}, lambda a: a.max(1).values)
cases["max_dim1_4d_indices"] = op_case(112, {"a": [2, 3, 4, 5]}, lambda a: a.max(1).indices)
cases["max_dim_neg1_keepdim_values"] = op_case(113, {"a": [2, 3, 4]}, lambda a: a.max(-1, keepdim=True).values)
cases["max_dim_neg1_keepdim_indices"] = op_case(113, {"a": [2, 3, 4]}, lambda a: a.max(-1, keepdim=True).indices)
cases["max_dim0_ties_values"] = op_case(114, {"a": [4, 3, 5]}, lambda a: a.max(0).values, integers=("a",))
cases["max_dim0_ties_indices"] = op_case(114, {"a": [4, 3, 5]}, lambda a: a.max(0).indices, integers=("a",))
cases["argmax_4d_dim1"] = op_case(115, {"a": [2, 3, 4, 5]}, lambda a: a.argmax(1))
cases["argmax_3d_keepdim"] = op_case(116, {"a": [2, 3, 4]}, lambda a: a.argmax(-1, keepdim=True))
cases["argmax_ties"] = op_case(117, {"a": [4, 3, 5]}, lambda a: a.argmax(2), integers=("a",))
cases["argmax_flat"] = op_case(118, {"a": [2, 3, 4]}, lambda a: a.argmax())
cases["eq_broadcast"] = op_case(119, {"a": [2, 3, 4], "b": [3, 4]}, lambda a, b: a == b, integers=("a", "b"))
cases["eq_4d_crossed"] = op_case(120, {"a": [2, 1, 4, 1], "b": [1, 3, 1, 5]}, lambda a, b: a == b, integers=("a", "b"))
cases["eq_constant"] = op_case(121, {"a": [2, 3, 4]}, lambda a: a == 1.0, integers=("a",))
cases["accuracy"] = op_case(122, {"logits": [16, 5], "labels": torch.randint(0, 5, (16,), generator=torch.Generator().manual_seed(123)).float()},
                            lambda logits, labels: (logits.argmax(1) == labels).float().mean())

# A small convolution-free CNN head: NCHW features pooled, flattened, classified, log-softmaxed.
cases["cnn_head"] = op_case(
    130, {"x": [2, 3, 4, 4], "scale": [1, 3, 1, 1], "w": [5, 6], "b": [5]},
    lambda x, scale, w, b: F.log_softmax(
        F.linear(torch.flatten((x * scale).relu().reshape(2, 3, 2, 8).mean(-1), 1), w, b), dim=-1))

with open(os.path.join(HERE, "tensor4.json"), "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"tensor4.json: {len(cases)} cases")
