// Two-level (seeds, then test clips) bootstrap intervals, the paired bootstrap test of a
// difference, and Holm's adjustment: see seed_stats.h.
#include "experiments/seed_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "experiments/bootstrap.h"

namespace melgrad::stats {
namespace {

void check_inputs(size_t seeds, int64_t clips, const BootstrapOptions& o, const char* who) {
  const std::string name = who;
  if (seeds == 0) throw std::invalid_argument(name + ": no seed runs to summarise");
  if (clips <= 0) throw std::invalid_argument(name + ": no test clips to resample");
  if (o.resamples < 1 || !(o.level > 0 && o.level < 1))
    throw std::invalid_argument(name + ": resamples must be >= 1 and level in (0, 1)");
}

// Draws as bootstrap() does (a plain modulo of mt19937_64's word: portable, bias < n / 2^64).
void draw(std::mt19937_64& rng, std::vector<int64_t>& into, int64_t n) {
  for (int64_t& v : into) v = int64_t(rng() % uint64_t(n));
}

// The mean over `picks` (seed indices, repeats allowed) of metric(seed, clips); each distinct
// seed is scored once. One seed: no draw, so S = 1 reproduces the plain clip bootstrap.
double mean_over_drawn_seeds(std::mt19937_64& rng, size_t seeds, const SeedMetric& metric,
                             const std::vector<int64_t>& clips) {
  if (seeds == 1) return metric(0, clips);
  std::vector<int64_t> picks(seeds);
  draw(rng, picks, int64_t(seeds));
  std::vector<int64_t> count(seeds, 0);
  for (int64_t s : picks) ++count[size_t(s)];
  double sum = 0;
  for (size_t s = 0; s < seeds; ++s)
    if (count[s] > 0) sum += double(count[s]) * metric(s, clips);
  return sum / double(seeds);
}

std::vector<int64_t> every_clip(int64_t clips) {
  std::vector<int64_t> all(static_cast<size_t>(clips));
  std::iota(all.begin(), all.end(), int64_t(0));
  return all;
}

double mean_of(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / double(v.size());
}

}  // namespace

SeedSummary summarise_over_seeds(size_t seeds, int64_t clips, const SeedMetric& metric,
                                 const BootstrapOptions& o) {
  check_inputs(seeds, clips, o, "summarise_over_seeds");
  SeedSummary out;
  out.clips = clips;
  const std::vector<int64_t> all = every_clip(clips);
  for (size_t s = 0; s < seeds; ++s) out.per_seed.push_back(metric(s, all));
  out.mean = mean_of(out.per_seed);
  double squares = 0;
  for (double x : out.per_seed) squares += (x - out.mean) * (x - out.mean);
  out.std = seeds > 1 ? std::sqrt(squares / double(seeds - 1)) : NAN;

  std::mt19937_64 rng(o.seed);
  std::vector<int64_t> pick(static_cast<size_t>(clips));
  std::vector<double> values;
  values.reserve(size_t(o.resamples));
  for (int64_t r = 0; r < o.resamples; ++r) {
    draw(rng, pick, clips);
    const double v = mean_over_drawn_seeds(rng, seeds, metric, pick);
    if (std::isfinite(v)) values.push_back(v);
  }
  std::sort(values.begin(), values.end());
  out.resamples = int64_t(values.size());
  out.low = quantile_of_sorted(values, (1 - o.level) / 2);
  out.high = quantile_of_sorted(values, 1 - (1 - o.level) / 2);
  return out;
}

Difference paired_difference(size_t seeds_a, const SeedMetric& a, size_t seeds_b,
                             const SeedMetric& b, int64_t clips, const BootstrapOptions& o) {
  check_inputs(std::min(seeds_a, seeds_b), clips, o, "paired_difference");
  Difference out;
  out.clips = clips;
  const std::vector<int64_t> all = every_clip(clips);
  std::vector<double> per_seed;
  for (size_t s = 0; s < seeds_a; ++s) per_seed.push_back(a(s, all));
  out.mean_a = mean_of(per_seed);
  per_seed.clear();
  for (size_t s = 0; s < seeds_b; ++s) per_seed.push_back(b(s, all));
  out.mean_b = mean_of(per_seed);
  out.estimate = out.mean_a - out.mean_b;

  std::mt19937_64 rng(o.seed);
  std::vector<int64_t> pick(static_cast<size_t>(clips));
  std::vector<double> values;
  values.reserve(size_t(o.resamples));
  for (int64_t r = 0; r < o.resamples; ++r) {
    draw(rng, pick, clips);  // one clip resample for both sides: the pairing
    const double va = mean_over_drawn_seeds(rng, seeds_a, a, pick);
    const double vb = mean_over_drawn_seeds(rng, seeds_b, b, pick);
    if (std::isfinite(va - vb)) values.push_back(va - vb);
  }
  std::sort(values.begin(), values.end());
  out.resamples = int64_t(values.size());
  out.low = quantile_of_sorted(values, (1 - o.level) / 2);
  out.high = quantile_of_sorted(values, 1 - (1 - o.level) / 2);
  if (values.empty()) {
    out.p_value = NAN;
    return out;
  }
  int64_t at_or_below = 0, at_or_above = 0;
  for (double d : values) {
    at_or_below += d <= 0;
    at_or_above += d >= 0;
  }
  const double tail = double(std::min(at_or_below, at_or_above));
  out.p_value = std::min(1.0, 2 * (tail + 1) / (double(values.size()) + 1));
  return out;
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  std::vector<size_t> order;
  for (size_t i = 0; i < p.size(); ++i)
    if (std::isfinite(p[i])) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return p[x] < p[y]; });
  std::vector<double> out(p.size(), NAN);
  const double m = double(order.size());
  double running = 0;  // adjusted values never decrease along the sorted order
  for (size_t rank = 0; rank < order.size(); ++rank) {
    running = std::max(running, std::min(1.0, (m - double(rank)) * p[order[rank]]));
    out[order[rank]] = running;
  }
  return out;
}

}  // namespace melgrad::stats
