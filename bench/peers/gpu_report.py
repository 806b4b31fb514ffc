#!/usr/bin/env python3
"""Markdown tables for docs/PERFORMANCE.md from one GPU benchmark run (stdlib only):

    python3 bench/peers/gpu_report.py [--build build] [--out build/gpu-report.md]
        [--step FILE] [--kernels FILE] [--torch-layers FILE]
        [--device-name NAME] [--peak-tflops X] [--peak-tf32-tflops X] [--peak-gbs X]

Reads what scripts/bench-step-gpu.sh --kernels writes into the build folder:
    bench-step-gpu.json          melgrad bench-step vs torch_step_cuda.py per model
    bench-kernels-gpu.json       bench_kernels_cuda (Google Benchmark JSON): melgrad, cuDNN,
                                 cuBLAS per case
    bench-layers-torch-gpu.json  torch_layers_cuda.py: the same cases in PyTorch
and prints, for whichever of them exist:
  1. the whole training step vs PyTorch eager (goal: melgrad >= 2x faster than the faster
     PyTorch configuration, native or cuDNN);
  2. each conv layer as % of cuDNN (cuDNN time / melgrad time: 100 % = as fast, above =
     faster), then pooling and batch norm the same way;
  3. the fused BiLSTM (persistent kernel) vs PyTorch's packed cuDNN LSTM (goal >= 3x);
  4. SGEMM as % of cuBLAS;
  5. achieved % of the device's peak FP32 FLOP/s and memory bandwidth per melgrad case.
FLOP and byte counts come from the shapes (study_shapes.py), not from the benchmarks'
counters: conv 2 N O H W C 9 FLOP (3x3, padding 1) moving x, w and y once; GEMM 2 m n k
moving A, B and C once; pool and batch norm the bytes melgrad's kernels move (pool: x, y
and int64 indices; batch norm: 3 passes over the tensor training forward, 2 eval, 5
backward); BiLSTM the useful multiply-adds over the real (unpadded) steps, forward
2 dirs x (2 L I 4H + 2 L H 4H) per layer, forward + backward 3x that, no byte count.
Peaks: NVIDIA datasheet values (boost clock, dense) by device name; --peak-* override.
"""

import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import study_shapes as shapes  # noqa: E402

# (substring of the device name, label, FP32 TFLOP/s, dense TF32 tensor TFLOP/s, GB/s),
# the first match wins, so the more specific names come first. Source: NVIDIA datasheets.
PEAKS = (
    ("H100 NVL", "H100 NVL", 60.0, 417.5, 3900.0),
    ("H100 PCIe", "H100 PCIe", 51.2, 378.0, 2000.0),
    ("H100", "H100 SXM", 66.9, 494.7, 3350.0),
    ("H200 NVL", "H200 NVL", 60.0, 417.5, 4800.0),
    ("H200", "H200 SXM", 66.9, 494.7, 4800.0),
    ("A100-SXM4-80GB", "A100 SXM4 80GB", 19.5, 156.0, 2039.0),
    ("A100 80GB PCIe", "A100 PCIe 80GB", 19.5, 156.0, 1935.0),
    ("A100", "A100 40GB", 19.5, 156.0, 1555.0),
)

TIME_UNITS_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
F32 = 4


def device_peaks(name):
    """(label, fp32 TFLOP/s, tf32 TFLOP/s, GB/s) for a device name, or None."""
    for key, label, fp32, tf32, gbs in PEAKS:
        if key.lower() in (name or "").lower():
            return label, fp32, tf32, gbs
    return None


def resolve_peaks(name, fp32=None, tf32=None, gbs=None):
    """(label, fp32, tf32 or None, GB/s) from the device table, each overridable; None when
    the FP32 or bandwidth peak stays unknown."""
    label, t_fp32, t_tf32, t_gbs = device_peaks(name) or (name, None, None, None)
    overridden = any(v is not None for v in (fp32, tf32, gbs))
    fp32 = t_fp32 if fp32 is None else fp32
    tf32 = t_tf32 if tf32 is None else tf32
    gbs = t_gbs if gbs is None else gbs
    if fp32 is None or gbs is None:
        return None
    return (f"{label}{' with --peak-* overrides' if overridden else ' (datasheet)'}", fp32, tf32, gbs)


# ---- reading the inputs -------------------------------------------------------------

