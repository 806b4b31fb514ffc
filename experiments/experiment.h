// One experiment of the study, end to end: the data sub-set and features, the splits and
// per-band standardisation (train split only), the network, training (trainer.h), the test
// metrics, and the run folder (run_folder.h, docs/EXPERIMENTS.md). A run is described by
// its config.json, which is also what `--resume`, `evaluate` and `predict` rebuild from.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "datasets/splits.h"
#include "experiments/run_folder.h"
#include "experiments/task.h"
#include "models/cnn.h"
#include "models/lstm.h"

namespace melgrad::experiments {

// The study's kinds of experiment, one per training command. The kind picks the data sub-set
// (genre: the genre sub-set; regress, transfer, multitask: the multitask sub-set; each full
// or beat-synchronised) and the task; config.json stores its name as "command".
enum class ExperimentKind { genre, regress, transfer, multitask };
// "genre", "regress", "transfer" or "multitask": the command that trains the kind.
std::string experiment_kind_name(ExperimentKind kind);
// The kind named `name`; an error naming `where` (e.g. "config.json field 'command'") and the
// value otherwise.
ExperimentKind parse_experiment_kind(const std::string& name, const std::string& where);
// config.json's "command" as a kind.
ExperimentKind experiment_kind_of(const nlohmann::json& config);
// The data sub-set an experiment of `kind` reads, full clips or (beat) beat-synchronised.
data::Subset subset_for(ExperimentKind kind, bool beat);

// Data-parallel training (under mpirun; without it these change nothing).
struct DataParallelOptions {
  double bucket_mb = 25;         // --bucket-mb: gradient bucket size
  double timeout_seconds = 60;   // --dist-timeout: seconds before a missing rank stops the run
  bool sync_batch_norm = false;  // --sync-bn: BatchNorm statistics over the global batch
};

// --stream on|off|auto: read batches from the HDF5 cache instead of holding the data set
// (datasets/clip_stream.h); a streamed fresh run shuffles by chunks of ~chunk_mb.
struct StreamOptions {
  data::StreamMode mode = data::StreamMode::automatic;
  double chunk_mb = 64;  // --stream-chunk-mb
};

struct ExperimentSpec {
  ExperimentKind kind = ExperimentKind::genre;
  std::string model = "cnn";           // cnn | lstm (transfer and multitask: cnn)
  std::string features = "mel";        // mel | chroma | fused
  bool beat = false;                   // the beat-synchronised sub-set
  std::vector<std::string> targets;    // regression kinds
  std::vector<double> target_weights;  // multitask loss weights (empty: 1 each)
  std::string loss = "mse";            // regression: mse | l1 | smooth_l1
  int64_t epochs = 30;
  bool epochs_given = false;  // with --resume: the new total number of epochs
  int64_t batch_size = 32;
  int64_t patience = 12;
  double lr = 1e-4;
  double weight_decay = 1e-5;
  double clip_grad_norm = 0;
  uint64_t seed = 42;
  uint64_t split_seed = data::kDefaultSplitSeed;
  data::SplitFractions split_fractions;  // negative: the sub-set's defaults (splits.h)
  std::string recipe = "default";        // default | seed (experiments/recipe_seed.h)
  std::string device = "cpu";
  bool cuda_graphs = true;    // --cuda-graphs on|off (GPU build; experiments/graph_step.h)
  bool deterministic = true;  // --deterministic on|off, else MELGRAD_DETERMINISTIC (determinism.h)
  std::string data_dir;       // resolved DATA_DIR
  std::string out;            // "" = runs/<command>-<time>
  RunDirMode mode = RunDirMode::fresh;
  models::CnnConfig cnn;  // cnn.frames 0: the longest clip of the sub-set
  models::LstmConfig lstm;
  int64_t max_frames = 0;     // LSTM: crop longer clips (0: never)
  std::string transfer_from;  // transfer: the genre CNN run folder (its best.h5 and config.json)
  bool freeze_trunk = false;
  bool standardise = true;
  bool strict = false;  // --strict: a label row whose clip file is missing is an error
  std::string label;    // progress and summary lines ("" = the command)
  bool progress_bar = true;
  DataParallelOptions data_parallel;
  StreamOptions stream;
};

// The study's recipe (REFERENCE §2) as defaults for a command and model: channels and pool
// (full-clip genre CNN 1-16-64-256-512 pool 3; beat/regression 1-4-16-64-256 pool 2),
// learning rate, weight decay, patience. Sets spec.cnn / spec.lstm / lr / weight_decay /
// patience; the caller then applies the user's options.
void apply_recipe_defaults(ExperimentSpec& spec);

// Runs (or resumes) the experiment; returns its metrics.json object. Throws Interrupted on
// Ctrl-C (state saved).
nlohmann::json run_experiment(ExperimentSpec spec);

// Loads (or, by `stream`, streams) the data sub-set a config.json names, with its splits,
// standardised with the config's stored statistics. `strict`: a label row whose clip file is
// missing is a DataError naming the label file, line and id; otherwise such rows are skipped and
// print_load_report says so.
struct RunData {
  data::SubsetData data;
  data::Splits splits;
};
RunData load_run_data(const nlohmann::json& config, bool strict = false,
                      data::StreamMode stream = data::StreamMode::automatic);

// On stderr, prefixed by `label`: how many label rows were skipped and why (when any),
// one line of clips, seconds, MB/s and whether the HDF5 cache was read or written, and
// (unless --stream off) whether the batches are streamed from the cache and why.
void print_load_report(const std::string& label, const data::SubsetData& data);
// Only the first of those lines (nothing when no row was skipped): for the commands that
// read a data set without training on it (evaluate, overfit-batch).
void print_skipped_rows(const std::string& label, const data::SubsetData& data);
Task task_for_config(const nlohmann::json& config);

// --device: "cpu", or "cuda" when this build has a CUDA backend and (GPU build) a GPU; a
// clear error otherwise. Initialises the device.
Device check_device(const std::string& device);
// --threads: OpenMP/Eigen threads (0 = leave the default: all cores; more than the cores:
// the cores, said on stderr; negative: a usage error).
void apply_threads(int64_t threads);

// One line of the test metrics: "test accuracy 0.431, macro F1 0.402 (72 clips)".
std::string metrics_summary(const nlohmann::json& metrics);

}  // namespace melgrad::experiments
