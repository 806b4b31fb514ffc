// The command-line options shared by the training commands (genre, regress, transfer,
// multitask, grid, study) and their translation into an ExperimentSpec.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "experiments/cli.h"
#include "experiments/experiment.h"

namespace melgrad::experiments {

// Options every training command takes (data, beat, epochs, batch size, lr, seed, out,
// resume/force, device, threads, strict, and the network's shape).
std::vector<cli::Option> training_options();
// --strict (a label row whose clip file is missing is an error), taken by the training
// commands and by the others that read a data set (evaluate, overfit-batch).
cli::Option strict_option();

// --recipe default|seed, taken by the training commands and `study`.
cli::Option recipe_option();
// With --recipe seed (and not --resume): the notebook's settings for the spec's command,
// model, sub-set, features and target, except the options given (experiments/recipe_seed.h).
// run_training_command calls it; commands that do not (grid) call it themselves.
void apply_recipe_option(const cli::Args& args, ExperimentSpec& spec);
// Whether an option was given on this command line (false for options the command lacks).
std::function<bool(const std::string&)> given_options(const cli::Args& args);

// --bucket-mb, --dist-timeout and --sync-bn (data-parallel under mpirun): part of
// training_options(), and taken by `study` for every experiment it runs.
std::vector<cli::Option> data_parallel_options();
// Their values; a usage error for a --bucket-mb or --dist-timeout that is not > 0.
DataParallelOptions data_parallel_from_args(const cli::Args& args);

// --stream and --stream-chunk-mb: part of training_options(), and taken by `study` for every
// experiment it runs.
std::vector<cli::Option> stream_options();
// Their values; a usage error for an unknown mode or a chunk size that is not > 0.
StreamOptions stream_from_args(const cli::Args& args);

// Appends `extra` (command-specific options) to training_options().
std::vector<cli::Option> training_options_with(std::vector<cli::Option> extra);

// The spec of an experiment of `kind` from the recipe defaults and the user's options.
// `model` is the --model value for commands that take one (else "cnn").
ExperimentSpec spec_from_args(const cli::Args& args, ExperimentKind kind, const std::string& model);

// Applies --threads, runs the experiment, and maps Ctrl-C to exit code 130.
int run_training_command(const cli::Args& args, ExperimentSpec spec);

// true for "on", false for "off" (a usage error otherwise), from option --name.
bool on_off(const cli::Args& args, const std::string& name);

// "cnn" | "lstm" from --model (a usage error otherwise).
std::string model_option(const cli::Args& args);

}  // namespace melgrad::experiments
