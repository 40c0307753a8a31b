# Golden-fixture generator for Optim.NN (tensors, autodiff, layers, losses), PyTorch 1.13 reference.
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_nn.py
#
# It writes nn.json next to itself. Output is deterministic: every case seeds torch.manual_seed(<seed>),
# and torch runs single-threaded.
#
# Layout: {"torch_version": str, "cases": {NAME: CASE}}. Tensors are {"shape": [...], "data": [flat float32
# values]} (class-index targets are stored as floats). Per case:
#
#   ops_<op>            "inputs": {name: tensor}, "weight": tensor w, "output": op(inputs), "grads": {name: d/d input
#                       of sum(output * w)} for each input that requires a gradient. The C# test applies the same op.
#   mlp_cross_entropy   Linear(5,6) -> ReLU -> Linear(6,3) -> CrossEntropyLoss on fixed x [4,5] and targets [4]:
#                       "params" (w1, b1, w2, b2), "x", "target", "logits", "loss", "grads" (w1, b1, w2, b2, x).
#   mse                 MSELoss(input, target), both requiring grad: "loss", "grads".
#   cross_entropy_extreme / log_softmax_extreme
#                       logits of +-1000 (and equal rows): outputs and gradients, all finite.
#   seed_per_sample_sgd / seed_accumulated_mse
#                       seed 003's two loops, line for line (per-sample SGD; MSELoss over slices with gradients
#                       accumulated over 2 batches): "initial" and final "params" of the Linear(1, 1), "losses".
#   mlp_adam_accumulate the seeds' gradient-accumulation loop: per step zero_grad, then 2 micro-batches of
#                       loss.backward(), then Adam(lr=1e-2).step(); "params" before, "batches" (x, target per
#                       micro-batch), "steps": params after each of 3 steps, "losses": every micro-batch loss.

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
    return {"shape": list(x.shape), "data": x.reshape(-1).tolist()}


def op_case(seed, inputs, fn, positive=()):
    """inputs: {name: (shape, requires_grad)}; names in `positive` get values in (0.5, 2)."""
    torch.manual_seed(seed)
    tensors = {}
    for name, (shape, rg) in inputs.items():
        v = torch.rand(shape) * 1.5 + 0.5 if name in positive else torch.randn(shape)
        tensors[name] = v.requires_grad_(rg)
    out = fn(**tensors)
    w = torch.randn(out.shape)
    (out * w).sum().backward()
    return {
        "inputs": {k: t(v) for k, v in tensors.items()},
        "weight": t(w),
        "output": t(out),
        "grads": {k: t(v.grad) for k, v in tensors.items() if v.requires_grad},
    }


cases = {}

