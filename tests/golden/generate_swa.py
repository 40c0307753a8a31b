# Golden fixtures for torch.optim.swa_utils (AveragedModel, the averaging functions, update_bn) over Optim.NN models.
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_swa.py
#
# It writes swa.json next to itself. Output is deterministic: every case seeds torch.manual_seed(<seed>), and torch
# runs single-threaded.
#
# THE REFERENCE IS PYTORCH 2.x. Torch 1.13's swa_utils has AveragedModel(model, device, avg_fn, use_buffers) and
# update_bn, but not multi_avg_fn, get_ema_multi_avg_fn, get_swa_multi_avg_fn, get_ema_avg_fn or get_swa_avg_fn
# (2.1+), and 2.x changed two behaviours. So the functions and classes below transcribe 2.x's torch/optim/swa_utils.py
# with torch 1.13 ops, in 2.x's order, on the CPU:
#
#   get_ema_multi_avg_fn(decay)  floating point: torch._foreach_lerp_(ema, current, 1 - decay), here one lerp_ per
#                                tensor (2.x's CPU foreach falls back to that); integers (num_batches_tracked):
#                                ema.copy_(ema * decay + current * (1 - decay)), which truncates toward zero
#   get_swa_multi_avg_fn()       floating point: lerp_ by 1 / (n_averaged + 1) (a float32 0-d tensor, passed as a
#                                scalar); integers: addcdiv_, which raises in 2.x and 1.13 alike ("Integer division
#                                with addcdiv is no longer supported"), so no case averages integer buffers with it
#   get_ema_avg_fn(decay)        decay * ema + (1 - decay) * current
#   get_swa_avg_fn()             averaged + (current - averaged) / (n_averaged + 1)
#   AveragedModel.update_parameters(model)
#       the parameters (with use_buffers: then the buffers of both modules, in order); on the first call
#       (n_averaged == 0) they are copied; later calls average them: with multi_avg_fn, once per (device, dtype) group,
#       in place; without avg_fn, per tensor with get_swa_avg_fn (2.x's path on the CPU, where foreach kernels are not
#       used); with avg_fn, per tensor, its result copied in (into an int64 buffer: truncated). Without use_buffers,
#       2.x then copies the model's buffers into the averaged module's (1.13 leaves them as deepcopy made them).
#       n_averaged += 1.
#   update_bn(loader, model)     2.x: every _BatchNorm's reset_running_stats() (1.13 only replaces running_mean and
#                                running_var, keeping num_batches_tracked, which the cumulative average divides by),
#                                momentum None, one pass in train mode over the first element of each batch, momenta
#                                and model.train(was_training) restored.
#
# Where 1.13's AveragedModel computes the same thing (use_buffers=True, or a model without buffers, with the default
# or an avg_fn), the generator checks that the transcription gives 1.13's numbers bit for bit.
#
# Layout: {"torch_version": str, "cases": {NAME: CASE}}. Tensors are {"shape": [...], "data": [flat float32 values]};
# int64 tensors (num_batches_tracked, n_averaged) are written the same way, as whole numbers. A state dict is an object
# from key to tensor, in PyTorch's order.
#
#   avg_<...>      "model": "mlp" | "cnn" (the architectures below), "averaging": "default" | "swa_avg_fn" |
#                  "ema_avg_fn" | "ema_multi_avg_fn" | "swa_multi_avg_fn", "decay" (EMA only), "use_buffers";
#                  "initial": the model's state dict when AveragedModel(model, ...) is built;
#                  "steps": per update, "model": the model's state dict after a few SGD steps in train mode (so its
#                  BatchNorm buffers move), and "averaged": the AveragedModel's state dict after
#                  update_parameters(model); then "probe_input" and "probe_output": the AveragedModel's output in
#                  eval mode after the last update.
#   bn_<...>       update_bn: "model": "mlp_bn1d" | "cnn" | "cnn_bn1d" | "swa_cnn" (an AveragedModel of "cnn"), "state":
#                  the model's state dict before, "training": its mode before (kept after), "momenta": every
#                  BatchNorm's momentum before and after (null for None), "tuples": whether the loader yields
#                  (input, target) pairs or bare inputs, "batches": the inputs, "after": the state dict after
#                  update_bn, "probe_input" and "probe_output": the output in eval mode afterwards.
#
# Architectures: "mlp" Sequential(Linear(4, 8), ReLU(), Linear(8, 3)), inputs [N, 4];
#                "cnn" Sequential(Conv2d(2, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2), Flatten(),
#                      Linear(16, 3)), inputs [N, 2, 4, 4];
#                "cnn_bn1d" the cnn with BatchNorm1d(16, momentum=None) after Flatten() and BatchNorm2d(4, momentum=0.3);
#                "mlp_bn1d" Sequential(Linear(5, 6), BatchNorm1d(6), ReLU(), Linear(6, 3)), inputs [N, 5].

