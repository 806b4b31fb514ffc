#!/usr/bin/env python3
"""PyTorch peer of bench/bench_layers.cpp: each layer's forward and backward at the seed's
shapes, batch 32, float32 on the CPU, with the same case names, so the two can be read side
by side (see README.md).

    python3 bench/peers/torch_layers.py --threads 2 --filter conv_ --min-seconds 0.5

"forward" runs under torch.no_grad(); "backward" times only y.backward(gy) after an untimed
forward (gradients of the input, except the first conv layer's, and of every parameter).
Prints one line per case: wall ms and process CPU ms per iteration (CPU time is the sum
over threads, useful when other jobs share the cores). --json: one object per line.
"""

import argparse
import json
import math
import re
import sys
import time

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

BATCH, MELS = 32, 128


def timed(fn, min_seconds, setup=None):
    """Mean wall and CPU ms of fn() over >= 3 iterations and >= min_seconds of timed work."""
    if setup:
        setup()
    fn()  # warm-up
    wall = cpu = 0.0
    n = 0
    while n < 3 or wall < min_seconds:
        if setup:
            setup()
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        n += 1
    return 1e3 * wall / n, 1e3 * cpu / n, n


def cases():
    """(name, forward_fn, backward (setup, fn)) for every case, built lazily."""
    out = []
    for T in (40, 1293):
        stage = "beat" if T == 40 else "full"
        for channels, pool in (([4, 16, 64, 256], 2), ([16, 64, 256, 512], 3)):
            config = f"{stage}-{'_'.join(map(str, channels))}"
            c_in, h, w = 1, T, MELS
            for k, c_out in enumerate(channels):
                xs, ys = (BATCH, c_in, h, w), (BATCH, c_out, h, w)
                tag = f"{config}/L{k + 1}:{'x'.join(map(str, xs))}"
                ytag = f"{config}/L{k + 1}:{'x'.join(map(str, ys))}"
                mk = {
                    "conv": (lambda ci=c_in, co=c_out: nn.Conv2d(ci, co, 3, padding=1), xs, k > 0, tag),
                    "batchnorm": (lambda co=c_out: nn.BatchNorm2d(co, track_running_stats=False), ys, True, ytag),
                    "maxpool": (lambda p=pool: nn.MaxPool2d(p), ys, True, ytag),
                }
                for layer in ("conv", "batchnorm", "maxpool"):
                    out.append((layer, *mk[layer]))
                c_in, h, w = c_out, h // pool, w // pool
    for i, o in ((4096, 128), (163840, 128), (7680, 128), (128, 64), (64, 10), (200, 10)):
        out.append(("linear", lambda i=i, o=o: nn.Linear(i, o), (BATCH, i), True, f"{i}_to_{o}"))
    return out


def lengths_for(T, gen):
    lo = math.ceil(0.9 * T)
    return torch.randint(lo, T + 1, (BATCH,), generator=gen, dtype=torch.int64)


class Stack(nn.Module):
    def __init__(self, input_size, layers, dropout):
        super().__init__()
        self.lstm = nn.LSTM(input_size, 100, num_layers=layers, bidirectional=True,
                            batch_first=True, dropout=dropout)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


def lstm_cases(T):
    out = []
    for layer, I in ((0, MELS), (1, 200)):
        out.append((f"lstm_layer", lambda I=I: Stack(I, 1, 0.0), (BATCH, T, I), layer > 0,
                    f"T{T}/layer{layer}:I{I}_H100_bidirectional"))
    out.append(("lstm_stack", lambda: Stack(MELS, 2, 0.2), (BATCH, T, MELS), False,
                f"T{T}/2x100_bidirectional_dropout0.2"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--filter", default="", help="regular expression on the case name")
    ap.add_argument("--min-seconds", type=float, default=0.5)
    ap.add_argument("--lstm-T", type=int, action="append", default=None,
                    help="LSTM sequence lengths (default 40; 1293 takes minutes)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    all_cases = cases()
    for T in args.lstm_T or [40]:
        all_cases += lstm_cases(T)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)
    for layer, make, xs, x_grad, tag in all_cases:
        for phase in ("forward", "backward"):
            name = f"{layer}_{phase}/{tag}"
            if not re.search(args.filter, name):
                continue
            m = make().train()
            x = torch.randn(*xs, generator=gen)
            is_lstm = layer.startswith("lstm")
            lengths = lengths_for(xs[1], gen) if is_lstm else None
            call = (lambda: m(x, lengths)) if is_lstm else (lambda: m(x))
            if phase == "forward":
                with torch.no_grad():
                    wall, cpu, n = timed(call, args.min_seconds)
            else:
                x.requires_grad_(x_grad)
                state = {}

                def setup():
                    m.zero_grad(set_to_none=True)
                    x.grad = None
                    y = call()
                    state["y"], state["gy"] = y, torch.ones_like(y)

                wall, cpu, n = timed(lambda: state["y"].backward(state["gy"]), args.min_seconds, setup)
            if args.json:
                print(json.dumps({"name": name, "wall_ms": round(wall, 4), "cpu_ms": round(cpu, 4), "iterations": n}))
            else:
                print(f"{name:62s} {wall:10.3f} ms wall {cpu:10.3f} ms cpu  ({n} it)", flush=True)


if __name__ == "__main__":
    main()
