// The headline test metrics of an experiment over its training seeds, from each seed run's
// predictions.json: per metric the seeds' values, mean ± std and the two-level bootstrap
// interval (seed_stats.h); and the paired comparison of two experiments on the test clips
// they share. Used by `--seeds N` to write seeds.json and by the report's "Intervals and
// significance" section (report_seeds.cpp), so both carry the same numbers.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/report_study.h"
#include "experiments/seed_stats.h"

namespace melgrad::report {

// One headline metric of one experiment: every seed's predictions on the same test clips.
struct MetricSeeds {
  std::string metric;                // "accuracy", "macro F1" or "Spearman <target>"
  std::vector<std::string> ids;      // the test clips, in order
  int64_t classes = 0;               // genre metrics
  std::vector<int64_t> truth_class;  // genre: [clip]
  std::vector<std::vector<int64_t>> predicted_class;  // genre: [seed][clip]
  std::vector<double> truth;                          // regression: [clip]
  std::vector<std::vector<double>> predicted;         // regression: [seed][clip]

  bool is_class_metric() const { return metric == "accuracy" || metric == "macro F1"; }
  size_t seeds() const;
  int64_t clips() const { return int64_t(ids.size()); }
  // The metric of seed `seed`'s predictions on the clips at `clips`.
  double value(size_t seed, const std::vector<int64_t>& clips) const;
  // The same metric on the clips of `keep` only, in that order (each must be present).
  MetricSeeds restricted_to(const std::vector<std::string>& keep) const;
};

// The seed runs of an experiment: those of its seed_runs that have predictions when it was
// run with --seeds N > 1 (a study interrupted mid-experiment has fewer), else the run itself.
std::vector<const ExperimentRun*> seed_runs_of(const ExperimentRun& run);

// The headline metrics (genre: accuracy, macro F1; regression: Spearman per target) over
// `runs`, the seeds of one experiment. Empty when a run has no predictions. Throws
// ReportError when the seeds were scored on different test clips (the split must not vary).
std::vector<MetricSeeds> headline_metric_seeds(const std::vector<const ExperimentRun*>& runs);

struct MetricSummary {
  std::string metric;
  stats::SeedSummary summary;
};
std::vector<MetricSummary> summarise(const std::vector<MetricSeeds>& metrics,
                                     const stats::BootstrapOptions& options = {});

// The paired comparison of metric `a` with `b` on the test clips both were scored on
// (matched by id). `shared_clips` is set to how many; 0 leaves the difference NaN.
stats::Difference compare_metric(const MetricSeeds& a, const MetricSeeds& b,
                                 int64_t* shared_clips = nullptr,
                                 const stats::BootstrapOptions& options = {});

// seeds.json (docs/EXPERIMENTS.md): the seeds, their folders and, per metric, the per-seed
// values, mean, std and interval, with the method in words.
nlohmann::json seeds_summary_json(const std::vector<uint64_t>& seeds,
                                  const std::vector<std::string>& dirs,
                                  const std::vector<MetricSummary>& metrics,
                                  const stats::BootstrapOptions& options = {});

// "0.431 ± 0.020" (std left out for one seed).
std::string mean_std_text(const stats::SeedSummary& s, int decimals = 3);
// "[0.38, 0.49]".
std::string interval_text(double low, double high, int decimals = 3);

}  // namespace melgrad::report