import itertools
import json
import os
from copy import deepcopy

import torch
import torch.nn as nn
from torch.optim import swa_utils as swa_113

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def sd(module):
    return {k: t(v) for k, v in module.state_dict().items()}


# ---- PyTorch 2.x's swa_utils, in 1.13 ops (see the header) ----

def get_ema_multi_avg_fn(decay=0.999):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    @torch.no_grad()
    def ema_update(ema_param_list, current_param_list, _):
        if torch.is_floating_point(ema_param_list[0]) or torch.is_complex(ema_param_list[0]):
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                p_ema.lerp_(p_model, 1 - decay)
        else:
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    @torch.no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        if torch.is_floating_point(averaged_param_list[0]) or torch.is_complex(averaged_param_list[0]):
            weight = float(1 / (num_averaged + 1))
            for p_avg, p_model in zip(averaged_param_list, current_param_list):
                p_avg.lerp_(p_model, weight)
        else:
            diffs = [c - a for a, c in zip(averaged_param_list, current_param_list)]
            if isinstance(num_averaged, torch.Tensor):
                for p_avg, d in zip(averaged_param_list, diffs):
                    p_avg.addcdiv_(d, num_averaged + 1)
            else:
                for p_avg, d in zip(averaged_param_list, diffs):
                    p_avg.add_(d, alpha=1.0 / (num_averaged + 1))

    return swa_update


def get_ema_avg_fn(decay=0.999):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    @torch.no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    @torch.no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


def group_by_device_and_dtype(self_params, model_params):
    groups = {}
    for a, m in zip(self_params, model_params):
        g = groups.setdefault((a.device, a.dtype), ([], []))
        g[0].append(a)
        g[1].append(m)
    return groups


class AveragedModel(nn.Module):
    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        assert avg_fn is None or multi_avg_fn is None
        self.module = deepcopy(model)
        self.register_buffer("n_averaged", torch.tensor(0, dtype=torch.long, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        self_param = (itertools.chain(self.module.parameters(), self.module.buffers())
                      if self.use_buffers else self.parameters())
        model_param = (itertools.chain(model.parameters(), model.buffers())
                       if self.use_buffers else model.parameters())
        self_param_detached = []
        model_param_detached = []
        copy_param = bool(self.n_averaged == 0)
        for p_averaged, p_model in zip(self_param, model_param):
            p_model_ = p_model.detach().to(p_averaged.device)
            self_param_detached.append(p_averaged.detach())
            model_param_detached.append(p_model_)
            if copy_param:
                p_averaged.detach().copy_(p_model_)

        if self.n_averaged > 0:
            if self.multi_avg_fn is not None or self.avg_fn is None:
                for (device, _), (self_params, model_params) in group_by_device_and_dtype(
                        self_param_detached, model_param_detached).items():
                    if self.multi_avg_fn:
                        self.multi_avg_fn(self_params, model_params, self.n_averaged.to(device))
                    else:
                        # the CPU: no foreach kernels, get_swa_avg_fn per tensor
                        avg_fn = get_swa_avg_fn()
                        n_averaged = self.n_averaged.to(device)
                        for p_averaged, p_model in zip(self_params, model_params):
                            p_averaged.copy_(avg_fn(p_averaged, p_model, n_averaged))
            else:
                for p_averaged, p_model in zip(self_param_detached, model_param_detached):
                    n_averaged = self.n_averaged.to(p_averaged.device)
                    p_averaged.detach().copy_(self.avg_fn(p_averaged.detach(), p_model, n_averaged))

        if not self.use_buffers:
            for b_swa, b_model in zip(self.module.buffers(), model.buffers()):
                b_swa.detach().copy_(b_model.detach().to(b_swa.device))
        self.n_averaged += 1


@torch.no_grad()
def update_bn(loader, model, device=None):
    momenta = {}
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum

    if not momenta:
        return

    was_training = model.training
    model.train()
    for module in momenta.keys():
        module.momentum = None

    for input in loader:
        if isinstance(input, (list, tuple)):
            input = input[0]
        if device is not None:
            input = input.to(device)
        model(input)

    for bn_module in momenta.keys():
        bn_module.momentum = momenta[bn_module]
    model.train(was_training)


# ---- models and data ----

def build(name):
    if name == "mlp":
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), (4,)
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(16, 3)), (2, 4, 4)
    if name == "cnn_bn1d":
        return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4, momentum=0.3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.BatchNorm1d(16, momentum=None), nn.Linear(16, 3)), (2, 4, 4)
    if name == "mlp_bn1d":
        return nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)), (5,)
    raise ValueError(name)