# One case per op, broadcasting forms included.
cases["ops_add_same"] = op_case(1, {"a": ([3, 4], True), "b": ([3, 4], True)}, lambda a, b: a + b)
cases["ops_add_row"] = op_case(2, {"a": ([3, 4], True), "b": ([4], True)}, lambda a, b: a + b)
cases["ops_add_row2d"] = op_case(3, {"a": ([1, 4], True), "b": ([3, 4], True)}, lambda a, b: a + b)
cases["ops_sub_column"] = op_case(4, {"a": ([3, 4], True), "b": ([3, 1], True)}, lambda a, b: a - b)
cases["ops_mul_scalar_tensor"] = op_case(5, {"a": ([3, 4], True), "b": ([], True)}, lambda a, b: a * b)
cases["ops_mul_row"] = op_case(6, {"a": ([3, 4], True), "b": ([1, 4], True)}, lambda a, b: a * b)
cases["ops_div_row"] = op_case(7, {"a": ([3, 4], True), "b": ([4], True)}, lambda a, b: a / b, positive=("b",))
cases["ops_div_same"] = op_case(8, {"a": ([2, 5], True), "b": ([2, 5], True)}, lambda a, b: a / b, positive=("b",))
cases["ops_scalar_constants"] = op_case(9, {"a": ([2, 3], True)}, lambda a: (2.5 - a) * 3.0 / 4.0 + 1.5)
cases["ops_rdiv_constant"] = op_case(10, {"a": ([2, 3], True)}, lambda a: 2.0 / a, positive=("a",))
cases["ops_neg"] = op_case(11, {"a": ([5], True)}, lambda a: -a)
cases["ops_matmul"] = op_case(12, {"a": ([3, 5], True), "b": ([5, 4], True)}, lambda a, b: a @ b)
cases["ops_matmul_odd"] = op_case(13, {"a": ([7, 13], True), "b": ([13, 17], True)}, lambda a, b: a @ b)
cases["ops_transpose"] = op_case(14, {"a": ([3, 5], True)}, lambda a: a.t())
cases["ops_sum"] = op_case(15, {"a": ([3, 4], True)}, lambda a: a.sum())
cases["ops_sum_dim0"] = op_case(16, {"a": ([3, 4], True)}, lambda a: a.sum(0))
cases["ops_sum_dim1_keepdim"] = op_case(17, {"a": ([3, 4], True)}, lambda a: a.sum(1, keepdim=True))
cases["ops_mean"] = op_case(18, {"a": ([3, 4], True)}, lambda a: a.mean())
cases["ops_mean_dim_neg1"] = op_case(19, {"a": ([3, 4], True)}, lambda a: a.mean(-1))
cases["ops_mean_dim0_keepdim"] = op_case(20, {"a": ([3, 4], True)}, lambda a: a.mean(0, keepdim=True))
cases["ops_exp"] = op_case(21, {"a": ([3, 4], True)}, lambda a: a.exp())
cases["ops_log"] = op_case(22, {"a": ([3, 4], True)}, lambda a: a.log(), positive=("a",))
cases["ops_relu"] = op_case(23, {"a": ([4, 5], True)}, lambda a: a.relu())
cases["ops_tanh"] = op_case(24, {"a": ([3, 4], True)}, lambda a: a.tanh())
cases["ops_sigmoid"] = op_case(25, {"a": ([3, 4], True)}, lambda a: a.sigmoid())
cases["ops_pow2"] = op_case(26, {"a": ([3, 4], True)}, lambda a: a ** 2)
cases["ops_pow_fractional"] = op_case(27, {"a": ([3, 4], True)}, lambda a: a ** 1.5, positive=("a",))
cases["ops_log_softmax"] = op_case(28, {"a": ([3, 5], True)}, lambda a: F.log_softmax(a, dim=-1))
cases["ops_linear"] = op_case(29, {"x": ([4, 5], True), "w": ([3, 5], True), "b": ([3], True)}, lambda x, w, b: F.linear(x, w, b))
cases["ops_linear_vector"] = op_case(30, {"x": ([5], True), "w": ([3, 5], True), "b": ([3], True)}, lambda x, w, b: F.linear(x, w, b))
cases["ops_index_row"] = op_case(32, {"a": ([4, 3], True)}, lambda a: a[2] * a[-1])
cases["ops_index_element"] = op_case(33, {"a": ([5], True)}, lambda a: a[1] * a[3])
cases["ops_slice_rows"] = op_case(34, {"a": ([5, 3], True)}, lambda a: a[1:3] + a[3:5])
cases["ops_shared_subexpression"] = op_case(
    31, {"a": ([3, 4], True), "b": ([4], True)}, lambda a, b: (a * b).tanh() * (a * b) + a.exp() * a)


# A two-layer MLP with cross-entropy.
torch.manual_seed(100)
model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3))
x = torch.randn(4, 5, requires_grad=True)
target = torch.tensor([0, 2, 1, 2])
logits = model(x)
loss = nn.CrossEntropyLoss()(logits, target)
loss.backward()
cases["mlp_cross_entropy"] = {
    "params": [t(p) for p in model.parameters()],
    "x": t(x),
    "target": t(target.float()),
    "logits": t(logits),
    "loss": loss.item(),
    "grads": [t(p.grad) for p in model.parameters()] + [t(x.grad)],
}

