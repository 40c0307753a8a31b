# Golden fixture: a small CNN's weights saved by PyTorch 1.13 (torch.save(model.state_dict())), and what the model
# computes in eval mode on a fixed input, so that Optim.NN's model loaded from the file is checked to give the same
# outputs.
#
#     /usr/bin/python3 tests/golden/generate_model_weights.py
#
# Writes pt/cnn_model.pt and model_weights.json next to itself: {"torch_version", "input": tensor, "output": tensor,
# "keys": [state dict keys in order]}. Tensors are {"shape": [...], "data": [flat float32 values]}.
# The model: Sequential(Conv2d(1, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2), Flatten(), Linear(64, 3)),
# its running statistics from three training-mode batches.
import json
import os

import torch
import torch.nn as nn

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": x.reshape(-1).tolist()}


def main():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(64, 3))
    model.train()
    for _ in range(3):
        model(torch.randn(5, 1, 8, 8))
    model.eval()
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        y = model(x)
    os.makedirs(os.path.join(HERE, "pt"), exist_ok=True)
    torch.save(model.state_dict(), os.path.join(HERE, "pt", "cnn_model.pt"))
    with open(os.path.join(HERE, "model_weights.json"), "w") as f:
        json.dump({"torch_version": torch.__version__, "input": t(x), "output": t(y), "keys": list(model.state_dict().keys())},
                  f, indent=1)


if __name__ == "__main__":
    main()
