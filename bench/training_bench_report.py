#!/usr/bin/python3
"""Summarises bench/training_bench.sh's results: medians of per-epoch times and their ratios.

usage: training_bench_report.py RESULTS.tsv

RESULTS.tsv lines are `variant<TAB>repetition<TAB>steps per epoch<TAB>{json}`, one per epoch (for
the *_stage variants, one per timed stage of an epoch). Epoch 0 of every run is warm-up and left
out.
"""

import json
import statistics
import sys

# (key, label, what the time covers)
ROWS = [
    ("dlnest", "DLNest epoch",
     "epoch records of metrics.jsonl, values.seconds: loader + steps + validation (tiny) + "
     "checkpoint save"),
    ("dlnest:OneEpoch", "DLNest training only", "OneEpoch stage: loader + steps"),
    ("dlnest:Validation", "  DLNest validation", "Validation stage on the test subset"),
    ("dlnest:SaveModel", "  DLNest checkpoint", "SaveModel stage (atomic write + fsync)"),
    ("dlnest_w0", "DLNest epoch, workers 0", "as DLNest epoch, no loader thread"),
    ("dlnest_w0:OneEpoch", "DLNest training, workers 0", "as DLNest training, no loader thread"),
    ("dlnest_w1", "DLNest epoch, workers 1", "as DLNest epoch, one loader thread"),
    ("dlnest_w1:OneEpoch", "DLNest training, workers 1", "as DLNest training, one loader thread"),
    ("cpp_tuned", "C++ loop, tuned malloc", "handwritten_mnist --allocator tuned"),
    ("cpp_default", "C++ loop, glibc default", "handwritten_mnist --allocator default"),
    ("python", "Python loop", "python_mnist.py (DataLoader + TensorDataset)"),
    ("python_tuned", "Python loop, tuned malloc", "the same, MALLOC_*_ = the worker's mallopt"),
    ("lightning", "PyTorch Lightning", "lightning_mnist.py: Trainer.fit, no logger/checkpoint"),
    ("python_small", "Python loop, small subset", "allocator check: python, fewer images"),
    ("python_tuned_small", "Python tuned, small subset", "allocator check: python_tuned"),
]

# Parts of an epoch rather than whole epochs: no per-step figures.
PARTS = ("dlnest:Validation", "dlnest:SaveModel")

# (numerator, denominator, label, target test, target text)
RATIOS = [
    ("dlnest:OneEpoch", "cpp_tuned", "DLNest training / C++ tuned", lambda r: r <= 1.03,
     "<= 1.03"),
    ("dlnest", "cpp_tuned", "DLNest epoch / C++ tuned", None, ""),
    ("dlnest_w0:OneEpoch", "cpp_tuned", "DLNest w0 training / C++ tuned", None, ""),
    ("dlnest_w1:OneEpoch", "cpp_tuned", "DLNest w1 training / C++ tuned", None, ""),
    ("cpp_default", "cpp_tuned", "C++ default / C++ tuned", None, ""),
    ("python", "dlnest:OneEpoch", "Python / DLNest training", lambda r: r >= 1.5, ">= 1.5"),
    ("python", "dlnest", "Python / DLNest epoch", lambda r: r >= 1.5, ">= 1.5"),
    ("python", "python_tuned", "Python / Python tuned", None, ""),
    ("python_tuned", "cpp_tuned", "Python tuned / C++ tuned", None, ""),
    ("python_small", "python_tuned_small", "small: Python / Python tuned", None, ""),
    ("lightning", "python", "Lightning / Python", None, ""),
    ("lightning", "dlnest:OneEpoch", "Lightning / DLNest training", None, ""),
    ("lightning", "cpp_tuned", "Lightning / C++ tuned", None, ""),
]


def read(path):
    """Per key: the seconds, minor faults and steps of every counted epoch, and the mean loss by
    epoch."""
    seconds, faults, steps, losses = {}, {}, {}, {}
    with open(path) as f:
        for line in f:
            variant, _rep, n, payload = line.rstrip("\n").split("\t", 3)
            record = json.loads(payload)
            if record["epoch"] == 0:
                continue
            key = variant
            if variant.endswith("_stage"):
                key = variant[: -len("_stage")] + ":" + record["stage"]
            seconds.setdefault(key, []).append(record["seconds"])
            steps[key] = int(n)
            if "minor_faults" in record:
                faults.setdefault(key, []).append(record["minor_faults"])
            if "mean_loss" in record:
                losses.setdefault(variant, set()).add((record["epoch"],
                                                       round(record["mean_loss"], 4)))
    return seconds, faults, steps, losses


def print_times(seconds, faults, steps, med):
    print("%-27s %3s %9s %8s %8s %12s  %s" % ("variant", "n", "median s", "min s", "ms/step",
                                             "faults/step", "covers"))
    for key, label, covers in ROWS:
        if key not in seconds:
            continue
        per_step = key not in PARTS
        ms = "%8.1f" % (1000 * med[key] / steps[key]) if per_step else "%8s" % "-"
        f = "%12s" % "-"
        if per_step and key in faults:
            f = "%12.0f" % (statistics.median(faults[key]) / steps[key])
        print("%-27s %3d %9.3f %8.3f %s %s  %s" % (label, len(seconds[key]), med[key],
                                                   min(seconds[key]), ms, f, covers))


def main():
    seconds, faults, steps, losses = read(sys.argv[1])
    med = {k: statistics.median(v) for k, v in seconds.items()}
    print_times(seconds, faults, steps, med)
    print()
    print("%-31s %8s %8s  %s" % ("ratio", "medians", "minima", "target (on medians)"))
    for num, den, label, test, target in RATIOS:
        if num not in med or den not in med:
            continue
        r = med[num] / med[den]
        verdict = "" if test is None else ("met" if test(r) else "MISSED")
        print("%-31s %8.3f %8.3f  %s %s" % (label, r, min(seconds[num]) / min(seconds[den]),
                                            target, verdict))
    print()
    print("mean loss by epoch (the same numbers mean the same computation):")
    for variant in sorted(losses):
        print("  %-19s %s" % (variant, " ".join("%d:%.4f" % e for e in sorted(losses[variant]))))


if __name__ == "__main__":
    main()
