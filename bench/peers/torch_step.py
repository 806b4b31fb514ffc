#!/usr/bin/env python3
"""PyTorch peer for melgrad's training-step benchmark (CPU, float32, batch 32).

Times one full training step -- zero_grad, forward, loss, backward, Adam step --
for the seed-shaped models (see README.md):

    python3 bench/peers/torch_step.py --model cnn-beat --model lstm-beat --threads 2
    python3 bench/peers/torch_step.py --model all --json

With --json, stdout carries exactly one JSON object per model and line:
    {"model": NAME, "ms_per_step": X, "torch": VERSION, "threads": N, ...}
(extra keys: device, batch, steps, warmup, min_ms, median_ms); progress goes to stderr.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

BATCH = 32
N_MELS = 128
N_CLASSES = 10
LR = 1e-4
WEIGHT_DECAY = 1e-5
T_BEAT = 40
T_FULL = 1293


# --------------------------------------------------------------------------- models

class CNN(nn.Module):
    """Conv(k3, pad 1) -> BatchNorm2d(track_running_stats=False) -> ReLU -> MaxPool per block,
    flatten -> Linear(., 128) -> ReLU -> Dropout(0.2) -> Linear(128, 64) -> ReLU -> Dropout(0.2)
    -> Linear(64, 10).  Input [N, 1, T, 128]."""

    def __init__(self, channels, pool, T, F_=N_MELS, n_out=N_CLASSES, dropout=0.2):
        super().__init__()
        layers = []
        h, w = T, F_
        for cin, cout in zip(channels[:-1], channels[1:]):
            layers += [nn.Conv2d(cin, cout, 3, padding=1),
                       nn.BatchNorm2d(cout, track_running_stats=False),
                       nn.ReLU(),
                       nn.MaxPool2d(pool)]
            h, w = h // pool, w // pool
        self.features = nn.Sequential(*layers)
        self.flat = channels[-1] * h * w
        self.feature_shape = (channels[-1], h, w)
        self.classifier = nn.Sequential(
            nn.Linear(self.flat, 128), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(128, 64), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(64, n_out))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class BiLSTM(nn.Module):
    """Bidirectional LSTM, packed input; readout = forward output at the last real step ++
    backward output at step 0 -> Linear(2*hidden, 10)."""

    def __init__(self, input_size=N_MELS, hidden=100, layers=2, dropout=0.2, n_out=N_CLASSES):
        super().__init__()
        self.hidden = hidden
        self.lstm = nn.LSTM(input_size, hidden, num_layers=layers, bidirectional=True,
                            batch_first=True, dropout=dropout)
        self.fc = nn.Linear(2 * hidden, n_out)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out_p, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out_p, batch_first=True, total_length=x.shape[1])
        idx = torch.arange(x.shape[0])
        H = self.hidden
        readout = torch.cat([out[idx, lengths - 1, :H], out[:, 0, H:]], dim=1)
        return self.fc(readout)


def make_cnn(channels, pool, T):
    def build(gen):
        model = CNN(channels, pool, T)
        x = torch.randn(BATCH, 1, T, N_MELS, generator=gen)
        y = torch.randint(0, N_CLASSES, (BATCH,), generator=gen)
        desc = (f"CNN ch {'/'.join(map(str, channels[1:]))}, pool {pool}, input [{BATCH}, 1, {T}, {N_MELS}], "
                f"features {list(model.feature_shape)} -> FC {model.flat}-128-64-{N_CLASSES}")
        return model, (x,), y, desc
    return build


def make_lstm(T):
    def build(gen):
        model = BiLSTM()
        lo = math.ceil(0.9 * T)
        lengths = torch.randint(lo, T + 1, (BATCH,), generator=gen, dtype=torch.int64)
        x = torch.randn(BATCH, T, N_MELS, generator=gen)
        mask = torch.arange(T)[None, :] < lengths[:, None]
        x = x * mask[:, :, None]
        y = torch.randint(0, N_CLASSES, (BATCH,), generator=gen)
        desc = (f"BiLSTM 2 x 100, dropout 0.2, packed, input [{BATCH}, {T}, {N_MELS}], "
                f"lengths in [{int(lengths.min())}, {int(lengths.max())}] (uniform in [{lo}, {T}])")
        return model, (x, lengths), y, desc
    return build


MODELS = {
    # name: (builder, default warm-up steps, default timed steps or None = adaptive)
    "cnn-beat": (make_cnn([1, 4, 16, 64, 256], 2, T_BEAT), 2, None),
    "cnn-full": (make_cnn([1, 4, 16, 64, 256], 2, T_FULL), 2, None),
    "cnn-full-wide": (make_cnn([1, 16, 64, 256, 512], 3, T_FULL), 2, None),
    "lstm-beat": (make_lstm(T_BEAT), 2, None),
    # ~5 min per step measured for torch 1.13: 1 warm-up + 1 timed step by default.
    "lstm-full": (make_lstm(T_FULL), 1, 1),
}


# --------------------------------------------------------------------------- timing

def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_name():
    cfg = torch.__config__.show()
    if "BLAS_INFO=mkl" in cfg:
        return "MKL"
    if "BLAS_INFO=open" in cfg:
        return "OpenBLAS"
    return "unknown BLAS"


def log(*a, quiet=False):
    print(*a, file=sys.stderr if quiet else sys.stdout, flush=True)


def bench_model(name, threads, steps_arg, warmup_arg, min_seconds, seed, quiet):
    builder, def_warmup, def_steps = MODELS[name]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model, inputs, y, desc = builder(gen)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loss_fn = nn.CrossEntropyLoss()
    n_params = sum(p.numel() for p in model.parameters())

    def step():
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(*inputs), y)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        return dt, loss.detach().item()

    warmup = def_warmup if warmup_arg is None else warmup_arg
    log(f"[{name}] {desc}; {n_params:,} parameters", quiet=quiet)
    if name == "lstm-full" and steps_arg is None:
        log(f"[{name}] NOTE: slow model (~5 min/step for torch 1.13 on 2 cores): "
            f"{warmup} warm-up + {def_steps} timed step by default (override with --steps/--warmup)",
            quiet=quiet)
    last = None
    for i in range(warmup):
        last, loss = step()
        log(f"[{name}] warm-up {i + 1}/{warmup}: {last * 1e3:.1f} ms (loss {loss:.4f})", quiet=quiet)

    if steps_arg is not None:
        n_steps = steps_arg
    elif def_steps is not None:
        n_steps = def_steps
    else:
        if last is None:  # no warm-up: one untimed probe step
            last, _ = step()
        n_steps = max(3, math.ceil(min_seconds / max(last, 1e-6)))
    times = []
    for i in range(n_steps):
        dt, loss = step()
        times.append(dt)
        if dt > 5.0 or n_steps <= 5:
            log(f"[{name}] step {i + 1}/{n_steps}: {dt * 1e3:.1f} ms (loss {loss:.4f})", quiet=quiet)
    mean_ms = 1e3 * sum(times) / len(times)
    return {
        "model": name,
        "ms_per_step": round(mean_ms, 3),
        "torch": torch.__version__,
        "threads": threads,
        "device": "cpu",
        "batch": BATCH,
        "steps": n_steps,
        "warmup": warmup,
        "min_ms": round(1e3 * min(times), 3),
        "median_ms": round(1e3 * statistics.median(times), 3),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=None,
                    help=f"model to time (repeatable) or 'all': {', '.join(MODELS)} (default: all)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--steps", type=int, default=None,
                    help="timed steps after warm-up (default: adaptive, >= 3 steps and >= --min-seconds; "
                         "lstm-full: 1)")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 2; lstm-full: 1)")
    ap.add_argument("--min-seconds", type=float, default=3.0,
                    help="adaptive mode: aim for at least this much timed work per model (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="one JSON object per model on stdout, nothing else")
    args = ap.parse_args()

    names = args.model or ["all"]
    if "all" in names:
        names = list(MODELS)
    for n in names:
        if n not in MODELS:
            ap.error(f"unknown model {n!r}; choose from {', '.join(MODELS)} or all")
    if args.steps is not None and args.steps < 1:
        ap.error("--steps must be >= 1")

    torch.set_num_threads(args.threads)
    quiet = args.json
    log(f"torch {torch.__version__} ({blas_name()}), device CPU: {cpu_name()}, "
        f"{os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}, "
        f"float32, batch {BATCH}, Adam lr {LR} wd {WEIGHT_DECAY}", quiet=quiet)
    for n in names:
        r = bench_model(n, args.threads, args.steps, args.warmup, args.min_seconds, args.seed, quiet)
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            log(f"{n:14s} {r['ms_per_step']:12.1f} ms/step  (mean of {r['steps']} steps; "
                f"min {r['min_ms']:.1f}, median {r['median_ms']:.1f}; {r['threads']} threads, CPU)")


if __name__ == "__main__":
    main()