def load_json(path):
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def case_times(doc):
    """{case name: mean ms} of a Google Benchmark JSON or a torch_layers_cuda.py document.
    Failed or skipped cases and aggregates are left out; repeated runs are averaged."""
    if not doc:
        return {}
    runs = {}
    for b in doc.get("benchmarks", []):
        if b.get("error_occurred") or b.get("run_type", "iteration") != "iteration":
            continue
        name = re.sub(r"/real_time$", "", b.get("run_name") or b["name"])
        if "ms" in b:  # the PyTorch peer
            ms = float(b["ms"])
        else:
            ms = float(b["real_time"]) * TIME_UNITS_MS[b.get("time_unit", "ns")]
        runs.setdefault(name, []).append(ms)
    return {n: sum(v) / len(v) for n, v in runs.items()}


# ---- work per case -------------------------------------------------------------------

def conv_work(layer):
    nx = layer.N * layer.C * layer.H * layer.W
    nw = layer.O * layer.C * 9
    ny = layer.N * layer.O * layer.H * layer.W
    return 2.0 * ny * layer.C * 9, F32 * (nx + nw + ny)


def pool_bytes(layer):
    nx = layer.N * layer.O * layer.H * layer.W
    ny = layer.N * layer.O * (layer.H // layer.pool) * (layer.W // layer.pool)
    return F32 * (nx + ny) + 8 * ny  # x, y (or dy, dx) and the int64 argmax


def norm_bytes(pass_name, layer):
    passes = {"batch_norm_train_forward": 3, "batch_norm_eval_forward": 2, "batch_norm_train_backward": 5}
    return passes[pass_name] * F32 * layer.N * layer.O * layer.H * layer.W


def lstm_flops(length_sum, backward, input_size=shapes.LSTM_INPUT, hidden=shapes.LSTM_HIDDEN,
               layers=shapes.LSTM_LAYERS):
    total = 0.0
    for layer in range(layers):
        width = input_size if layer == 0 else 2 * hidden
        total += 2 * (2.0 * length_sum * width * 4 * hidden + 2.0 * length_sum * hidden * 4 * hidden)
    return 3 * total if backward else total


def gemm_work(m, n, k):
    return 2.0 * m * n * k, F32 * (m * k + k * n + m * n)


# ---- formatting ------------------------------------------------------------------------

def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.1f}"


def fmt(v, spec, suffix=""):
    return "—" if v is None else f"{v:{spec}}{suffix}"


def num(v):
    """v as a float, or None when missing or NaN (bench-step-gpu.sh writes NaN for a missing run)."""
    return None if v is None or math.isnan(float(v)) else float(v)


def ratio(a, b):
    return a / b if a is not None and b else None


def percent(a, b):
    r = ratio(a, b)
    return None if r is None else 100 * r


