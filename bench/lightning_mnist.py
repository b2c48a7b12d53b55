"""The MNIST template's training in PyTorch Lightning, for bench/training_bench.sh.

The network, data, normalisation, batches (torch's DataLoader over a TensorDataset, shuffled,
num_workers=0), Adam(lr=1e-3) and StepLR(2, 0.5) are python_mnist.py's; Lightning runs the loop
on the CPU with no logger, no checkpointing, no progress bar and no model summary, one device.
Run it with a Python that has lightning (scripts/build_torch2.sh's environment after
`pip install lightning`).

Prints one JSON line per epoch like python_mnist.py: {"epoch": e, "seconds": s,
"minor_faults": f, "mean_loss": l}, "seconds" measured from the start to the end of the
epoch's training (Lightning's on_train_epoch_start / on_train_epoch_end hooks).
"""

import json
import logging
import resource
import time
import warnings

import lightning as L
import torch
import torch.nn.functional as F

from python_mnist import MNISTCNN, make_loader, parse_args


class LitMNIST(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = MNISTCNN()
        self.mean_loss = 0.0
        self.faults = 0
        self.start = 0.0

    def training_step(self, batch, i):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.mean_loss += (loss.item() - self.mean_loss) / (i + 1)
        return loss

    def configure_optimizers(self):
        adam = torch.optim.Adam(self.parameters(), lr=1e-3)
        return [adam], [torch.optim.lr_scheduler.StepLR(adam, 2, 0.5)]

    def on_train_epoch_start(self):
        self.mean_loss = 0.0
        self.faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        self.start = time.perf_counter()

    def on_train_epoch_end(self):
        seconds = time.perf_counter() - self.start
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self.faults
        print(json.dumps({"epoch": self.current_epoch, "seconds": round(seconds, 4),
                          "minor_faults": faults, "mean_loss": round(self.mean_loss, 6)}),
              flush=True)


def main():
    a = parse_args(__doc__.splitlines()[0])
    logging.getLogger("lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    loader = make_loader(a)
    trainer = L.Trainer(accelerator="gpu" if a.device == "cuda" else "cpu", devices=1,
                        max_epochs=a.epochs, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(LitMNIST(), loader)


if __name__ == "__main__":
    main()
