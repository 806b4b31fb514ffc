// Reproducible splits and per-band standardisation.
//
// Genre sets: the train/ clips are shuffled with the seed and split train : val = 2/3 : 1/3
//   (val = floor(n / 3)); test = the given test/ clips.
// Multitask sets: the labelled train/ clips are shuffled and split into val (floor(0.28 n)),
//   test (floor(0.12 n)) and train (the rest); the unlabelled test/ clips are `unlabelled`.
// Order: after the seeded Fisher–Yates shuffle (rng.h) of the pool in index order, val
// takes the first clips, test the next, train the rest; each list is then sorted ascending
// so that the split does not depend on anything but the seed and the pool.
#pragma once

#include <cstdint>
#include <vector>

#include "datasets/patreco3.h"

namespace melgrad::data {

constexpr uint64_t kDefaultSplitSeed = 42;
constexpr double kGenreValFraction = 1.0 / 3.0;
constexpr double kRegressionValFraction = 0.28;
constexpr double kRegressionTestFraction = 0.12;

struct Splits {
  std::vector<int64_t> train, val, test, unlabelled;  // indices into SubsetData::clips
};

// Other fractions than the defaults above (the notebook's regression CNN: val 0.12, test
// 0.28). A negative value keeps the sub-set's default; genre sets take no test fraction
// (their test split is the given test/ folder).
struct SplitFractions {
  double val = -1;
  double test = -1;
};

Splits make_splits(Subset subset, const std::vector<int64_t>& train_pool,
                   const std::vector<int64_t>& test_given, uint64_t seed = kDefaultSplitSeed,
                   const SplitFractions& fractions = {});
Splits make_splits(const SubsetData& data, uint64_t seed = kDefaultSplitSeed,
                   const SplitFractions& fractions = {});

// Mean and standard deviation of every feature band over all frames (no padding) of the
// given clips, accumulated in float64 in clip order. A band whose std is below 1e-6 gets
// std 1 so that applying the stats never divides by ~0. Streamed data (clip_stream.h): one
// pass reading a block of clips at a time, the same sums in the same order; `cancelled` is
// polled between blocks (file_io.h).
struct BandStats {
  std::vector<float> mean, std;  // [F]
};
BandStats compute_band_stats(const SubsetData& data, const std::vector<int64_t>& clips,
                             const CancelCheck& cancelled = {});

// x <- (x - mean) / std for every frame of every clip, in place (streamed data: on every
// later read).
void apply_band_stats(SubsetData& data, const BandStats& stats);

// compute_band_stats on splits.train, then apply to all clips; returns the stats.
BandStats standardise_on_train(SubsetData& data, const Splits& splits,
                               const CancelCheck& cancelled = {});

}  // namespace melgrad::data