def train(model, optimizer, sample, batches, batch_size=6):
    """SGD steps in train mode on random batches: the parameters and the BatchNorm buffers move."""
    model.train()
    for _ in range(batches):
        x = torch.randn((batch_size,) + sample) * 1.5 + 0.2
        y = torch.randn(batch_size, 3)
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


def has_buffers(model):
    return any(True for _ in model.buffers())


def averaging(kind, decay):
    """(avg_fn, multi_avg_fn) of 2.x, and 1.13's avg_fn that computes the same per tensor, or None."""
    if kind == "default":
        return None, None, None
    if kind == "swa_avg_fn":
        return get_swa_avg_fn(), None, get_swa_avg_fn()
    if kind == "ema_avg_fn":
        return get_ema_avg_fn(decay), None, get_ema_avg_fn(decay)
    if kind == "ema_multi_avg_fn":
        return None, get_ema_multi_avg_fn(decay), None
    if kind == "swa_multi_avg_fn":
        return None, get_swa_multi_avg_fn(), None
    raise ValueError(kind)


def avg_case(seed, model_name, kind, use_buffers, decay=None, updates=8, batches_per_update=3):
    torch.manual_seed(seed)
    model, sample = build(model_name)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    avg_fn, multi_avg_fn, avg_fn_113 = averaging(kind, decay)
    averaged = AveragedModel(model, avg_fn=avg_fn, multi_avg_fn=multi_avg_fn, use_buffers=use_buffers)
    # 1.13's class where it computes what 2.x does: the same numbers, bit for bit
    check = (multi_avg_fn is None and (use_buffers or not has_buffers(model)))
    reference = swa_113.AveragedModel(model, avg_fn=avg_fn_113, use_buffers=use_buffers) if check else None
    case = {"model": model_name, "averaging": kind, "use_buffers": use_buffers, "initial": sd(model)}
    if decay is not None:
        case["decay"] = decay
    steps = []
    for _ in range(updates):
        train(model, optimizer, sample, batches_per_update)
        averaged.update_parameters(model)
        if reference is not None:
            reference.update_parameters(model)
            for (k, a), (k2, b) in zip(averaged.state_dict().items(), reference.state_dict().items()):
                assert k == k2 and torch.equal(a, b), (k, a, b)
        steps.append({"model": sd(model), "averaged": sd(averaged)})
    case["steps"] = steps
    averaged.eval()
    x = torch.randn((5,) + sample)
    with torch.no_grad():
        case["probe_input"] = t(x)
        case["probe_output"] = t(averaged(x))
    return case


