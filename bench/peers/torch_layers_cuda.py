#!/usr/bin/env python3
"""PyTorch GPU peer of the per-layer kernel benchmarks (build/kernels/bench_kernels_cuda):
the same cases, with melgrad's case names and "torch" as the implementation, timed with
CUDA events. Float32, TF32 off, batch 32.

    python3 bench/peers/torch_layers_cuda.py --json > build/bench-layers-torch-gpu.json
    python3 bench/peers/torch_layers_cuda.py --filter 'bilstm|gemm' --backend native
    python3 bench/peers/torch_layers_cuda.py --list          # case names; needs no torch

Cases (study_shapes.py has the shapes and the naming rule):
  conv_forward_bias_relu/<layer>/torch  relu(conv2d(x, w, b, padding 1)), no autograd
  conv_backward_data/<layer>/torch      autograd.grad(y, x): the input gradient only
  conv_backward_filter/<layer>/torch    autograd.grad(y, (w, b)): weight and bias gradients
  max_pool_{forward,backward}/<layer> pool <p>/torch    forward with indices; its backward
  batch_norm_{train_forward,eval_forward,train_backward}/<layer>/torch
  BM_bilstm_study/T:<T>/algo:torch/bwd:<0|1>  nn.LSTM(128, 100, 2 layers, bidirectional) on
      pack_padded_sequence (the lengths of melgrad's benchmark, 90-100 % of T), then
      pad_packed_sequence; bwd:1 adds autograd.grad of x and every parameter. Packing and
      unpacking are timed: a PyTorch user pays for them; melgrad's kernel takes lengths.
  BM_gemm_torch/<m>/<n>/<k>/<trans_b>   torch.mm(a, b or b.t(), out=c)
A backward case runs its forward once, untimed, and times the backward with
retain_graph=True, as melgrad's benchmarks time the backward kernels alone (the BiLSTM's
bwd:1 is forward + backward on both sides).

Timing per case: --warmup calls (cuDNN's algorithm search in benchmark mode), then
iterations until >= --min-iters and >= --min-seconds; each iteration is bracketed by CUDA
events and followed by torch.cuda.synchronize(), as melgrad's benchmarks synchronise after
every iteration. "ms" is the mean event time, "wall_ms" the mean host time including the
synchronisation, "min_ms" the fastest event time.

--backend cudnn (default): cuDNN on, benchmark mode; native: cuDNN off (PyTorch's own
kernels). --json prints one JSON document:
    {"tool": "torch_layers_cuda", "torch", "cuda", "cudnn", "device_name", "backend",
     "benchmarks": [{"name", "ms", "wall_ms", "min_ms", "iterations"}, ...]}
Without a CUDA GPU it says why and exits with 77; --device cpu runs the same cases on the
CPU with host timing, only to check this script where no GPU is.
"""

import argparse
import functools
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import study_shapes as shapes  # noqa: E402  (stdlib only: --list and --help need no torch)

SKIP = 77


def all_cases():
    """(name, builder) of every case; builder(torch, device) returns the function to time."""
    out = []
    for name, kind, pass_name, layer in shapes.layer_cases("torch"):
        out.append((name, functools.partial(LAYER_BUILDERS[kind], pass_name=pass_name, layer=layer)))
    for T in shapes.STUDY_T:
        for backward in (False, True):
            out.append((shapes.lstm_case(T, "torch", backward), functools.partial(build_lstm, T=T, backward=backward)))
    for m, n, k, tb in shapes.GPU_GEMM_SHAPES:
        out.append((shapes.gemm_case("torch", m, n, k, tb), functools.partial(build_gemm, m=m, n=n, k=k, trans_b=tb)))
    return out


def randn(torch, device, *shape, grad=False):
    return torch.randn(*shape, device=device, requires_grad=grad)


def build_conv(torch, device, pass_name, layer):
    F = torch.nn.functional
    x = randn(torch, device, layer.N, layer.C, layer.H, layer.W,
              grad=pass_name == "conv_backward_data")
    w = randn(torch, device, layer.O, layer.C, 3, 3, grad=pass_name == "conv_backward_filter")
    b = randn(torch, device, layer.O, grad=pass_name == "conv_backward_filter")
    if pass_name == "conv_forward_bias_relu":
        def forward():
            with torch.no_grad():
                torch.relu_(F.conv2d(x, w, b, padding=1))
        return forward
    if pass_name == "conv_backward_data":
        y = F.conv2d(x, w, padding=1)
        dy = torch.randn_like(y)
        return lambda: torch.autograd.grad(y, x, dy, retain_graph=True)
    y = F.conv2d(x, w, b, padding=1)
    dy = torch.randn_like(y)
    return lambda: torch.autograd.grad(y, (w, b), dy, retain_graph=True)


def build_pool(torch, device, pass_name, layer):
    F = torch.nn.functional
    backward = pass_name == "max_pool_backward"
    x = randn(torch, device, layer.N, layer.O, layer.H, layer.W, grad=backward)
    if not backward:
        def forward():
            with torch.no_grad():
                F.max_pool2d(x, layer.pool, return_indices=True)
        return forward
    y = F.max_pool2d(x, layer.pool)
    dy = torch.randn_like(y)
    return lambda: torch.autograd.grad(y, x, dy, retain_graph=True)


