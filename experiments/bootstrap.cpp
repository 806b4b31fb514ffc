// Percentile bootstrap: see bootstrap.h.
#include "experiments/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "experiments/metrics.h"

namespace melgrad::stats {

Interval bootstrap(int64_t n, const std::function<double(const std::vector<int64_t>&)>& statistic,
                   int64_t resamples, uint64_t seed, double level) {
  if (n <= 0) throw std::invalid_argument("bootstrap: no items to resample");
  if (resamples < 1 || !(level > 0 && level < 1))
    throw std::invalid_argument("bootstrap: resamples must be >= 1 and level in (0, 1)");
  Interval out;
  out.n = n;
  std::vector<int64_t> all(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) all[size_t(i)] = i;
  out.estimate = statistic(all);
  // std::mt19937_64 is specified bit for bit by the standard; the index is drawn with a
  // plain modulo of the 64-bit word (bias < n / 2^64), so the draws are portable.
  std::mt19937_64 rng(seed);
  std::vector<double> values;
  values.reserve(size_t(resamples));
  std::vector<int64_t> pick(static_cast<size_t>(n));
  for (int64_t r = 0; r < resamples; ++r) {
    for (int64_t i = 0; i < n; ++i) pick[size_t(i)] = int64_t(rng() % uint64_t(n));
    const double v = statistic(pick);
    if (std::isfinite(v)) values.push_back(v);
  }
  out.resamples = int64_t(values.size());
  if (values.empty()) {
    out.low = out.high = NAN;
    return out;
  }
  std::sort(values.begin(), values.end());
  out.low = quantile_of_sorted(values, (1 - level) / 2);
  out.high = quantile_of_sorted(values, 1 - (1 - level) / 2);
  return out;
}

double quantile_of_sorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return NAN;
  const double pos = q * double(sorted.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - double(lo));
}

double accuracy_of(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                   const std::vector<int64_t>& indices) {
  int64_t right = 0;
  for (int64_t i : indices) right += truth[size_t(i)] == predicted[size_t(i)];
  return indices.empty() ? NAN : double(right) / double(indices.size());
}

double macro_f1_of(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                   int64_t classes, const std::vector<int64_t>& indices) {
  // As metrics::classification_report: the mean of the F1 of every class (0 for a class
  // with no true or predicted item: scikit-learn's zero_division = 0 over given labels).
  const auto c = static_cast<size_t>(std::max<int64_t>(classes, 0));
  std::vector<int64_t> tp(c), fp(c), fn(c);
  for (int64_t i : indices) {
    const int64_t t = truth[size_t(i)], p = predicted[size_t(i)];
    if (t == p) {
      ++tp[size_t(t)];
    } else {
      ++fp[size_t(p)];
      ++fn[size_t(t)];
    }
  }
  if (classes <= 0 || indices.empty()) return NAN;
  double sum = 0;
  for (size_t k = 0; k < size_t(classes); ++k) {
    const double denom = double(2 * tp[k] + fp[k] + fn[k]);
    sum += denom > 0 ? 2.0 * double(tp[k]) / denom : 0.0;
  }
  return sum / double(classes);
}

double spearman_of(const std::vector<double>& truth, const std::vector<double>& predicted,
                   const std::vector<int64_t>& indices) {
  std::vector<double> x, y;
  x.reserve(indices.size());
  y.reserve(indices.size());
  for (int64_t i : indices) {
    x.push_back(truth[size_t(i)]);
    y.push_back(predicted[size_t(i)]);
  }
  return metrics::spearman(x, y).rho;
}

}  // namespace melgrad::stats