# MSE with both sides requiring a gradient.
torch.manual_seed(101)
inp = torch.randn(3, 4, requires_grad=True)
tgt = torch.randn(3, 4, requires_grad=True)
loss = nn.MSELoss()(inp, tgt)
loss.backward()
cases["mse"] = {"input": t(inp), "target": t(tgt), "loss": loss.item(), "grads": [t(inp.grad), t(tgt.grad)]}

# Extreme logits stay finite.
logits = torch.tensor([[1000.0, -1000.0, 0.0, 1.0],
                       [-1000.0, -1000.0, -1000.0, -1000.0],
                       [1000.0, 1000.0, -1000.0, 0.0]], requires_grad=True)
target = torch.tensor([1, 2, 0])
loss = F.cross_entropy(logits, target)
loss.backward()
cases["cross_entropy_extreme"] = {"logits": t(logits), "target": t(target.float()), "loss": loss.item(), "grad": t(logits.grad)}

torch.manual_seed(102)
logits = torch.tensor([[1000.0, -1000.0, 0.0, 1.0], [-1000.0, -1000.0, -1000.0, -1000.0]], requires_grad=True)
out = F.log_softmax(logits, dim=1)
w = torch.randn(out.shape)
(out * w).sum().backward()
cases["log_softmax_extreme"] = {"logits": t(logits), "weight": t(w), "output": t(out), "grad": t(logits.grad)}

# The seeds' gradient-accumulation loop with Adam.
torch.manual_seed(103)
model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
initial = [t(p) for p in model.parameters()]
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()
batches = [(torch.randn(5, 6), torch.randint(0, 4, (5,))) for _ in range(2)]
steps, losses = [], []
for step in range(3):
    optimizer.zero_grad()
    for xb, yb in batches:
        loss = criterion(model(xb), yb)
        loss.backward()
        losses.append(loss.item())
    optimizer.step()
    steps.append([t(p) for p in model.parameters()])
cases["mlp_adam_accumulate"] = {
    "params": initial,
    "batches": [{"x": t(xb), "target": t(yb.float())} for xb, yb in batches],
    "steps": steps,
    "losses": losses,
}

# Seed 003's loops, line for line: per-sample SGD on (output - y[i]) ** 2, then MSELoss over slices x[i:i + 2] with
# gradients accumulated over 2 batches. "params": final weight and bias; "losses": every loss.item().
torch.manual_seed(104)
model = nn.Linear(1, 1)
initial = [t(p) for p in model.parameters()]
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.tensor([[1.0], [2.0], [3.0]])
y = torch.tensor([[2.0], [3.0], [4.0]])
losses = []
for epoch in range(5):
    for i in range(len(x)):
        optimizer.zero_grad()
        output = model(x[i])
        loss = (output - y[i]) ** 2
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
cases["seed_per_sample_sgd"] = {"initial": initial, "params": [t(p) for p in model.parameters()], "losses": losses}

torch.manual_seed(105)
x_train = torch.tensor([[1.0], [2.0], [3.0], [4.0], [5.0]])
y_train = torch.tensor([[2.0], [4.0], [6.0], [8.0], [10.0]])
model = nn.Linear(1, 1)
initial = [t(p) for p in model.parameters()]
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
batch_size, accumulation_steps, losses = 2, 2, []
for epoch in range(5):
    optimizer.zero_grad()
    for i in range(0, len(x_train), batch_size):
        x_batch = x_train[i:i + batch_size]
        y_batch = y_train[i:i + batch_size]
        outputs = model(x_batch)
        loss = criterion(outputs, y_batch)
        loss.backward()
        if (i // batch_size + 1) % accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
        losses.append(loss.item())
cases["seed_accumulated_mse"] = {"initial": initial, "params": [t(p) for p in model.parameters()], "losses": losses}

with open(os.path.join(HERE, "nn.json"), "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"nn.json: {len(cases)} cases")
