#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the whole study (`melgrad study`:
# genre CNN vs BiLSTM, beat-synchronised features, per-attribute regression, transfer
# learning, multitask) on the embedded synthetic data set (generated on first use), then
# prints where the report is. Extra arguments go to `melgrad study`, e.g.
#   bash scripts/run-study.sh --data /path/to/patreco3      # the real data set
#   bash scripts/run-study.sh --quick                        # two epochs per experiment
# STUDY_DIR chooses the output folder (default: runs/study-<time>).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
study_dir=${STUDY_DIR:-runs/study-$(date -u +%Y%m%d-%H%M%S)}
./build/experiments/melgrad study --out "$study_dir" "$@"
