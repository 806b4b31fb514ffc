#!/usr/bin/env python3
"""PyTorch GPU peer for `melgrad bench-step --device cuda` (float32, batch 32).

Times one full training step on a CUDA GPU -- batch upload from host memory, zero_grad,
forward, loss, backward, Adam step, torch.cuda.synchronize() -- for the models of
torch_step.py (the same classes, shapes, seeds and optimiser settings), in one of two
PyTorch configurations:

    --backend native   eager PyTorch with cuDNN disabled (its own CUDA kernels)
    --backend cudnn    eager PyTorch with cuDNN (torch.backends.cudnn.benchmark = True);
                       the packed BiLSTM then runs cuDNN's RNN

TF32 is off in both (torch.backends.{cuda.matmul,cudnn}.allow_tf32 = False): melgrad's
kernels compute in float32, and so should its peer.

    python3 bench/peers/torch_step_cuda.py --model cnn-beat --backend cudnn
    python3 bench/peers/torch_step_cuda.py --model all --backend native --json

With --json, stdout carries exactly one JSON object per model and line:
    {"model": NAME, "ms_per_step": X, "torch": VERSION, "device": "cuda",
     "device_name": GPU, "backend": "native" | "cudnn", ...}
Without a CUDA GPU (or a CUDA build of torch) it prints why on stderr and exits with 77.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_step import BATCH, LR, MODELS, WEIGHT_DECAY  # noqa: E402  (the same models)

SKIP = 77


def log(*a, quiet=False):
    print(*a, file=sys.stderr if quiet else sys.stdout, flush=True)


def configure(backend):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.enabled = backend == "cudnn"
    torch.backends.cudnn.benchmark = backend == "cudnn"


def bench_model(name, backend, steps_arg, warmup_arg, min_seconds, seed, quiet):
    builder, _, _ = MODELS[name]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model, inputs, y, desc = builder(gen)  # built on the CPU, as melgrad's
    device = torch.device("cuda")
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loss_fn = nn.CrossEntropyLoss()
    n_params = sum(p.numel() for p in model.parameters())
    # The batch stays in host memory and is uploaded every step, as melgrad's trainer does;
    # packed sequences need their lengths on the CPU (pack_padded_sequence).
    x_host, *rest = inputs

    def step():
        t0 = time.perf_counter()
        x = x_host.to(device)
        target = y.to(device)
        opt.zero_grad()
        loss = loss_fn(model(x, *rest), target)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        return time.perf_counter() - t0, loss.detach().item()

    warmup = 3 if warmup_arg is None else warmup_arg  # cudnn.benchmark searches on the first
    log(f"[{name}] {desc}; {n_params:,} parameters; backend {backend}", quiet=quiet)
    last = None
    for i in range(warmup):
        last, loss = step()
        log(f"[{name}] warm-up {i + 1}/{warmup}: {last * 1e3:.2f} ms (loss {loss:.4f})", quiet=quiet)
    if steps_arg is not None:
        n_steps = steps_arg
    else:
        if last is None:
            last, _ = step()
        n_steps = max(10, math.ceil(min_seconds / max(last, 1e-6)))
    times = []
    for _ in range(n_steps):
        dt, _ = step()
        times.append(dt)
    mean_ms = 1e3 * sum(times) / len(times)
    return {
        "model": name,
        "ms_per_step": round(mean_ms, 4),
        "torch": torch.__version__,
        "device": "cuda",
        "device_name": torch.cuda.get_device_name(0),
        "backend": backend,
        "cudnn": torch.backends.cudnn.version() if backend == "cudnn" else None,
        "batch": BATCH,
        "steps": n_steps,
        "warmup": warmup,
        "min_ms": round(1e3 * min(times), 4),
        "median_ms": round(1e3 * statistics.median(times), 4),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=None,
                    help=f"model to time (repeatable) or 'all': {', '.join(MODELS)} (default: all)")
    ap.add_argument("--backend", choices=["native", "cudnn"], default="cudnn",
                    help="native: cuDNN disabled; cudnn: cuDNN with benchmark mode (default)")
    ap.add_argument("--steps", type=int, default=None,
                    help="timed steps after warm-up (default: adaptive, >= 10 and >= --min-seconds)")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 3)")
    ap.add_argument("--min-seconds", type=float, default=2.0,
                    help="adaptive mode: at least this much timed work per model (default 2)")
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
    if not torch.cuda.is_available():
        print(f"torch_step_cuda.py: skipped: no CUDA GPU for torch {torch.__version__} "
              f"(torch.cuda.is_available() is False; CUDA build: {torch.version.cuda or 'no'})",
              file=sys.stderr)
        sys.exit(SKIP)

    configure(args.backend)
    quiet = args.json
    log(f"torch {torch.__version__}, CUDA {torch.version.cuda}, device {torch.cuda.get_device_name(0)}, "
        f"backend {args.backend}, float32 (no TF32), batch {BATCH}, Adam lr {LR} wd {WEIGHT_DECAY}",
        quiet=quiet)
    for n in names:
        r = bench_model(n, args.backend, args.steps, args.warmup, args.min_seconds, args.seed, quiet)
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            log(f"{n:14s} {r['ms_per_step']:12.2f} ms/step  (mean of {r['steps']} steps; min {r['min_ms']:.2f}, "
                f"median {r['median_ms']:.2f}; {r['device_name']}, {args.backend})")


if __name__ == "__main__":
    main()
