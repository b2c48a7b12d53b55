#!/usr/bin/python3
"""The plain PyTorch training loop a user would write for the MNIST template's model.

Same network as templates/mnist/Model/MNISTCNN.h, same Fashion-MNIST IDX files and normalisation,
Adam(lr=1e-3) with StepLR(2, 0.5), batches of 64 reshuffled every epoch by torch's DataLoader over
a TensorDataset (num_workers=0). Run with Debian's /usr/bin/python3, which has python3-torch (1.13,
the same libtorch build as the C++ variants). Part of bench/training_bench.sh
(docs/benchmarks.md, "Training speed").

Prints one JSON line per epoch: {"epoch": e, "seconds": s, "minor_faults": f, "mean_loss": l}.
"seconds" is the wall time of the epoch's shuffle, batching and training steps, nothing else;
"minor_faults" the page faults the process took meanwhile.

The allocator is glibc's, with its default settings unless the caller sets MALLOC_MMAP_THRESHOLD_
and MALLOC_TRIM_THRESHOLD_ in the environment (training_bench.sh's python_tuned variant).
"""

import argparse
import gzip
import json
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class MNISTCNN(nn.Module):
    """conv32-conv64-fc128 with 2x2 max-pooling and dropout, as MNISTCNN.h."""

    def __init__(self, channels1=32, channels2=64, kernel=3, hidden=128, dropout=0.25, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels1, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv2d(channels1, channels2, kernel, padding=kernel // 2)
        self.fc1 = nn.Linear(channels2 * 7 * 7, hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(F.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)


def load_idx(path, magic):
    """The samples of a gzipped IDX file as a uint8 numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = 3 if magic == 2051 else 1
    header = struct.unpack(">%dI" % (1 + dims), data[: 4 * (1 + dims)])
    if header[0] != magic:
        sys.exit("%s: not an IDX file" % path)
    return np.frombuffer(data, dtype=np.uint8, offset=4 * (1 + dims)).reshape(header[1:])


def load_train(root, subset):
    images = load_idx(root + "/train-images-idx3-ubyte.gz", 2051)[:subset]
    labels = load_idx(root + "/train-labels-idx1-ubyte.gz", 2049)[:subset]
    images = torch.from_numpy(images.copy()).float().div_(255).unsqueeze(1)
    images.sub_(images.mean()).div_(images.std())
    return images, torch.from_numpy(labels.astype(np.int64))


def parse_args(description):
    """The command line of this script and of lightning_mnist.py."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--train-subset", type=int, default=12800)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch's default)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="where to train (on a GPU each batch is copied to it)")
    return p.parse_args()


def make_loader(a):
    """Sets the threads and the seed, and returns the shuffling loader of the training subset."""
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images, labels = load_train(a.data_root, a.train_subset)
    return torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(images, labels), batch_size=a.batch_size, shuffle=True)


def main():
    a = parse_args(__doc__.splitlines()[0])
    loader = make_loader(a)
    model = MNISTCNN().to(a.device)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    step_lr = torch.optim.lr_scheduler.StepLR(adam, 2, 0.5)
    for epoch in range(a.epochs):
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        model.train()
        mean_loss = 0.0
        for i, (x, y) in enumerate(loader):
            x, y = x.to(a.device), y.to(a.device)
            loss = F.cross_entropy(model(x), y)
            adam.zero_grad()
            loss.backward()
            adam.step()
            mean_loss += (loss.item() - mean_loss) / (i + 1)
        step_lr.step()
        seconds = time.perf_counter() - start
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        print(json.dumps({"epoch": epoch, "seconds": round(seconds, 4), "minor_faults": faults,
                          "mean_loss": round(mean_loss, 6)}), flush=True)


if __name__ == "__main__":
    main()
