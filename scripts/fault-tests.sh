#!/usr/bin/env bash
# Fault tests of run folders, checkpoints, caches and configs, through the `melgrad` program
# on a tiny generated data set (issue 12; the guarantees are in docs/EXPERIMENTS.md):
#   1. concurrent runs on one --out: exactly one runs, the others are refused by the lock;
#   2. kill -9 at random moments (N rounds, each resuming the last; every other kill the
#      moment a checkpoint's temp file appears): after every kill best.h5 loads, and the
#      final resume ends equal to an uninterrupted run (log and metrics), no temp file left;
#   3. corrupt checkpoints (truncated, overwritten, bytes flipped), caches and configs: a
#      one-line error naming the file, a rebuilt cache, never a crash (exit >= 128);
#   4. disk full on a small tmpfs (skipped with a message where mounting one is not allowed):
#      "no space left on device", the previous checkpoints intact, no temp file left;
#   5. --force on a read-only folder (as user nobody when run as root): refused, nothing lost.
# Usage: scripts/fault-tests.sh [--quick | --soak] [--melgrad PATH]
#   --quick (default; CTest label e2e): 4 kill rounds, 3 concurrent runs, ~1 min on 2 cores.
#   --soak (CTest label slow): 30 kill rounds, 6 concurrent runs, more byte flips.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=quick
melgrad=build/experiments/melgrad
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --soak) mode=soak ;;
    --melgrad) melgrad=$2; shift ;;
    *) echo "usage: $0 [--quick | --soak] [--melgrad PATH]" >&2; exit 2 ;;
  esac
  shift