def momenta(model):
    return [m.momentum for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def bn_case(seed, model_name, training, tuples=True, sizes=(4, 4, 3)):
    torch.manual_seed(seed)
    if model_name == "swa_cnn":
        inner, sample = build("cnn")
        optimizer = torch.optim.SGD(inner.parameters(), lr=0.05, momentum=0.9)
        model = AveragedModel(inner)
        for _ in range(4):
            train(inner, optimizer, sample, 2)
            model.update_parameters(inner)
    else:
        model, sample = build(model_name)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        train(model, optimizer, sample, 5)
    model.train(training)
    case = {"model": model_name, "state": sd(model), "training": training, "tuples": tuples}
    before = momenta(model)
    batches = [torch.randn((n,) + sample) * 1.3 - 0.4 for n in sizes]
    loader = [(x, torch.zeros(x.shape[0])) for x in batches] if tuples else batches
    update_bn(loader, model)
    assert model.training == training and momenta(model) == before
    case["momenta"] = before
    case["batches"] = [t(x) for x in batches]
    case["after"] = sd(model)
    model.eval()
    x = torch.randn((5,) + sample)
    with torch.no_grad():
        case["probe_input"] = t(x)
        case["probe_output"] = t(model(x))
    return case


def addcdiv_on_counters_raises():
    """get_swa_multi_avg_fn on integer buffers: addcdiv_ of int64 tensors is refused (why no case averages them so)."""
    a, b = torch.tensor(3), torch.tensor(6)
    try:
        get_swa_multi_avg_fn()([a], [b], torch.tensor(1))
    except RuntimeError:
        return True
    return False


assert addcdiv_on_counters_raises()

cases = {}
cases["avg_mlp_default"] = avg_case(1, "mlp", "default", False)
cases["avg_mlp_swa_avg_fn"] = avg_case(2, "mlp", "swa_avg_fn", False)
cases["avg_cnn_default"] = avg_case(3, "cnn", "default", False)
cases["avg_cnn_default_use_buffers"] = avg_case(4, "cnn", "default", True)
cases["avg_mlp_ema_avg_fn_0.9"] = avg_case(5, "mlp", "ema_avg_fn", False, decay=0.9)
cases["avg_mlp_ema_avg_fn_0"] = avg_case(6, "mlp", "ema_avg_fn", False, decay=0.0)
cases["avg_cnn_ema_avg_fn_0.5_use_buffers"] = avg_case(7, "cnn", "ema_avg_fn", True, decay=0.5)
cases["avg_mlp_ema_multi_avg_fn_0.99"] = avg_case(8, "mlp", "ema_multi_avg_fn", False, decay=0.99)
cases["avg_mlp_ema_multi_avg_fn_0.25"] = avg_case(9, "mlp", "ema_multi_avg_fn", False, decay=0.25)
cases["avg_mlp_ema_multi_avg_fn_1"] = avg_case(10, "mlp", "ema_multi_avg_fn", True, decay=1.0)
cases["avg_cnn_ema_multi_avg_fn_0.9_use_buffers"] = avg_case(11, "cnn", "ema_multi_avg_fn", True, decay=0.9)
cases["avg_cnn_ema_multi_avg_fn_0.999"] = avg_case(12, "cnn", "ema_multi_avg_fn", False, decay=0.999)
cases["avg_mlp_swa_multi_avg_fn"] = avg_case(13, "mlp", "swa_multi_avg_fn", False)
cases["avg_cnn_swa_multi_avg_fn"] = avg_case(14, "cnn", "swa_multi_avg_fn", False)
cases["bn_mlp_bn1d_eval_tuples"] = bn_case(20, "mlp_bn1d", training=False)
cases["bn_cnn_train_tensors"] = bn_case(21, "cnn", training=True, tuples=False)
cases["bn_cnn_bn1d_eval_tuples"] = bn_case(22, "cnn_bn1d", training=False, sizes=(3, 5, 2, 4))
cases["bn_swa_cnn_train_tuples"] = bn_case(23, "swa_cnn", training=True)

with open(os.path.join(HERE, "swa.json"), "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"swa.json: {len(cases)} cases, {os.path.getsize(os.path.join(HERE, 'swa.json'))} bytes")
