// Seeded splits and train-only per-band standardisation (see splits.h).
#include "datasets/splits.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "datasets/clip_stream.h"
#include "datasets/rng.h"

namespace melgrad::data {

namespace {
constexpr int64_t kStatsBlockFrames = 16 * 1024;  // ~9 MB of fused values per streamed read
}  // namespace

Splits make_splits(Subset subset, const std::vector<int64_t>& train_pool,
                   const std::vector<int64_t>& test_given, uint64_t seed,
                   const SplitFractions& fractions) {
  const bool genre = is_genre_subset(subset);
  const double val_fraction = fractions.val >= 0 ? fractions.val
                              : genre            ? kGenreValFraction
                                                 : kRegressionValFraction;
  const double test_fraction = genre                 ? 0
                               : fractions.test >= 0 ? fractions.test
                                                     : kRegressionTestFraction;
  if (genre && fractions.test >= 0)
    throw std::invalid_argument(
        "make_splits: a genre set's test split is its test/ folder; got a test fraction " +
        std::to_string(fractions.test));
  if (val_fraction + test_fraction >= 1)
    throw std::invalid_argument("make_splits: validation fraction " + std::to_string(val_fraction) +
                                " + test fraction " + std::to_string(test_fraction) +
                                " leave no training clips");
  std::vector<int64_t> pool = train_pool;
  Rng rng(mix_seed(seed, fnv1a64("splits")));
  rng.shuffle(pool);
  const auto n = static_cast<double>(pool.size());
  size_t n_val = 0, n_test = 0;
  Splits s;
  n_val = static_cast<size_t>(std::floor(n * val_fraction + 1e-9));
  if (genre) {
    s.test = test_given;
  } else {
    n_test = static_cast<size_t>(std::floor(n * test_fraction + 1e-9));
    s.unlabelled = test_given;
  }
  s.val.assign(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(n_val));
  if (!is_genre_subset(subset))
    s.test.assign(pool.begin() + static_cast<std::ptrdiff_t>(n_val),
                  pool.begin() + static_cast<std::ptrdiff_t>(n_val + n_test));
  s.train.assign(pool.begin() + static_cast<std::ptrdiff_t>(n_val + n_test), pool.end());
  for (auto* v : {&s.train, &s.val, &s.test, &s.unlabelled}) std::sort(v->begin(), v->end());
  return s;
}

Splits make_splits(const SubsetData& data, uint64_t seed, const SplitFractions& fractions) {
  return make_splits(data.subset, data.train_pool, data.test_given, seed, fractions);
}

BandStats compute_band_stats(const SubsetData& data, const std::vector<int64_t>& clips,
                             const CancelCheck& cancelled) {
  const auto F = static_cast<size_t>(data.feature_dim);
  std::vector<double> sum(F, 0.0), sum_sq(F, 0.0);
  int64_t frames = 0;
  auto add = [&](const float* values, int64_t T) {
    for (int64_t t = 0; t < T; ++t) {
      const float* row = values + static_cast<size_t>(t) * F;
      for (size_t f = 0; f < F; ++f) {
        sum[f] += row[f];
        sum_sq[f] += static_cast<double>(row[f]) * row[f];
      }
    }
    frames += T;
  };
  if (data.stream) {
    // One pass a block of clips at a time, in the given order (the same sums).
    for (size_t begin = 0; begin < clips.size();) {
      stop_if_cancelled(cancelled);
      size_t end = begin;
      int64_t block_frames = 0;
      while (end < clips.size() && (end == begin || block_frames < kStatsBlockFrames))
        block_frames += data.clips.at(static_cast<size_t>(clips[end++])).frames;
      const std::vector<int64_t> block(clips.begin() + static_cast<std::ptrdiff_t>(begin),
                                       clips.begin() + static_cast<std::ptrdiff_t>(end));
      const std::vector<std::vector<float>> values = data.stream->read(block);
      for (size_t k = 0; k < block.size(); ++k)
        add(values[k].data(), data.clips[static_cast<size_t>(block[k])].frames);
      begin = end;
    }
  } else {
    for (int64_t i : clips) {
      const Clip& c = data.clips.at(static_cast<size_t>(i));
      add(c.values.data(), c.frames);
    }
  }
  if (frames == 0) throw std::invalid_argument("compute_band_stats: no frames in the given clips");
  BandStats s;
  s.mean.resize(F);
  s.std.resize(F);
  for (size_t f = 0; f < F; ++f) {
    const double mean = sum[f] / static_cast<double>(frames);
    const double var = std::max(0.0, sum_sq[f] / static_cast<double>(frames) - mean * mean);
    const double sd = std::sqrt(var);
    s.mean[f] = static_cast<float>(mean);
    s.std[f] = static_cast<float>(sd < 1e-6 ? 1.0 : sd);
  }
  return s;
}

void apply_band_stats(SubsetData& data, const BandStats& stats) {
  const auto F = static_cast<size_t>(data.feature_dim);
  if (stats.mean.size() != F || stats.std.size() != F)
    throw std::invalid_argument("apply_band_stats: stats have " +
                                std::to_string(stats.mean.size()) + " bands, the data " +
                                std::to_string(F));
  if (data.stream) {  // applied on every later read
    data.stream->set_band_stats(stats.mean, stats.std);
    return;
  }
  for (Clip& c : data.clips)
    for (size_t k = 0; k < c.values.size(); ++k) {
      const size_t f = k % F;
      c.values[k] = (c.values[k] - stats.mean[f]) / stats.std[f];
    }
}

BandStats standardise_on_train(SubsetData& data, const Splits& splits,
                               const CancelCheck& cancelled) {
  BandStats s = compute_band_stats(data, splits.train, cancelled);
  apply_band_stats(data, s);
  return s;
}

}  // namespace melgrad::data
