#!/usr/bin/env bash
# Times one training step of each study model in melgrad and in PyTorch, in one run, side
# by side, and prints the ratio melgrad / PyTorch per model (goal: <= 0.8).
#
#   scripts/bench-step.sh [--build DIR] [--threads N] [--rounds R] [--out FILE.md]
#                         [MODEL...]        (default: cnn-beat cnn-full cnn-full-wide
#                                            lstm-beat lstm-full)
#
# Per model and round: `melgrad bench-step --json`, then bench/peers/torch_step.py --json,
# one right after the other, so both see the same machine load. With R > 1 rounds the
# reported ms is the mean of the rounds' means, and "min" the fastest single step seen.
# The peer is the newest PyTorch a user can install here: the PyPI wheel
# (`pip install -r bench/peers/requirements.txt`) when `python3` imports torch, otherwise
# Debian's python3-torch (OpenBLAS) through /usr/bin/python3; PEER_PYTHON=... picks one
# interpreter explicitly. The table names the version that ran. lstm-full
# takes minutes per step in PyTorch: both tools time it with 1 warm-up and 1 timed step.
# --out also writes the table as Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build threads=2 rounds=1 out="" models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "bench-step.sh: unknown option $1" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[ ${#models[@]} -eq 0 ] && models=(cnn-beat cnn-full cnn-full-wide lstm-beat lstm-full)
melgrad="$build/experiments/melgrad"
[ -x "$melgrad" ] || { echo "bench-step.sh: $melgrad not found: build first (scripts/build.sh $build)" >&2; exit 1; }
peer_python=${PEER_PYTHON:-}
if [ -z "$peer_python" ]; then
  for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c "import torch" 2>/dev/null; then peer_python=$candidate; break; fi
  done
fi
[ -n "$peer_python" ] && "$peer_python" -c "import torch" 2>/dev/null || {
  echo "bench-step.sh: no PyTorch found (${PEER_PYTHON:-python3, /usr/bin/python3}): pip install -r" \
    "bench/peers/requirements.txt, or as a fallback apt-get install python3-torch" >&2
  exit 1
}
echo "bench-step.sh: peer: $("$peer_python" -c 'import torch; print("PyTorch", torch.__version__, "from", torch.__file__)')" >&2

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for model in "${models[@]}"; do
  for ((r = 1; r <= rounds; r++)); do
    echo "[$model] round $r/$rounds: melgrad ..." >&2
    "$melgrad" bench-step --model "$model" --threads "$threads" --json |
      python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["tool"]="melgrad"; print(json.dumps(d))' >>"$results"
    echo "[$model] round $r/$rounds: PyTorch ..." >&2
    "$peer_python" bench/peers/torch_step.py --model "$model" --threads "$threads" --json 2>/dev/null |
      python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["tool"]="torch"; print(json.dumps(d))' >>"$results"
  done
done

python3 - "$results" "$threads" "$out" <<'EOF'
import json, platform, sys
path, threads, out = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(l) for l in open(path)]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
torch_version = next((r.get("torch") for r in rows if r["tool"] == "torch"), "?")
order = list(dict.fromkeys(r["model"] for r in rows))
lines = [f"CPU: {cpu}; {threads} threads; PyTorch {torch_version}; float32, batch 32",
         "",
         "| model | melgrad ms/step | PyTorch ms/step | ratio | melgrad min | PyTorch min | ratio of mins | goal <= 0.8 |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
for m in order:
    mel = [r for r in rows if r["model"] == m and r["tool"] == "melgrad"]
    tor = [r for r in rows if r["model"] == m and r["tool"] == "torch"]
    mm = sum(r["ms_per_step"] for r in mel) / len(mel)
    tm = sum(r["ms_per_step"] for r in tor) / len(tor)
    mmin = min(r["min_ms"] for r in mel)
    tmin = min(r["min_ms"] for r in tor)
    ratio = mm / tm
    lines.append(f"| {m} | {mm:.1f} | {tm:.1f} | {ratio:.2f} | {mmin:.1f} | {tmin:.1f} | {mmin / tmin:.2f} | "
                 f"{'met' if ratio <= 0.8 else 'MISSED'} |")
text = "\n".join(lines)
print(text)
if out:
    with open(out, "w") as f:
        f.write(text + "\n")
EOF
