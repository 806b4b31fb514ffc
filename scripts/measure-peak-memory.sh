#!/usr/bin/env bash
# Peak resident memory of a melgrad command: runs it for at most SECONDS, sampling VmHWM
# (the kernel's high-water mark of resident memory) every second; prints the peak in MB, the
# time it was reached and whether the command finished. Used for docs/DATASET.md's table.
#   scripts/measure-peak-memory.sh SECONDS melgrad genre --data DIR ...
set -euo pipefail
limit=$1
shift
"$@" > /tmp/measure-peak-$$.out 2> /tmp/measure-peak-$$.err &
pid=$!
peak=0
at=0
start=$SECONDS
while kill -0 "$pid" 2>/dev/null && (( SECONDS - start < limit )); do
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  if (( ${hwm:-0} > peak )); then peak=$hwm; at=$(( SECONDS - start )); fi
  sleep 1
done
if kill -0 "$pid" 2>/dev/null; then
  kill -INT "$pid"
  wait "$pid" || true
  state="stopped after ${limit} s"
else
  wait "$pid" && state="finished" || state="failed ($?)"
fi
echo "peak resident $(( peak / 1024 )) MB (reached at ${at} s); ${state}"
grep -E "loaded|stream|epoch 1/" /tmp/measure-peak-$$.err | head -5 || true
rm -f /tmp/measure-peak-$$.out /tmp/measure-peak-$$.err
