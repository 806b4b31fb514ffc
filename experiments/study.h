// `melgrad study`: every experiment the study reports, in order, each an ordinary run
// folder below STUDY_DIR, then study.json, metrics.json and the report (docs/EXPERIMENTS.md):
//   genre-cnn-mel, genre-lstm-mel            CNN vs BiLSTM on full clips
//   genre-cnn-mel-beat, genre-lstm-{mel,chroma,fused}-beat   beat-synchronised inputs
//   regress-{cnn,lstm}-{valence,energy,danceability}         one attribute per network
//   transfer-valence[-frozen]                the beat genre CNN fine-tuned on valence
//                                            (whole network / FC layers only)
//   multitask                                one trunk, three heads
//   grid-valence (optional, --with-grid)     a narrowed LSTM regression grid
// With --seeds N > 1 each experiment folder holds one run per training seed, EXP/seed-<S>,
// and EXP/seeds.json (experiments/seeds.h); study.json lists them as "seed_dirs". The grid
// runs once.
// The epochs of each experiment are set so that the whole study fits the main command's
// budget on 2 CPU cores (README); --quick runs two epochs each (a smoke test).
// --recipe seed runs the notebook's own experiment list and settings instead
// (experiments/recipe_seed.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "experiments/experiment.h"
#include "experiments/grid.h"

namespace melgrad::experiments {

struct StudyExperiment {
  std::string name;  // also the run folder's name
  std::string kind;  // genre | regress | transfer | multitask | grid
  std::string title;
  ExperimentSpec spec;
  std::optional<GridSpec> grid;  // a grid with these axes (unset: the default recipe's grid)
};

struct StudyOptions {
  std::string out;
  std::string data_dir;  // resolved
  bool quick = false;
  bool with_grid = false;
  bool resume = false;
  uint64_t seed = 42;
  int64_t seeds = 1;       // > 1: each experiment trained with seeds seed..seed+seeds-1 (seeds.h)
  int64_t epochs = 0;      // > 0: every experiment runs at most this many epochs
  int64_t cnn_frames = 0;  // > 0: CNN input frames (default: the longest clip of the sub-set)
  std::vector<std::string> only;  // run only these experiments (names); empty: all
  bool progress_bar = true;
  std::string device = "cpu";      // every experiment's --device
  bool cuda_graphs = true;         // and --cuda-graphs
  bool deterministic = true;       // and --deterministic
  bool strict = false;             // and --strict (a label row without its clip file is an error)
  std::string recipe = "default";  // default | seed (the notebook's list, recipe_seed.h)
  DataParallelOptions data_parallel;  // every experiment's --bucket-mb, --dist-timeout, --sync-bn
  StreamOptions stream;               // and --stream, --stream-chunk-mb
};

std::vector<StudyExperiment> study_plan(const StudyOptions& options);

// Copies what every experiment of a study shares from the study's options into a spec:
// the seed, CNN frames, data folder, progress bar, device, CUDA graphs, determinism, strict,
// the data-parallel and the streaming options.
void apply_study_options(ExperimentSpec& spec, const StudyOptions& options);

// Runs the plan; returns 0, or 130 after Ctrl-C (state saved; --resume continues).
int run_study(const StudyOptions& options);

}  // namespace melgrad::experiments
