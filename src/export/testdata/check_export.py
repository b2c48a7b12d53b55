"""Loads a safetensors file written by `dlnest export` into the same network written in torch.nn
and compares its outputs on a batch with the C++ outputs (export_test.cc).

usage: check_export.py WEIGHTS INPUT EXPECTED PREFIX
  WEIGHTS   the .safetensors file
  INPUT     the batch, raw float32 (8, 1, 8, 8)
  EXPECTED  the C++ network's outputs on it in eval mode, raw float32 (8, 3)
  PREFIX    "net." when every registered module was exported, "" for `-m net`
Prints the largest absolute difference; exits 1 when it exceeds 1e-6 or a name does not match.
"""
import sys

import torch
from safetensors.torch import load_file
from torch import nn


class Net(nn.Module):
    """export_test.cc's NetImpl."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Sequential(nn.Linear(4 * 6 * 6, 16), nn.ReLU(), nn.Linear(16, 3, bias=False))

    def forward(self, x):
        return self.head(torch.relu(self.bn(self.conv(x))).flatten(1))


def read_floats(path, shape):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(shape)


def main(weights, input_path, expected_path, prefix):
    state = load_file(weights)
    net = Net()
    mine = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    others = sorted(k for k in state if not k.startswith(prefix))
    if prefix and others != ["aux.bias", "aux.weight"]:
        sys.exit(f"names outside {prefix!r}: {others}")
    if list(mine) != list(net.state_dict()) and sorted(mine) != sorted(net.state_dict()):
        sys.exit(f"names differ: {sorted(mine)} vs {sorted(net.state_dict())}")
    net.load_state_dict(mine, strict=True)
    net.eval()
    with torch.no_grad():
        out = net(read_floats(input_path, (8, 1, 8, 8)))
    diff = (out - read_floats(expected_path, (8, 3))).abs().max().item()
    print(f"torch {torch.__version__}: {len(state)} tensors, max abs diff {diff:.3g}")
    sys.exit(0 if diff <= 1e-6 else 1)


if __name__ == "__main__":
    main(*sys.argv[1:5])