def table(header, rows, text_columns=1):
    """A Markdown table: the first text_columns columns left-aligned, the rest (numbers) right."""
    out = ["| " + " | ".join(header) + " |",
           "| " + " | ".join("---" if i < text_columns else "---:" for i in range(len(header))) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


# ---- sections --------------------------------------------------------------------------

def step_section(step):
    lines = ["## Whole training step vs PyTorch eager (goal: melgrad >= 2x faster)", ""]
    if not step:
        return lines + ["Not measured (no bench-step-gpu.json).", ""]
    rows = []
    for s in step.get("summary", []):
        mel, native, cudnn = (num(s.get(k)) for k in ("melgrad_ms", "torch-native_ms", "torch-cudnn_ms"))
        best = min((t for t in (native, cudnn) if t is not None), default=None)
        speedup = ratio(best, mel)
        rows.append([s["model"], fmt_ms(mel), fmt_ms(num(s.get("melgrad-eager_ms"))), fmt_ms(native), fmt_ms(cudnn),
                     fmt(speedup, ".2f", "x"), "—" if speedup is None else ("met" if speedup >= 2 else "missed")])
    lines += table(["model", "melgrad ms (CUDA graph)", "melgrad eager ms", "PyTorch native ms",
                    "PyTorch cuDNN ms", "speed-up vs faster PyTorch", "goal >= 2x"], rows)
    return lines + ["", f"PyTorch {step.get('torch', '?')}, cuDNN {step.get('cudnn', '?')}; float32, batch 32.", ""]


def layer_section(mel, peer):
    lines = ["## CNN layers vs cuDNN (% of cuDNN = cuDNN time / melgrad time)", ""]
    conv_rows, other_rows = [], []
    totals = {}
    for name, kind, pass_name, layer in shapes.layer_cases("melgrad"):
        base = name[: -len("/melgrad")]
        t_mel, t_dnn, t_torch = mel.get(name), mel.get(base + "/cudnn"), peer.get(base + "/torch")
        if t_mel is None and t_dnn is None and t_torch is None:
            continue
        case = base.split("/", 1)[1]
        pct = fmt(percent(t_dnn, t_mel), ".0f", " %")
        if kind == "conv":
            flops, _ = conv_work(layer)
            tflops = flops / (t_mel * 1e9) if t_mel else None
            conv_rows.append([case, pass_name, fmt_ms(t_mel), fmt_ms(t_dnn), fmt_ms(t_torch), pct,
                              fmt(tflops, ".2f")])
            if t_mel is not None and t_dnn is not None:
                acc = totals.setdefault(pass_name, [0.0, 0.0])
                acc[0] += t_mel
                acc[1] += t_dnn
        else:
            other_rows.append([case, pass_name, fmt_ms(t_mel), fmt_ms(t_dnn), fmt_ms(t_torch), pct])
    if not conv_rows and not other_rows:
        return lines + ["Not measured (no layer cases in bench-kernels-gpu.json).", ""]
    for pass_name, (t_mel, t_dnn) in totals.items():
        conv_rows.append(["**all layers (sum of times)**", pass_name, fmt_ms(t_mel), fmt_ms(t_dnn), "—",
                          fmt(100 * t_dnn / t_mel, ".0f", " %"), "—"])
    lines += table(["layer", "pass", "melgrad ms", "cuDNN ms", "PyTorch ms", "% of cuDNN", "melgrad TFLOP/s"],
                   conv_rows, text_columns=2)
    lines += ["", "Pooling and batch norm:", ""]
    lines += table(["layer", "pass", "melgrad ms", "cuDNN ms", "PyTorch ms", "% of cuDNN"], other_rows,
                   text_columns=2)
    return lines + [""]


def lstm_section(mel, peer, peer_backend):
    lines = [f"## Fused BiLSTM vs PyTorch packed LSTM ({peer_backend}; goal: melgrad >= 3x faster)", "",
             "2 layers, bidirectional, input 128, hidden 100, batch 32, lengths 90-100 % of T; melgrad's "
             "fused kernel is the persistent one (stepwise where it does not fit).", ""]
    rows = []
    for T in shapes.STUDY_T:
        for backward in (False, True):
            t = {algo: mel.get(shapes.lstm_case(T, code, backward))
                 for code, algo in shapes.LSTM_ALGOS.items() if code != "torch"}
            t_torch = peer.get(shapes.lstm_case(T, "torch", backward))
            if all(v is None for v in t.values()) and t_torch is None:
                continue
            fused = t["persistent"] if t["persistent"] is not None else t["stepwise"]
            speedup = ratio(t_torch, fused)
            rows.append([f"T {T}", "forward + backward" if backward else "forward", fmt_ms(t["persistent"]),
                         fmt_ms(t["stepwise"]), fmt_ms(t["cudnn"]), fmt_ms(t_torch), fmt(speedup, ".2f", "x"),
                         "—" if speedup is None else ("met" if speedup >= 3 else "missed")])
    if not rows:
        return lines + ["Not measured.", ""]
    return lines + table(["T", "pass", "melgrad persistent ms", "melgrad stepwise ms", "cuDNN (melgrad's wrapper) ms",
                          "PyTorch packed ms", "speed-up", "goal >= 3x"], rows, text_columns=2) + [""]


def gemm_section(mel, peer):
    lines = ["## SGEMM vs cuBLAS (float32; % of cuBLAS = cuBLAS time / melgrad time)", ""]
    rows = []
    for m, n, k, tb in shapes.GPU_GEMM_SHAPES:
        t = {impl: mel.get(shapes.gemm_case(impl, m, n, k, tb)) for impl in ("melgrad", "cublas", "melgrad_tf32")}
        t_torch = peer.get(shapes.gemm_case("torch", m, n, k, tb))
        if all(v is None for v in t.values()) and t_torch is None:
            continue
        flops, _ = gemm_work(m, n, k)
        rows.append([f"{m}x{n}x{k}{' (B^T)' if tb else ''}", fmt_ms(t["melgrad"]), fmt_ms(t["cublas"]),
                     fmt_ms(t_torch), fmt(percent(t["cublas"], t["melgrad"]), ".0f", " %"),
                     fmt(ratio(flops / 1e9, t["melgrad"]), ".2f"), fmt_ms(t["melgrad_tf32"])])
    if not rows:
        return lines + ["Not measured.", ""]
    return lines + table(["m x n x k", "melgrad ms", "cuBLAS ms", "PyTorch ms", "% of cuBLAS", "melgrad TFLOP/s",
                          "melgrad TF32 ms"], rows) + [""]


def peak_rows(mel):
    """(case, ms, flops or None, bytes or None, uses TF32) of every melgrad case measured."""
    out = []
    for name, kind, pass_name, layer in shapes.layer_cases("melgrad"):
        if name not in mel:
            continue
        if kind == "conv":
            flops, nbytes = conv_work(layer)
        else:
            flops, nbytes = None, pool_bytes(layer) if kind == "pool" else norm_bytes(pass_name, layer)
        out.append((name, mel[name], flops, nbytes, False))
    for T in shapes.STUDY_T:
        for backward in (False, True):
            for code in ("0", "1"):
                name = shapes.lstm_case(T, code, backward)
                if name in mel:
                    out.append((name, mel[name], lstm_flops(sum(shapes.study_lengths(T)), backward), None, False))
    for m, n, k, tb in shapes.GPU_GEMM_SHAPES:
        for impl in ("melgrad", "melgrad_tf32"):
            name = shapes.gemm_case(impl, m, n, k, tb)
            if name in mel:
                out.append((name, mel[name], *gemm_work(m, n, k), impl == "melgrad_tf32"))
    return out


def peak_section(mel, peaks):
    label, fp32, tf32, gbs = peaks
    lines = ["## Achieved % of the device's peak (melgrad kernels)", "",
             f"Peaks used: {label}: FP32 {fp32:g} TFLOP/s, TF32 tensor cores {fmt(tf32, 'g')} TFLOP/s "
             f"(the TF32 GEMM rows), memory {gbs:g} GB/s.", ""]
    rows = []
    for name, ms, flops, nbytes, tf32_case in peak_rows(mel):
        tflops = flops / (ms * 1e9) if flops else None
        gbps = nbytes / (ms * 1e6) if nbytes else None
        rows.append([name.replace("/melgrad", ""), fmt_ms(ms), fmt(tflops, ".2f"),
                     fmt(percent(tflops, tf32 if tf32_case else fp32), ".1f", " %"), fmt(gbps, ".0f"),
                     fmt(percent(gbps, gbs), ".1f", " %")])
    if not rows:
        return lines + ["Not measured.", ""]
    return lines + table(["case", "ms", "TFLOP/s", "% of peak FLOP/s", "GB/s", "% of peak bandwidth"], rows) + [""]


def report(step, kernels, peer_doc, device_name=None, peak_override=(None, None, None)):
    mel, peer = case_times(kernels), case_times(peer_doc)
    name = device_name or (step or {}).get("gpu") or (peer_doc or {}).get("device_name") or "unknown GPU"
    peaks = resolve_peaks(name, *peak_override)
    lines = [f"# GPU benchmarks: {name}", ""]
    lines += step_section(step)
    lines += layer_section(mel, peer)
    backend = (peer_doc or {}).get("backend", "cudnn")
    lines += lstm_section(mel, peer, "cuDNN" if backend == "cudnn" else "PyTorch's own CUDA kernels, cuDNN off")
    lines += gemm_section(mel, peer)
    if peaks:
        lines += peak_section(mel, peaks)
    else:
        lines += ["## Achieved % of the device's peak", "",
                  f"Peak unknown for {name!r}: pass --peak-tflops and --peak-gbs.", ""]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="folder with the JSON files (default build)")
    ap.add_argument("--step", help="bench-step JSON (default BUILD/bench-step-gpu.json; '': none)")
    ap.add_argument("--kernels", help="Google Benchmark JSON (default BUILD/bench-kernels-gpu.json)")
    ap.add_argument("--torch-layers", help="torch_layers_cuda.py JSON (default BUILD/bench-layers-torch-gpu.json)")
    ap.add_argument("--device-name", help="the GPU's name (default: from the JSON files)")
    ap.add_argument("--peak-tflops", type=float, help="peak FP32 TFLOP/s (overrides the device table)")
    ap.add_argument("--peak-tf32-tflops", type=float, help="peak dense TF32 tensor-core TFLOP/s")
    ap.add_argument("--peak-gbs", type=float, help="peak memory bandwidth, GB/s (overrides the device table)")
    ap.add_argument("--out", help="also write the Markdown here")
    args = ap.parse_args(argv)
    def path(arg, default):  # an empty path: no such input
        return os.path.join(args.build, default) if arg is None else arg

    step = load_json(path(args.step, "bench-step-gpu.json"))
    kernels = load_json(path(args.kernels, "bench-kernels-gpu.json"))
    peer = load_json(path(args.torch_layers, "bench-layers-torch-gpu.json"))
    if not (step or kernels or peer):
        print("gpu_report.py: no benchmark JSON found (run scripts/bench-step-gpu.sh --kernels first)",
              file=sys.stderr)
        return 1
    text = report(step, kernels, peer, args.device_name, (args.peak_tflops, args.peak_tf32_tflops, args.peak_gbs))
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
