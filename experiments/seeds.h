// `--seeds N`: one experiment trained N times with the training seeds seed, seed+1, ...,
// seed+N-1 (initialisation, batch order, dropout); the split seed stays fixed, so every
// seed is tested on the same clips. Layout (docs/EXPERIMENTS.md):
//
//   RUN/seed-<S>/      an ordinary run folder per seed (evaluate, predict, compare take it)
//   RUN/seeds.json     per headline metric: the seeds' values, mean, std and the 95 %
//                      two-level bootstrap interval (seed_summary.h)
//   RUN/study.json     (training commands only) RUN as a one-experiment study, so that
//                      `melgrad report --run RUN` and `melgrad compare RUN ...` read it
//
// In a study each experiment folder STUDY/EXP is such a RUN (without its own study.json).
// A transfer run whose genre run has seed folders starts seed S from GENRE_RUN/seed-<S>.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/cli.h"
#include "experiments/experiment.h"

namespace melgrad::experiments {

// "seed-42".
std::string seed_dir_name(uint64_t seed);

struct SeedRuns {
  std::string parent;  // the folder holding the seed folders
  std::vector<uint64_t> seeds;
  std::vector<std::string> dirs;  // relative to the parent: "seed-42", ...
  nlohmann::json first_metrics;   // the first seed's metrics.json
  nlohmann::json summary;         // what seeds.json holds
};

// Trains `count` seeds of `base` into base.out/seed-<S> and writes base.out/seeds.json.
// base.mode: fresh (base.out missing or empty), force (each seed's run files replaced) or
// resume (finished seeds kept, interrupted ones resumed; a seed never started runs fresh
// when base.data_dir is set, and is an error naming it otherwise). Throws Interrupted on
// Ctrl-C after saving the current seed's state.
SeedRuns run_seed_runs(const ExperimentSpec& base, int64_t count);

// The study.json that makes a training command's multi-seed folder a one-experiment study.
nlohmann::json single_experiment_study(const ExperimentSpec& base, const SeedRuns& runs);

// Reads the seed runs in `dirs` (below `parent`) and summarises their headline metrics.
nlohmann::json summarise_seed_folders(const std::string& parent, const std::vector<uint64_t>& seeds,
                                      const std::vector<std::string>& dirs);

// --seeds N, for the training commands (genre, regress, multitask, transfer).
cli::Option seeds_option();
// A usage error for --seeds below 1; the commands call it before the data set is resolved
// (which may generate the default one).
void check_seeds_option(const cli::Args& args);
// A training command with --seeds: run_seed_runs, then RUN/study.json and the summary on
// stdout. --seeds below 1 is a usage error.
int run_seed_command(ExperimentSpec spec, int64_t count);

// For commands that take one run folder (evaluate, predict): a usage error naming the seed
// folders when `run_dir` is a multi-seed folder (seeds.json, no config.json); else nothing.
void reject_seed_parent(const std::string& run_dir);

// Prints one line per metric: "accuracy 0.431 ± 0.020 [0.380, 0.490] over 3 seeds".
void print_seed_summary(const std::string& label, const nlohmann::json& summary);

}  // namespace melgrad::experiments