done
melgrad=$(realpath "$melgrad")
[ -x "$melgrad" ] || { echo "fault-tests: no melgrad program at $melgrad (build it first)" >&2; exit 2; }
# 77: CTest's SKIP_RETURN_CODE for this script (tests/e2e/CMakeLists.txt).
command -v jq >/dev/null || { echo "fault-tests: skipped: needs jq (scripts/setup.sh installs it)"; exit 77; }
if [ "$mode" = soak ]; then kill_rounds=30; concurrent=6; flips=20; else kill_rounds=4; concurrent=3; flips=4; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/melgrad-faults-XXXXXX")
chmod 755 "$work"
mounted=""
cleanup() {
  [ -n "$mounted" ] && umount "$mounted" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export MELGRAD_CACHE="$work/cache"
failures=0
pass() { echo "  ok: $*"; }
fail() { echo "  FAILED: $*"; failures=$((failures + 1)); }
check() {  # check "what" command...: passes when the command succeeds
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
said() { grep -qi -- "$1" "$2"; }          # said TEXT FILE (case-insensitive)
no_crash() { [ "$1" -lt 128 ]; }           # an exit status that is not a signal
no_temps() { ! find "$1" -name '*.tmp-*' | grep -q .; }
RANDOM=$(( $$ % 32768 ))  # reproducible from the PID printed below
echo "fault-tests ($mode, pid $$, melgrad $melgrad)"

"$melgrad" make-dataset --out "$work/data" --short-arrays --seed 7 --threads 2 >/dev/null 2>&1 ||
  { echo "fault-tests: cannot generate the data set" >&2; exit 1; }
train=(genre --data "$work/data" --beat --frames 16 --channels 1,4,8 --threads 1 --no-progress
  --batch-size 4 --patience 0)

echo "== 1. $concurrent runs started together on one --out"
pids=()
for i in $(seq "$concurrent"); do
  "$melgrad" "${train[@]}" --epochs 2 --seed "$i" --out "$work/shared" >"$work/c$i.out" 2>"$work/c$i.err" &
  pids+=($!)
done
winners=0; refused=0
for i in $(seq "$concurrent"); do
  wait "${pids[$((i - 1))]}"; code=$?
  if [ $code -eq 0 ]; then winners=$((winners + 1)); winner=$i
  elif [ $code -eq 1 ] && { said "is in use by another melgrad process" "$work/c$i.err" ||
                             said "is not empty" "$work/c$i.err"; }; then refused=$((refused + 1))
  else echo "    run $i: exit $code: $(tail -1 "$work/c$i.err")"; fi
done
check "one run went ahead ($winners), the others were refused ($refused)" \
  [ "$winners" -eq 1 -a "$refused" -eq $((concurrent - 1)) ]
check "log.jsonl holds the winner's 2 epochs only" [ "$(jq -s length "$work/shared/log.jsonl")" = 2 ]
check "config.json is the winner's (seed $winner)" \
  [ "$(jq .seed "$work/shared/config.json")" = "${winner:-none}" ]
evaluates() { "$melgrad" evaluate --run "$1" --json >/dev/null 2>&1; }
check "evaluate reads the folder" evaluates "$work/shared"

echo "== 2. kill -9 at random moments, $kill_rounds rounds, then resume to the end"
epochs=8
"$melgrad" "${train[@]}" --channels 1,8,16 --epochs $epochs --out "$work/reference" >/dev/null 2>&1 ||
  fail "the uninterrupted reference run"
run="$work/killed"
epoch_ms=$(jq -s 'map(.seconds) | add / length * 1000 | floor' "$work/reference/log.jsonl")
bad_checkpoints=0; during_writes=0
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
for round in $(seq "$kill_rounds"); do
  # A run that finished before its kill starts over (--force), so that every round kills one.
  if [ -f "$run/metrics.json" ]; then how=--force; elif [ -f "$run/last.h5" ]; then how=--resume
  elif [ -d "$run" ]; then how=--force; else how=""; fi
  "$melgrad" "${train[@]}" --channels 1,8,16 --epochs $epochs --out "$run" $how >"$work/k.out" 2>"$work/k.err" &
  pid=$!
  # Odd rounds: a random moment within two epochs of training. Even rounds: the moment a
  # checkpoint's temp file appears, i.e. in the middle of a write.
  for _ in $(seq 2000); do [ -f "$run/log.jsonl" ] || [ -f "$run/config.json" ] && break; sleep 0.01; done
  if [ $((round % 2)) -eq 1 ]; then
    sleep_ms $((RANDOM % (2 * epoch_ms + 1)))
  else
    for _ in $(seq 4000); do compgen -G "$run/*.h5.tmp-$pid" >/dev/null && break; sleep 0.005; done
  fi
  compgen -G "$run/*.tmp-$pid" >/dev/null && during_writes=$((during_writes + 1))
  kill -9 $pid 2>/dev/null
  { wait $pid; } 2>/dev/null; code=$?  # (without bash's "Killed" line)
  [ $code -eq 0 ] || [ $code -eq 137 ] || { fail "round $round ($how): exit $code: $(tail -1 "$work/k.err")"; continue; }
  if [ -f "$run/best.h5" ] && ! "$melgrad" evaluate --run "$run" --json >/dev/null 2>"$work/e.err"; then
    bad_checkpoints=$((bad_checkpoints + 1))
    echo "    round $round: best.h5 does not load: $(tail -1 "$work/e.err")"
  fi
done
echo "  ($during_writes of $kill_rounds kills landed while a checkpoint's temp file was being written)"
check "every best.h5 loaded after each kill" [ $bad_checkpoints -eq 0 ]
if [ -f "$run/last.h5" ]; then how=--resume; else how=--force; fi
"$melgrad" "${train[@]}" --channels 1,8,16 --epochs $epochs --out "$run" $how >/dev/null 2>"$work/final.err"
check "the final run ($how) ends" [ $? -eq 0 ]
log_numbers() { jq -c '[.epoch, .train_loss, .val_loss, .val_accuracy]' "$1/log.jsonl"; }
check "its log equals the uninterrupted run's" [ "$(log_numbers "$run")" = "$(log_numbers "$work/reference")" ]
check "its metrics equal the uninterrupted run's" \
  [ "$(jq -S 'del(.train_seconds)' "$run/metrics.json")" = "$(jq -S 'del(.train_seconds)' "$work/reference/metrics.json")" ]
check "no temp file is left in the run folder" no_temps "$run"

echo "== 3. corrupt checkpoints, caches and configs"
fresh_copy() { rm -rf "$work/$1"; cp -r "$work/reference" "$work/$1"; echo "$work/$1"; }
r=$(fresh_copy trunc)
truncate -s $(($(stat -c %s "$r/best.h5") / 2)) "$r/best.h5"
"$melgrad" evaluate --run "$r" >/dev/null 2>"$work/t.err"; code=$?
check "a truncated best.h5: exit 1 naming it" eval '[ $code -eq 1 ] && said "$r/best.h5" "$work/t.err"'
r=$(fresh_copy garbage)
head -c 4096 /dev/urandom | dd of="$r/last.h5" conv=notrunc status=none
"$melgrad" "${train[@]}" --channels 1,8,16 --epochs $((epochs + 1)) --out "$r" --resume >/dev/null 2>"$work/g.err"; code=$?
check "an overwritten last.h5: --resume exits 1 naming it" eval '[ $code -eq 1 ] && said "$r/last.h5" "$work/g.err"'
crashes=0
for i in $(seq "$flips"); do
  r=$(fresh_copy flip)
  for f in best.h5 last.h5; do
    size=$(stat -c %s "$r/$f")
    for _ in 1 2 3 4; do
      printf "\\x$(printf %02x $((RANDOM % 256)))" | dd of="$r/$f" bs=1 seek=$(( (RANDOM * 32768 + RANDOM) % size )) conv=notrunc status=none
    done
  done
  "$melgrad" evaluate --run "$r" --json >/dev/null 2>&1; no_crash $? || crashes=$((crashes + 1))
  "$melgrad" "${train[@]}" --channels 1,8,16 --epochs $((epochs + 1)) --out "$r" --resume >/dev/null 2>&1
  no_crash $? || crashes=$((crashes + 1))
done
check "$flips checkpoints with flipped bytes: refused or used, never a crash" [ $crashes -eq 0 ]
# (A NaN written into a weight: tests/e2e/test_run_folders.cpp, which can write one exactly.)
r=$(fresh_copy classes)
jq '.classes |= .[0:9]' "$work/reference/config.json" >"$r/config.json"
"$melgrad" evaluate --run "$r" >/dev/null 2>"$work/cfg.err"; code=$?
check "config.json with 9 classes for 10 outputs: exit 1 naming the field" \
  eval '[ $code -eq 1 ] && said "$r/config.json: field .classes." "$work/cfg.err"'
head -c 100 "$work/reference/config.json" >"$r/config.json"
"$melgrad" evaluate --run "$r" >/dev/null 2>"$work/cfg.err"; code=$?
check "a truncated config.json: exit 1 naming it" eval '[ $code -eq 1 ] && said "$r/config.json" "$work/cfg.err"'
cache=$(ls "$MELGRAD_CACHE"/h5/genre_beat-*.h5 | head -1)
size=$(stat -c %s "$cache")
head -c 256 /dev/urandom | dd of="$cache" bs=1 seek=$((size / 2)) conv=notrunc status=none
"$melgrad" evaluate --run "$work/reference" --json >"$work/cache.json" 2>"$work/cache.err"; code=$?
check "a damaged cache is named, rebuilt, and the scores do not change" \
  eval '[ $code -eq 0 ] && said "is damaged" "$work/cache.err" && said "rebuilding it" "$work/cache.err" &&
        [ "$(jq -S "del(.train_seconds, .best_epoch, .epochs_run)" "$work/cache.json")" = \
          "$(jq -S "del(.train_seconds, .best_epoch, .epochs_run)" "$work/reference/metrics.json")" ]'

echo "== 4. disk full on a small tmpfs"
small="$work/small-disk"
mkdir -p "$small"
if mount -t tmpfs -o size=8m tmpfs "$small" 2>"$work/mount.err"; then
  mounted=$small
  "$melgrad" "${train[@]}" --channels 1,8,16 --epochs 1 --out "$small/run" >/dev/null 2>&1 ||
    fail "a one-epoch run on the tmpfs"
  cp "$small/run/best.h5" "$work/best-before.h5"
  dd if=/dev/zero of="$small/fill" bs=64k status=none 2>/dev/null  # until the disk is full
  "$melgrad" "${train[@]}" --channels 1,8,16 --epochs 3 --out "$small/run" --resume >/dev/null 2>"$work/full.err"
  code=$?
  check "a run on a full disk: exit 1, 'no space left on device'" \
    eval '[ $code -eq 1 ] && said "no space left on device" "$work/full.err"'
  check "its best.h5 is intact" cmp -s "$small/run/best.h5" "$work/best-before.h5"
  check "no temp file is left on the full disk" no_temps "$small"
  rm -f "$small/fill"
  "$melgrad" "${train[@]}" --channels 1,8,16 --epochs 3 --out "$small/run" --resume >/dev/null 2>&1
  check "with room again, --resume finishes the run" [ $? -eq 0 ]
  umount "$small" && mounted=""
else
  echo "  skipped: cannot mount a tmpfs here ($(head -1 "$work/mount.err")); needs root or CAP_SYS_ADMIN"
fi

echo "== 5. --force on a read-only folder"
r=$(fresh_copy read-only)
as_other=()
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [ "$(id -u)" = 0 ]; then
  # Root writes into read-only folders: the check runs as nobody, when nobody can run melgrad.
  if command -v setpriv >/dev/null && "${nobody[@]}" test -x "$melgrad" -a -r "$work/data"; then
    as_other=("${nobody[@]}" env MELGRAD_CACHE="$work/nobody-cache")
    mkdir -p "$work/nobody-cache" && chmod 777 "$work/nobody-cache"
  fi
else
  chmod 555 "$r"
fi
if [ "$(id -u)" = 0 ] && [ ${#as_other[@]} -eq 0 ]; then
  echo "  skipped: running as root, and user nobody cannot run $melgrad (or there is no setpriv)"
else
  "${as_other[@]}" "$melgrad" "${train[@]}" --epochs 1 --out "$r" --force >/dev/null 2>"$work/ro.err"; code=$?
  chmod 755 "$r"
  check "refused with exit 1, naming the permission, not 'pass --force'" \
    eval '[ $code -eq 1 ] && ! said "pass --force" "$work/ro.err" &&
          { said "permission denied" "$work/ro.err" || said "not writable" "$work/ro.err"; }'
  check "the run's files are all there" [ -f "$r/best.h5" -a -f "$r/last.h5" -a -f "$r/metrics.json" ]
fi

if [ $failures -gt 0 ]; then
  echo "fault-tests: $failures check(s) FAILED (work folder kept: $work)"
  trap - EXIT
  [ -n "$mounted" ] && umount "$mounted"
  exit 1
fi
echo "fault-tests: all checks passed"
