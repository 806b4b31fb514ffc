#!/usr/bin/env bash
# One training step of each study model on a GPU, melgrad and PyTorch in one run, side by
# side: prints a Markdown table and writes every measurement as JSON.
#
#   scripts/bench-step-gpu.sh [--build DIR] [--out FILE.json] [--md FILE.md] [--rounds R]
#                             [--kernels] [--sanitize] [--no-torch] [--min-seconds S]
#                             [MODEL...]
#       MODEL: cnn-beat cnn-full cnn-full-wide lstm-beat lstm-full (default: all five)
#
# Per model and round, one right after the other (same machine state):
#   melgrad bench-step --device cuda                   (the trainer's step; a CUDA graph)
#   melgrad bench-step --device cuda --cuda-graphs off (eager launches)
#   bench/peers/torch_step_cuda.py --backend native    (PyTorch eager, cuDNN disabled)
#   bench/peers/torch_step_cuda.py --backend cudnn     (PyTorch eager with cuDNN)
# all float32 (no TF32), batch 32, batch uploaded from host memory each step. The table
# gives ms/step (mean over rounds) and melgrad's speed-up over each PyTorch configuration
# (issue goal: >= 2x over PyTorch eager for the whole step).
# --kernels also runs the per-layer benchmarks (build/kernels/bench_kernels_cuda: every conv
# layer, pooling, batch norm, the BiLSTM and SGEMM, melgrad next to cuDNN/cuBLAS) into
# DIR/bench-kernels-gpu.json and their PyTorch twin (bench/peers/torch_layers_cuda.py, cuDNN
# on: the packed BiLSTM on cuDNN) into DIR/bench-layers-torch-gpu.json; --sanitize runs the
# GPU test programs under compute-sanitizer (memcheck, racecheck) first. At the end
# bench/peers/gpu_report.py turns the JSON into the tables of docs/PERFORMANCE.md (% of
# cuDNN / cuBLAS, BiLSTM and step speed-ups, % of the device's peak): DIR/gpu-report.md.
# Needs: an NVIDIA GPU, melgrad built by nvcc (scripts/build.sh), and PyTorch with CUDA
# (pip install -r bench/peers/requirements.txt); --no-torch (what scripts/gpu-check.sh passes
# where PyTorch is missing) leaves the PyTorch columns empty. --min-seconds S: timed work per
# configuration (default: each tool's own). Without a GPU it says so and exits 77.
# A few minutes on an H100 (lstm-full dominates).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build out="" md="" rounds=1 kernels=0 sanitize=0 torch=1 min_seconds=() models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --md) md=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --kernels) kernels=1; shift ;;
    --sanitize) sanitize=1; shift ;;
    --no-torch) torch=0; shift ;;
    --min-seconds) min_seconds=(--min-seconds "$2"); shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    -*) echo "bench-step-gpu.sh: unknown option $1" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[ ${#models[@]} -eq 0 ] && models=(cnn-beat cnn-full cnn-full-wide lstm-beat lstm-full)
[ -n "$out" ] || out="$build/bench-step-gpu.json"
melgrad="$build/experiments/melgrad"
[ -x "$melgrad" ] || { echo "bench-step-gpu.sh: $melgrad not found: build first (scripts/build.sh $build)" >&2; exit 1; }
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "bench-step-gpu.sh: skipped: no NVIDIA GPU here (nvidia-smi finds none); GPU figures need a GPU" >&2
  exit 77
fi
[ "$torch" = 0 ] || python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null || {
  echo "bench-step-gpu.sh: PyTorch with CUDA is not installed or sees no GPU: pip install -r bench/peers/requirements.txt" >&2
  exit 1; }
nvidia-smi -L >&2

if [ "$sanitize" = 1 ]; then
  for t in "$build/tests/cuda/test_cuda_native" "$build/tests/kernels/test_kernels_cuda"; do
    for tool in memcheck racecheck; do
      echo "== compute-sanitizer --tool $tool $t" >&2
      compute-sanitizer --tool "$tool" --error-exitcode 1 "$t" >&2
    done
  done
fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT
tag() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["tool"]=sys.argv[1]; print(json.dumps(d))' "$1"; }
for model in "${models[@]}"; do
  for ((r = 1; r <= rounds; r++)); do
    echo "[$model] round $r/$rounds: melgrad (CUDA graph) ..." >&2
    "$melgrad" bench-step --model "$model" --device cuda "${min_seconds[@]}" --json | tag melgrad >>"$results"
    echo "[$model] round $r/$rounds: melgrad (eager) ..." >&2
    "$melgrad" bench-step --model "$model" --device cuda --cuda-graphs off "${min_seconds[@]}" --json |
      tag melgrad-eager >>"$results"
    [ "$torch" = 1 ] || continue
    for backend in native cudnn; do
      echo "[$model] round $r/$rounds: PyTorch ($backend) ..." >&2
      python3 bench/peers/torch_step_cuda.py --model "$model" --backend "$backend" "${min_seconds[@]}" --json |
        tag "torch-$backend" >>"$results"
    done
  done
done

if [ "$kernels" = 1 ]; then
  bench="$build/kernels/bench_kernels_cuda"
  [ -x "$bench" ] || { echo "bench-step-gpu.sh: $bench not found" >&2; exit 1; }
  echo "== per-layer kernels, melgrad vs cuDNN/cuBLAS: $build/bench-kernels-gpu.json" >&2
  "$bench" --benchmark_format=console --benchmark_out="$build/bench-kernels-gpu.json" \
    --benchmark_out_format=json >&2
  echo "== per-layer kernels, PyTorch (cuDNN): $build/bench-layers-torch-gpu.json" >&2
  [ "$torch" = 0 ] ||
    python3 bench/peers/torch_layers_cuda.py --backend cudnn --json >"$build/bench-layers-torch-gpu.json"
fi

python3 - "$results" "$out" "$md" <<'EOF'
import json, sys
path, out, md = sys.argv[1:4]
rows = [json.loads(l) for l in open(path)]
tools = ["melgrad", "melgrad-eager", "torch-native", "torch-cudnn"]
order = list(dict.fromkeys(r["model"] for r in rows))
def mean(model, tool):
    v = [r["ms_per_step"] for r in rows if r["model"] == model and r["tool"] == tool]
    return sum(v) / len(v) if v else float("nan")
gpu = next((r.get("device_name") for r in rows if r.get("device_name")), "?")
torch_version = next((r.get("torch") for r in rows if r.get("torch")), "?")
cudnn = next((r.get("cudnn") for r in rows if r.get("cudnn")), "?")
lines = [f"GPU: {gpu}; PyTorch {torch_version}, cuDNN {cudnn}; float32 (no TF32), batch 32, "
         "batch uploaded each step", "",
         "| model | melgrad graph ms | melgrad eager ms | PyTorch native ms | PyTorch cuDNN ms "
         "| speed-up vs native | speed-up vs cuDNN | goal >= 2x |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
summary = []
for m in order:
    t = {k: mean(m, k) for k in tools}
    best_torch = min(t["torch-native"], t["torch-cudnn"])  # nan without PyTorch: goal "-"
    lines.append(f"| {m} | {t['melgrad']:.2f} | {t['melgrad-eager']:.2f} | {t['torch-native']:.2f} | "
                 f"{t['torch-cudnn']:.2f} | {t['torch-native'] / t['melgrad']:.2f}x | "
                 f"{t['torch-cudnn'] / t['melgrad']:.2f}x | "
                 f"{'-' if best_torch != best_torch else 'met' if best_torch / t['melgrad'] >= 2 else 'missed'} |")
    summary.append({"model": m, **{f"{k}_ms": t[k] for k in tools}})
text = "\n".join(lines)
print(text)
with open(out, "w") as f:
    json.dump({"gpu": gpu, "torch": torch_version, "cudnn": cudnn, "summary": summary, "runs": rows}, f, indent=1)
print(f"\nJSON: {out}", file=sys.stderr)
if md:
    with open(md, "w") as f:
        f.write(text + "\n")
EOF

# The report: this run's JSON only (without --kernels, no per-layer tables).
layer_json=("$build/bench-kernels-gpu.json" "$build/bench-layers-torch-gpu.json")
[ "$kernels" = 1 ] || layer_json=("" "")
python3 bench/peers/gpu_report.py --step "$out" --kernels "${layer_json[0]}" \
  --torch-layers "${layer_json[1]}" --out "$build/gpu-report.md" >/dev/null
echo "Report (Markdown tables for docs/PERFORMANCE.md): $build/gpu-report.md" >&2
