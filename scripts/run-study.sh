#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs melgrad's main program.
# Until the study's experiments land (issue "4 · The study end to end"), this runs the
# engine demo: a small MLP fitted with autograd, printing its loss as it falls.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
./build/experiments/melgrad demo-mlp "$@"
