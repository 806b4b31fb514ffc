// Uncertainty over training seeds and test clips (docs/REPORT.md, "Intervals and tests").
//
// An experiment run with S training seeds gives S models, each scored on the same n test
// clips (the split seed is fixed). metric(s, clips) is the metric of seed s's predictions on
// the clips at `clips` (repeats allowed). Two sources of noise make the mean over seeds
// uncertain: which seeds were drawn and which clips happen to be in the test split. The
// two-level bootstrap resamples both: draw S seeds with replacement, then n clips with
// replacement (the same clips for every drawn seed: they are one test split), and average the
// drawn seeds' metric on the drawn clips. The 2.5th and 97.5th percentiles of those averages
// are the 95 % interval. With S = 1 it is the ordinary test-clip bootstrap (bootstrap.h).
//
// A comparison of two experiments A and B scored on the same clips is paired: one clip
// resample serves both, seeds are drawn for each side independently, and the statistic is
// mean_A - mean_B. Its percentile interval is reported with the two-sided bootstrap p-value
//   p = min(1, 2 * (1 + #{d* <= 0 or d* >= 0, the smaller tail}) / (1 + R)),
// the smallest level at which the percentile interval excludes 0 (identical runs: every
// d* is 0 and p = 1; a clearly better model: every d* > 0 and p = 2 / (R + 1)).
// Holm's step-down adjustment controls the family-wise error over several comparisons.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace melgrad::stats {

// metric(seed_index, clip_indices); NaN results (e.g. rho of a constant resample) are skipped.
using SeedMetric = std::function<double(size_t, const std::vector<int64_t>&)>;

struct BootstrapOptions {
  int64_t resamples = 2000;
  uint64_t seed = 42;
  double level = 0.95;
};

struct SeedSummary {
  std::vector<double> per_seed;      // each seed's metric on all test clips
  double mean = 0;                   // mean of per_seed
  double std = 0;                    // sample standard deviation (n - 1); NaN for one seed
  double low = 0, high = 0;          // the two-level bootstrap interval of the mean
  int64_t clips = 0, resamples = 0;  // resamples: those with a finite value
};

SeedSummary summarise_over_seeds(size_t seeds, int64_t clips, const SeedMetric& metric,
                                 const BootstrapOptions& options = {});

struct Difference {
  double mean_a = 0, mean_b = 0;
  double estimate = 0;       // mean_a - mean_b on all clips
  double low = 0, high = 0;  // percentile interval of the resampled differences
  double p_value = 1;        // two-sided bootstrap p-value (header)
  int64_t clips = 0, resamples = 0;
};

// A and B must index the same clips: clip i of `a` is clip i of `b`.
Difference paired_difference(size_t seeds_a, const SeedMetric& a, size_t seeds_b,
                             const SeedMetric& b, int64_t clips,
                             const BootstrapOptions& options = {});

// Holm-Bonferroni adjusted p-values, in the order given (NaN stays NaN and is not counted).
std::vector<double> holm_adjust(const std::vector<double>& p_values);

}  // namespace melgrad::stats
