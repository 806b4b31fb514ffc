// Percentile bootstrap confidence intervals (Efron & Tibshirani, "An Introduction to the
// Bootstrap", ch. 13): resample the n test items with replacement, recompute the statistic,
// and take the 2.5th and 97.5th percentiles of the resampled values. Seeded, so the same
// inputs give the same interval. Used to put an interval on a run's test metrics (accuracy,
// macro F1, Spearman's rho) from its predictions.json.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace melgrad::stats {

struct Interval {
  double estimate = 0;  // the statistic on all n items
  double low = 0, high = 0;
  int64_t n = 0, resamples = 0;
};

// statistic(indices) evaluates the statistic on the items at `indices` (repeats allowed).
// Resampled values that are NaN (e.g. rho of a constant resample) are left out.
Interval bootstrap(int64_t n, const std::function<double(const std::vector<int64_t>&)>& statistic,
                   int64_t resamples = 1000, uint64_t seed = 42, double level = 0.95);

// The q-quantile (q in [0, 1]) of ascending `sorted` values, interpolated linearly between
// the closest ranks (numpy.percentile's default). NaN when `sorted` is empty.
double quantile_of_sorted(const std::vector<double>& sorted, double q);

// The statistics of the study's test metrics on a resample.
double accuracy_of(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                   const std::vector<int64_t>& indices);
double macro_f1_of(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                   int64_t classes, const std::vector<int64_t>& indices);
double spearman_of(const std::vector<double>& truth, const std::vector<double>& predicted,
                   const std::vector<int64_t>& indices);

}  // namespace melgrad::stats