def build_norm(torch, device, pass_name, layer):
    F = torch.nn.functional
    backward = pass_name == "batch_norm_train_backward"
    x = randn(torch, device, layer.N, layer.O, layer.H, layer.W, grad=backward)
    w = (torch.rand(layer.O, device=device) + 0.5).requires_grad_(backward)
    b = randn(torch, device, layer.O, grad=backward)
    rm, rv = torch.zeros(layer.O, device=device), torch.ones(layer.O, device=device)
    training = pass_name != "batch_norm_eval_forward"
    if not backward:
        def forward():
            with torch.no_grad():
                F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.1, eps=1e-5)
        return forward
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
    dy = torch.randn_like(y)
    return lambda: torch.autograd.grad(y, (x, w, b), dy, retain_graph=True)


LAYER_BUILDERS = {"conv": build_conv, "pool": build_pool, "norm": build_norm}


def build_lstm(torch, device, T, backward):
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    lstm = torch.nn.LSTM(shapes.LSTM_INPUT, shapes.LSTM_HIDDEN, num_layers=shapes.LSTM_LAYERS,
                         bidirectional=True, batch_first=True).to(device).train()
    x = randn(torch, device, shapes.BATCH, T, shapes.LSTM_INPUT, grad=True)
    lengths = torch.tensor(shapes.study_lengths(T), dtype=torch.int64)  # on the host, as packing needs
    dy = randn(torch, device, shapes.BATCH, T, 2 * shapes.LSTM_HIDDEN)
    params = [x, *lstm.parameters()]

    def forward():
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = lstm(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=T)[0]

    if not backward:
        return forward  # with autograd on: the training forward (saves what backward needs)
    return lambda: torch.autograd.grad(forward(), params, dy)


def build_gemm(torch, device, m, n, k, trans_b):
    a = randn(torch, device, m, k)
    b = randn(torch, device, n, k) if trans_b else randn(torch, device, k, n)
    c = torch.empty(m, n, device=device)
    bb = b.t() if trans_b else b

    def run():
        torch.mm(a, bb, out=c)
    return run


def time_case(torch, fn, cuda, warmup, min_iters, min_seconds):
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    events, walls = [], []
    while len(walls) < min_iters or sum(walls) < min_seconds:
        t0 = time.perf_counter()
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            sync()
            events.append(start.elapsed_time(end))
        else:
            fn()
        walls.append(time.perf_counter() - t0)
    walls_ms = [1e3 * w for w in walls]
    timed = events if cuda else walls_ms
    return {"ms": round(sum(timed) / len(timed), 5), "wall_ms": round(sum(walls_ms) / len(walls_ms), 5),
            "min_ms": round(min(timed), 5), "iterations": len(walls)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--filter", default="", help="regular expression: run the cases whose name matches")
    ap.add_argument("--backend", choices=["cudnn", "native"], default="cudnn",
                    help="cudnn: cuDNN in benchmark mode (default); native: cuDNN disabled")
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls per case (default 2)")
    ap.add_argument("--min-iters", type=int, default=10, help="timed iterations per case, at least (default 10)")
    ap.add_argument("--min-seconds", type=float, default=0.2,
                    help="timed host time per case, at least (default 0.2)")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                    help="cpu: check the script without a GPU (host timing; not a benchmark)")
    ap.add_argument("--json", action="store_true", help="print one JSON document; progress to stderr")
    ap.add_argument("--list", action="store_true", help="print the case names (after --filter) and exit")
    args = ap.parse_args()
    if args.min_iters < 1 or args.warmup < 0:
        ap.error("--min-iters must be >= 1 and --warmup >= 0")
    pattern = re.compile(args.filter)
    cases = [(n, b) for n, b in all_cases() if pattern.search(n)]
    if args.list:
        print("\n".join(n for n, _ in cases))
        return

    import torch
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print(f"torch_layers_cuda.py: skipped: no CUDA GPU for torch {torch.__version__} "
              f"(CUDA build: {torch.version.cuda or 'no'})", file=sys.stderr)
        sys.exit(SKIP)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.enabled = args.backend == "cudnn"
    torch.backends.cudnn.benchmark = args.backend == "cudnn"
    torch.manual_seed(0)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(0) if cuda else "CPU (script check, not a benchmark)"
    log = sys.stderr if args.json else sys.stdout
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, device {name}, backend {args.backend}, "
          f"float32 (no TF32), {len(cases)} cases", file=log, flush=True)
    results = []
    for case_name, builder in cases:
        fn = builder(torch, device)
        r = {"name": case_name, **time_case(torch, fn, cuda, args.warmup, args.min_iters, args.min_seconds)}
        results.append(r)
        print(f"{case_name:70s} {r['ms']:10.4f} ms  (wall {r['wall_ms']:.4f}, min {r['min_ms']:.4f}, "
              f"{r['iterations']} it)", file=log, flush=True)
        del fn
    if args.json:
        print(json.dumps({"tool": "torch_layers_cuda", "torch": torch.__version__, "cuda": torch.version.cuda,
                          "cudnn": torch.backends.cudnn.version() if cuda and args.backend == "cudnn" else None,
                          "device": args.device, "device_name": name, "backend": args.backend,
                          "benchmarks": results}, indent=1))


if __name__ == "__main__":
    main()
