# Golden-fixture generator for Optim.NN's data transforms (Normalize, the window RandomCrop cuts, the flip of
# RandomHorizontalFlip), PyTorch 1.13 reference.
#
# Run from the repository root with the Debian interpreter that ships torch 1.13
# (the pyenv `python3` on PATH has no torch):
#
#     /usr/bin/python3 tests/golden/generate_transforms.py
#
# It writes transforms.json next to itself. Output is deterministic: every case seeds torch.manual_seed(<seed>),
# and torch runs single-threaded.
#
# torchvision is not installed with Debian's torch, so the expected values are computed with the plain torch ops
# that torchvision 0.14 (the release paired with torch 1.13) runs on tensors:
#   transforms.Normalize(mean, std)   F.normalize: mean and std as float32 tensors, then
#                                     tensor.sub(mean[:, None, None]).div(std[:, None, None]) (one value broadcasts
#                                     to every channel)
#   transforms.RandomCrop(size, p)    F.pad(img, [p, p, p, p], fill=0), then img[..., top:top + h, left:left + w]
#                                     at the place get_params draws; here every place is listed, and the C# test
#                                     cuts the window at the same place
#   transforms.RandomHorizontalFlip   F.hflip: img.flip(-1), when torch.rand(1) < p
# If torchvision is importable, the script also checks these against it and fails on any difference.
#
# Layout: {"torch_version": str, "normalize": [CASE], "crop": [CASE], "flip": [CASE]}. Tensors are
# {"shape": [...], "data": [flat float32 values]}.
#   normalize   "input" [C, H, W], "mean", "std" (lists of doubles), "output"
#   crop        "input" [C, H, W] or [H, W], "size" [h, w], "padding", "windows": [{"top", "left", "output"}] for
#               every top-left corner of the padded image
#   flip        "input", "output"

import json
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import torchvision.transforms.functional as TF
except ImportError:
    TF = None


def t(x):
    return {"shape": list(x.shape), "data": x.reshape(-1).tolist()}


def normalize(img, mean, std):
    m = torch.as_tensor(mean, dtype=img.dtype)
    s = torch.as_tensor(std, dtype=img.dtype)
    if m.ndim == 1:
        m = m.view(-1, 1, 1)
    if s.ndim == 1:
        s = s.view(-1, 1, 1)
    out = img.sub(m).div(s)
    if TF is not None:
        assert torch.equal(out, TF.normalize(img, mean, std))
    return out


def normalize_case(seed, shape, mean, std, scale=1.0, shift=0.0):
    torch.manual_seed(seed)
    img = torch.rand(shape) * scale + shift
    return {"input": t(img), "mean": mean, "std": std, "output": t(normalize(img, mean, std))}


def crop_case(seed, shape, size, padding):
    torch.manual_seed(seed)
    img = torch.rand(shape)
    padded = F.pad(img.unsqueeze(0) if img.ndim == 2 else img, [padding] * 4, value=0.0)
    if img.ndim == 2:
        padded = padded.squeeze(0)
    if TF is not None:
        assert torch.equal(padded, TF.pad(img, padding, fill=0))
    h, w = size
    windows = []
    for top in range(padded.shape[-2] - h + 1):
        for left in range(padded.shape[-1] - w + 1):
            out = padded[..., top:top + h, left:left + w]
            if TF is not None:
                assert torch.equal(out, TF.crop(padded, top, left, h, w))
            windows.append({"top": top, "left": left, "output": t(out)})
    return {"input": t(img), "size": [h, w], "padding": padding, "windows": windows}


def flip_case(seed, shape):
    torch.manual_seed(seed)
    img = torch.rand(shape)
    out = img.flip(-1)
    if TF is not None:
        assert torch.equal(out, TF.hflip(img))
    return {"input": t(img), "output": t(out)}


fixture = {
    "torch_version": torch.__version__,
    "normalize": [
        # CIFAR-10's channel statistics on pixels in [0, 1]
        normalize_case(1, [3, 4, 5], [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
        # Fashion-MNIST's, one channel
        normalize_case(2, [1, 6, 6], [0.2860], [0.3530]),
        # one mean and std for three channels (broadcast, as PyTorch does)
        normalize_case(3, [3, 2, 3], [0.5], [0.5]),
        # values far from [0, 1], a tiny and a large std, mean and std that do not round exactly to float32
        normalize_case(4, [2, 3, 7], [-1.5, 0.1], [1e-3, 3.3], scale=20.0, shift=-10.0),
        # one mean for all channels, one std per channel
        normalize_case(5, [3, 1, 4], [0.25], [0.1, 0.2, 0.3]),
    ],
    "crop": [
        crop_case(10, [2, 3, 4], [3, 5], 2),
        crop_case(11, [1, 5, 5], [5, 5], 0),
        crop_case(12, [3, 4, 4], [4, 4], 1),
        crop_case(13, [4, 3], [2, 2], 1),
        # a window larger than the image inside the padding
        crop_case(14, [1, 2, 3], [5, 6], 2),
    ],
    "flip": [
        flip_case(20, [3, 2, 5]),
        flip_case(21, [4, 3]),
        flip_case(22, [1, 1, 1]),
    ],
}

with open(os.path.join(HERE, "transforms.json"), "w") as f:
    json.dump(fixture, f, separators=(",", ":"))
    f.write("\n")
