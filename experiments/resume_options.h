// --resume continues a run with the settings in its config.json. An option given with
// --resume that disagrees with the run (another --model, --lr, --hidden, --data, ...) is
// a usage error naming the option and the run's value, never silently ignored; --epochs
// (the new total) and the options that do not change the run (--device, --threads,
// --cuda-graphs, --no-progress, --strict) may differ.
#pragma once

#include <string>

#include "experiments/cli.h"

namespace melgrad::experiments {

// Throws cli::UsageError (exit 2) on the first option of `args` that conflicts with the
// run in `run_dir`; does nothing when the run has no config.json (the resume then fails
// with its own message).
void check_resume_options(const cli::Args& args, const std::string& run_dir);

}  // namespace melgrad::experiments
