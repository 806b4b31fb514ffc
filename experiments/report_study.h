// The study folder as the report reads it (format: docs/REPORT.md and the run-folder
// contract): study.json, the study's metrics.json and each experiment's run folder
// (config.json, log.jsonl, metrics.json, predictions.json, grid.json), parsed into typed
// records. Optional files that are missing leave notes, not errors; a file that is not
// valid JSON, or a field of the wrong type, is a ReportError naming the file and field.
// JSON null stands for NaN (nlohmann writes NaN as null); NaN renders as "n/a".
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace melgrad::report {

struct ReportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DatasetInfo {
  std::string name, path;
  bool synthetic = true;
  bool known = false;  // study.json carried a "dataset" object
};

struct EpochRecord {
  int64_t epoch = 0;
  double train_loss = NAN, val_loss = NAN, lr = NAN, seconds = NAN, clips_per_s = NAN;
  bool best = false;
  double val_accuracy = NAN;                   // genre
  std::map<std::string, double> val_spearman;  // regression kinds, per target
};

struct PerClassScores {
  double precision = NAN, recall = NAN, f1 = NAN;
  int64_t support = 0;
};

// The common tail of every metrics.json.
struct RunTotals {
  int64_t test_clips = -1, best_epoch = -1, epochs_run = -1;  // -1 = not given
  double train_seconds = NAN;
};

struct GenreMetrics {
  double accuracy = NAN, macro_f1 = NAN, weighted_f1 = NAN;
  std::vector<std::string> classes;
  std::vector<PerClassScores> per_class;        // in the order of classes
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted], empty if absent
};

struct RegressionMetrics {
  std::vector<std::string> targets;  // the keys of "spearman", in a stable order
  std::map<std::string, double> spearman, pvalue, mse;
  double mean_spearman = NAN;
};

struct GridRow {
  int64_t hidden = 0, layers = 0;
  double lr = NAN, best_val_loss = NAN, spearman = NAN;
  std::string loss, target, dir;
};

struct GenrePredictions {
  std::vector<std::string> classes, ids;
  std::vector<int64_t> truth, predicted;
};

struct RegressionPredictions {
  std::vector<std::string> targets, ids;
  std::map<std::string, std::vector<double>> truth, predicted;
};

// What the experiment is, from config.json when present, else guessed from its name.
struct RunTraits {
  std::string model;     // "cnn", "lstm" or ""
  std::string features;  // "mel", "chroma", "fused" or ""
  bool beat = false;
  std::vector<std::string> targets;  // regression kinds
};

struct ExperimentRun {
  // From study.json.
  std::string name, kind, title, dir;
  std::string folder;  // STUDY_DIR/dir
  bool folder_exists = false;
  bool known_kind = false;  // genre, regress, transfer, multitask or grid

  RunTraits traits;
  nlohmann::json config;  // null when config.json is missing
  bool has_metrics = false;
  std::string metrics_source;  // the file the metrics came from
  RunTotals totals;
  GenreMetrics genre;              // kind genre
  RegressionMetrics regression;    // kinds regress, transfer, multitask, grid
  nlohmann::json raw_metrics;      // the metrics object as read (unknown kinds)
  std::vector<GridRow> grid_rows;  // kind grid
  bool has_grid_best = false;
  GridRow grid_best;

  bool has_log = false;
  std::vector<EpochRecord> log;
  bool has_predictions = false;
  GenrePredictions genre_predictions;
  RegressionPredictions regression_predictions;

  std::vector<std::string> notes;  // "log.jsonl: not found", ...

  // Run with `--seeds N` (N > 1): every seed's run, the first being this one's own folder
  // (study.json's "seed_dirs"); empty for a single run (seed_summary.h: seed_runs_of).
  std::vector<ExperimentRun> seed_runs;

  bool is_genre() const { return kind == "genre"; }
  bool is_regression() const {
    return kind == "regress" || kind == "transfer" || kind == "multitask";
  }
};

struct StudyData {
  std::string dir;
  DatasetInfo dataset;
  std::string device, started;
  double seconds = NAN;
  std::vector<ExperimentRun> runs;  // in study.json order
  std::vector<std::string> notes;   // study-level problems that did not stop the report
};

// Reads the whole study folder. Throws ReportError when study.json is missing or any
// JSON file is malformed.
StudyData load_study(const std::string& study_dir);

// One run folder on its own (config.json's "command" gives its kind; a folder with
// grid.json is a grid). Throws ReportError when config.json is missing or malformed.
ExperimentRun load_run(const std::string& run_dir);

// The experiments `melgrad study` runs, in its order (a report row per missing one).
const std::vector<std::string>& standard_experiment_names();

}  // namespace melgrad::report
