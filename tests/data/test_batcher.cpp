// Splits (sizes, seeds), per-band standardisation on the training split only, and
// zero-padded [N, T, F] batches with true lengths and seeded per-epoch order.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "datasets/batcher.h"
#include "datasets/splits.h"
#include "tests/data/test_util.h"

using namespace melgrad::data;

namespace {

// n clips with F = 2 bands; clip i has T = 1 + i % 4 frames and values 1000 i + 10 t + f.
SubsetData toy(Subset subset, int64_t n_train, int64_t n_test) {
  SubsetData d;
  d.subset = subset;
  d.features = Features::mel;
  d.feature_dim = 2;
  for (int64_t i = 0; i < n_train + n_test; ++i) {
    Clip c;
    c.id = std::to_string(1000 + i);
    c.source = i < n_train ? ClipSource::train_folder : ClipSource::test_folder;
    c.frames = 1 + i % 4;
    for (int64_t t = 0; t < c.frames; ++t)
      for (int64_t f = 0; f < 2; ++f) c.values.push_back(static_cast<float>(1000 * i + 10 * t + f));
    c.label = i % 10;
    c.targets = {0.1f * static_cast<float>(i % 10), 0.5f, 0.25f};
    (i < n_train ? d.train_pool : d.test_given).push_back(i);
    d.clips.push_back(std::move(c));
  }
  return d;
}

std::vector<int64_t> sorted_union(std::initializer_list<const std::vector<int64_t>*> lists) {
  std::vector<int64_t> all;
  for (const auto* l : lists) all.insert(all.end(), l->begin(), l->end());
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

TEST_CASE("splits: genre 2/3 : 1/3 of train/, test is test/, reproducible per seed") {
  const SubsetData d = toy(Subset::genre, 2305, 575);
  const Splits s = make_splits(d, 42);
  CHECK(s.val.size() == 768);  // floor(2305 / 3)
  CHECK(s.train.size() == 1537);
  CHECK(s.test == d.test_given);
  CHECK(s.unlabelled.empty());
  CHECK(sorted_union({&s.train, &s.val}) == d.train_pool);  // a partition of train/
  const Splits again = make_splits(d, 42), other = make_splits(d, 43);
  CHECK(again.val == s.val);
  CHECK(other.val != s.val);
}

TEST_CASE("splits: regression val 0.28 / test 0.12 of the labelled clips") {
  const SubsetData d = toy(Subset::multitask, 1122, 375);
  const Splits s = make_splits(d, 42);
  CHECK(s.val.size() == 314);   // floor(0.28 * 1122)
  CHECK(s.test.size() == 134);  // floor(0.12 * 1122)
  CHECK(s.train.size() == 674);
  CHECK(s.unlabelled == d.test_given);
  CHECK(sorted_union({&s.train, &s.val, &s.test}) == d.train_pool);
  std::set<int64_t> val(s.val.begin(), s.val.end());
  for (int64_t i : s.test) CHECK(!val.count(i));
}

TEST_CASE("splits: other fractions (the notebook's regression CNN: val 0.12, test 0.28)") {
  const SubsetData d = toy(Subset::multitask, 1122, 375);
  const Splits s = make_splits(d, 42, SplitFractions{.val = 0.12, .test = 0.28});
  CHECK(s.val.size() == 134);   // floor(0.12 * 1122)
  CHECK(s.test.size() == 314);  // floor(0.28 * 1122)
  CHECK(s.train.size() == 674);
  CHECK(sorted_union({&s.train, &s.val, &s.test}) == d.train_pool);
  // Negative fractions keep the defaults: the same split as without fractions.
  const Splits dflt = make_splits(d, 42, SplitFractions{});
  const Splits plain = make_splits(d, 42);
  CHECK(dflt.val == plain.val);
  CHECK(dflt.test == plain.test);
  const SubsetData g = toy(Subset::genre, 2305, 575);
  CHECK(make_splits(g, 42, SplitFractions{.val = 0.5}).val.size() == 1152);
  CHECK_THROWS_WITH_AS(make_splits(g, 42, SplitFractions{.val = 0.2, .test = 0.1}),
                       doctest::Contains("test/ folder"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_splits(d, 42, SplitFractions{.val = 0.6, .test = 0.4}),
                       doctest::Contains("no training clips"), std::invalid_argument);
}

TEST_CASE("standardisation uses the training split only and is applied to every clip") {
  SubsetData d = toy(Subset::genre, 30, 6);
  const Splits s = make_splits(d, 7);
  // Reference in float64 from the training clips only.
  double sum[2] = {0, 0}, sq[2] = {0, 0};
  int64_t frames = 0;
  for (int64_t i : s.train)
    for (int64_t t = 0; t < d.clips[static_cast<size_t>(i)].frames; ++t, ++frames)
      for (int f = 0; f < 2; ++f) {
        const double v = 1000.0 * static_cast<double>(i) + 10.0 * static_cast<double>(t) + f;
        sum[f] += v;
        sq[f] += v * v;
      }
  const BandStats st = standardise_on_train(d, s);
  for (int f = 0; f < 2; ++f) {
    const double mean = sum[f] / static_cast<double>(frames);
    const double sd = std::sqrt(sq[f] / static_cast<double>(frames) - mean * mean);
    CHECK(st.mean[static_cast<size_t>(f)] == doctest::Approx(mean).epsilon(1e-6));
    CHECK(st.std[static_cast<size_t>(f)] == doctest::Approx(sd).epsilon(1e-5));
  }
  // After applying: the training frames have mean ~0 and std ~1 (float32 values ~1e4: 1e-4 slack).
  double m = 0, q = 0;
  for (int64_t i : s.train)
    for (int64_t t = 0; t < d.clips[static_cast<size_t>(i)].frames; ++t) {
      const double v = d.clips[static_cast<size_t>(i)].values[static_cast<size_t>(2 * t)];
      m += v;
      q += v * v;
    }
  CHECK(m / static_cast<double>(frames) == doctest::Approx(0.0).scale(1.0).epsilon(1e-4));
  CHECK(q / static_cast<double>(frames) == doctest::Approx(1.0).epsilon(1e-4));
  // Test clips are transformed with the same stats.
  const Clip& test = d.clips.back();
  const double raw = 1000.0 * 35;
  CHECK(test.values[0] == doctest::Approx((raw - st.mean[0]) / st.std[0]).epsilon(1e-5));
  // A constant band gets std 1 instead of a division by ~0.
  SubsetData flat = toy(Subset::genre, 4, 0);
  for (Clip& c : flat.clips) std::fill(c.values.begin(), c.values.end(), 3.0f);
  CHECK(compute_band_stats(flat, flat.train_pool).std[0] == 1.0f);
  CHECK_THROWS_AS(apply_band_stats(flat, BandStats{{0.f}, {1.f}}), std::invalid_argument);
}

TEST_CASE("batches are zero-padded to the longest clip with true lengths kept") {
  const SubsetData d = toy(Subset::multitask, 8, 0);
  const Batch b = make_batch(d, {1, 3, 0});  // T = 2, 4, 1
  CHECK(b.shape == std::vector<int64_t>{3, 4, 2});
  CHECK(b.lengths == std::vector<int64_t>{2, 4, 1});
  CHECK(b.ids == std::vector<std::string>{"1001", "1003", "1000"});
  CHECK(b.indices == std::vector<int64_t>{1, 3, 0});
  CHECK(b.labels == std::vector<int64_t>{1, 3, 0});
  CHECK(b.targets.size() == 9);
  CHECK(b.targets[3] == doctest::Approx(0.3));
  // clip 1 (n = 0): frames 0, 1 hold data, frames 2, 3 are zero.
  CHECK(b.x[0 * 8 + 1 * 2 + 1] == 1011.0f);
  CHECK(b.x[0 * 8 + 2 * 2 + 0] == 0.0f);
  CHECK(b.x[0 * 8 + 3 * 2 + 1] == 0.0f);
  CHECK(b.x[1 * 8 + 3 * 2 + 1] == 3031.0f);
  CHECK(b.x[2 * 8 + 1] == 1.0f);          // clip 0, frame 0, band 1
  CHECK(b.x[2 * 8 + 1 * 2 + 1] == 0.0f);  // padding
  // pad_to and crop_to.
  CHECK(make_batch(d, {0}, 6).shape == std::vector<int64_t>{1, 6, 2});
  const Batch cropped = make_batch(d, {3, 2}, 0, 2);
  CHECK(cropped.lengths == std::vector<int64_t>{2, 2});
  CHECK(cropped.shape[1] == 2);
}

TEST_CASE("Batcher: seeded order per epoch, every clip once, drop_last") {
  const SubsetData d = toy(Subset::genre, 70, 0);
  std::vector<int64_t> idx(70);
  std::iota(idx.begin(), idx.end(), 0);
  BatcherOptions o;
  o.batch_size = 32;
  o.seed = 5;
  Batcher a(d, idx, o), b(d, idx, o);
  CHECK(a.batches_per_epoch() == 3);
  Batch batch;
  std::vector<int64_t> seen;
  std::vector<int64_t> sizes;
  while (a.next(batch)) {
    sizes.push_back(batch.size());
    seen.insert(seen.end(), batch.indices.begin(), batch.indices.end());
    CHECK(batch.shape[1] == *std::max_element(batch.lengths.begin(), batch.lengths.end()));
  }
  CHECK(sizes == std::vector<int64_t>{32, 32, 6});
  std::vector<int64_t> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == idx);
  CHECK(seen != idx);  // shuffled
  // Epoch e has the same order whatever came before; different epochs differ.
  b.start_epoch(3);
  const auto order3 = b.epoch_order();
  a.start_epoch(1);
  a.start_epoch(3);
  CHECK(a.epoch_order() == order3);
  a.start_epoch(4);
  CHECK(a.epoch_order() != order3);
  // drop_last and no shuffle.
  o.drop_last = true;
  o.shuffle = false;
  Batcher c(d, idx, o);
  CHECK(c.batches_per_epoch() == 2);
  int n = 0;
  while (c.next(batch)) ++n;
  CHECK(n == 2);
  CHECK(c.epoch_order() == idx);
  CHECK_THROWS_AS(Batcher(d, {70}, o), std::out_of_range);
  o.batch_size = 0;
  CHECK_THROWS_AS(Batcher(d, idx, o), std::invalid_argument);
}
