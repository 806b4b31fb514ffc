#!/usr/bin/env bash
# CTest test_gpu_check_dry_run: scripts/gpu-check.sh --dry-run on the already built tree
# (--no-build) must run its stages that make sense without a GPU (the emulator's tests, a
# smoke run of the kernel benchmarks), skip the others saying why, and write the same files
# as on a GPU, each marked "no GPU".
#   tests/kernels/test_gpu_check_dry_run.sh BUILD_DIR
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "test_gpu_check_dry_run: $*" >&2; cat "$out/summary.md" >&2 2>/dev/null; exit 1; }

"$root/scripts/gpu-check.sh" --dry-run --no-build --build "$build" --total 150 "$out"
rc=$?
[ "$rc" = 0 ] || fail "gpu-check.sh --dry-run exited with $rc"
for f in summary.md summary.json gpu-report.md native-tests.log kernel-bench.log \
         bench-kernels-emu.json; do
  [ -s "$out/$f" ] || fail "$f is missing or empty"
done
grep -q "no GPU" "$out/summary.md" || fail "summary.md does not say 'no GPU'"
grep -q "no GPU" "$out/gpu-report.md" || fail "gpu-report.md does not say 'no GPU'"
python3 - "$out/summary.json" <<'PY' || fail "summary.json is not what a dry run writes"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["gpu"] is False and "no GPU" in doc["device"], doc
status = {s["stage"]: s["status"] for s in doc["stages"]}
assert list(status) == ["build", "native-tests", "kernel-bench", "step-bench", "sanitizer",
                        "report"], status
assert status["native-tests"] == "ok" and status["kernel-bench"] == "ok", status
assert status["report"] == "ok", status
for skipped in ("build", "step-bench", "sanitizer"):
    assert status[skipped] == "skipped", status
notes = {s["stage"]: s["note"] for s in doc["stages"]}
assert "no GPU" in notes["step-bench"] and "no GPU" in notes["sanitizer"], notes
PY
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['benchmarks'], d" \
  "$out/bench-kernels-emu.json" || fail "bench-kernels-emu.json holds no benchmark"
echo "test_gpu_check_dry_run: ok"
