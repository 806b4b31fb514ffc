// The submission step as a command line gives it, shared by `melgrad submit` and
// `melgrad predict --split test` (both in this folder): one place that turns their options
// into experiments::SubmissionOptions.
#pragma once

#include <string>

#include "experiments/cli.h"

namespace melgrad {

// Writes the submission CSV of the run --run to --csv (--force replaces it, --device picks
// the device) with the clips of `data_dir` ("" = the data set the run was trained on), and
// prints the count. Returns the command's exit status (0).
int write_submission_from_args(const cli::Args& a, const std::string& data_dir);

}  // namespace melgrad
