// The statistics behind --seeds on known answers (experiments/seed_stats.h,
// seed_summary.h): the two-level bootstrap reduces to the clip bootstrap for one seed and
// covers seed-to-seed variation for several; the paired test gives p = 1 and a zero-width
// interval for identical runs and a small p for a clearly better model; Holm's adjustment;
// clip matching by id; and the report section's rows and its one-seed caveat.
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "experiments/bootstrap.h"
#include "experiments/report_content.h"
#include "experiments/seed_stats.h"
#include "experiments/seed_summary.h"

using namespace melgrad;

namespace {

// n items that are right (1) with probability `rate`, fixed by `seed`.
std::vector<int64_t> hits(int64_t n, double rate, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution right(rate);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t& v : out) v = right(rng) ? 1 : 0;
  return out;
}

double mean_at(const std::vector<int64_t>& v, const std::vector<int64_t>& ix) {
  double sum = 0;
  for (int64_t i : ix) sum += double(v[size_t(i)]);
  return sum / double(ix.size());
}

}  // namespace

TEST_CASE("one seed: the two-level interval is the plain test-clip bootstrap, bit for bit") {
  const std::vector<int64_t> right = hits(200, 0.4, 1);
  auto metric = [&](size_t, const std::vector<int64_t>& ix) { return mean_at(right, ix); };
  const stats::SeedSummary s = stats::summarise_over_seeds(1, 200, metric, {2000, 7, 0.95});
  const stats::Interval plain = stats::bootstrap(
      200, [&](const std::vector<int64_t>& ix) { return mean_at(right, ix); }, 2000, 7);
  CHECK(s.mean == plain.estimate);
  CHECK(s.low == plain.low);
  CHECK(s.high == plain.high);
  CHECK(std::isnan(s.std));  // no spread from one seed
  CHECK(s.per_seed.size() == 1);
}

TEST_CASE("several seeds: mean, sample std, and an interval that covers the seed spread") {
  // Each seed's metric is a constant (no clip noise): only the seed level varies.
  const std::vector<double> by_seed = {0.1, 0.2, 0.3};
  auto metric = [&](size_t s, const std::vector<int64_t>&) { return by_seed[s]; };
  const stats::SeedSummary s = stats::summarise_over_seeds(3, 50, metric);
  CHECK(s.mean == doctest::Approx(0.2).epsilon(1e-12));
  CHECK(s.std == doctest::Approx(0.1).epsilon(1e-12));  // sqrt(((.1)^2 + 0 + (.1)^2) / 2)
  // Means of 3 draws from {.1,.2,.3}: the extremes .1 and .3 each have probability 1/27 =
  // 3.7 % > 2.5 %, so the 95 % percentile interval is [0.1, 0.3] up to interpolation.
  CHECK(s.low == doctest::Approx(0.1).epsilon(1e-9));
  CHECK(s.high == doctest::Approx(0.3).epsilon(1e-9));
  CHECK(s.resamples == 2000);
}

TEST_CASE("several seeds, clip noise only: the interval has the binomial width") {
  // Every seed predicts the same; the interval then only reflects the n = 400 clips:
  // +-1.96 sqrt(p(1-p)/n) = +-0.048 at p = 0.4 (15 % tolerance for 2000 resamples).
  const std::vector<int64_t> right = hits(400, 0.4, 3);
  auto metric = [&](size_t, const std::vector<int64_t>& ix) { return mean_at(right, ix); };
  const stats::SeedSummary s = stats::summarise_over_seeds(3, 400, metric);
  const double p = s.mean, half = 1.96 * std::sqrt(p * (1 - p) / 400);
  CHECK(s.std == 0);
  CHECK((s.high - s.low) / 2 == doctest::Approx(half).epsilon(0.15));
  CHECK(s.low < p);
  CHECK(s.high > p);
}

TEST_CASE("paired test: identical runs give difference 0, interval [0, 0] and p = 1") {
  const std::vector<int64_t> right = hits(100, 0.5, 4);
  auto metric = [&](size_t, const std::vector<int64_t>& ix) { return mean_at(right, ix); };
  const stats::Difference d = stats::paired_difference(1, metric, 1, metric, 100);
  CHECK(d.estimate == 0);
  CHECK(d.low == 0);
  CHECK(d.high == 0);
  CHECK(d.p_value == 1);
}

TEST_CASE("paired test: the same three seeds on both sides keep 0 inside, p far from 5 %") {
  std::vector<std::vector<int64_t>> seeds = {hits(100, 0.5, 5), hits(100, 0.45, 6),
                                             hits(100, 0.55, 7)};
  auto metric = [&](size_t s, const std::vector<int64_t>& ix) { return mean_at(seeds[s], ix); };
  const stats::Difference d = stats::paired_difference(3, metric, 3, metric, 100);
  CHECK(d.estimate == 0);
  CHECK(d.low < 0);
  CHECK(d.high > 0);
  CHECK(d.p_value > 0.3);
}

TEST_CASE("paired test: a clearly better model has a small p and an interval above 0") {
  const std::vector<int64_t> good = hits(100, 0.9, 8), poor = hits(100, 0.3, 9);
  auto a = [&](size_t, const std::vector<int64_t>& ix) { return mean_at(good, ix); };
  auto b = [&](size_t, const std::vector<int64_t>& ix) { return mean_at(poor, ix); };
  const stats::Difference d = stats::paired_difference(1, a, 1, b, 100);
  CHECK(d.estimate > 0.45);
  CHECK(d.low > 0.4);
  // No resample reaches 0: the smallest p the test gives, 2 / (R + 1).
  CHECK(d.p_value == doctest::Approx(2.0 / 2001).epsilon(1e-12));
  const stats::Difference reversed = stats::paired_difference(1, b, 1, a, 100);
  CHECK(reversed.high < -0.4);
  CHECK(reversed.p_value == d.p_value);
}

TEST_CASE("paired test: a small true difference is not significant at n = 30") {
  // A is right on 16 of 30 clips, B on 15, disagreeing on 3: the sign of the difference
  // flips often under resampling.
  std::vector<int64_t> a(30, 0), b(30, 0);
  for (int i = 0; i < 14; ++i) a[size_t(i)] = b[size_t(i)] = 1;
  a[14] = a[15] = a[16] = 0, b[14] = 1;
  a[17] = a[18] = 1;
  auto ma = [&](size_t, const std::vector<int64_t>& ix) { return mean_at(a, ix); };
  auto mb = [&](size_t, const std::vector<int64_t>& ix) { return mean_at(b, ix); };
  const stats::Difference d = stats::paired_difference(1, ma, 1, mb, 30);
  CHECK(d.estimate == doctest::Approx(1.0 / 30));
  CHECK(d.low < 0);
  CHECK(d.p_value > 0.5);
}

TEST_CASE("Holm's adjustment on a known answer; NaN is skipped") {
  // Sorted 0.01, 0.03, 0.04 of m = 3: 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(0.06, 0.04).
  const std::vector<double> adj = stats::holm_adjust({0.01, 0.04, NAN, 0.03});
  CHECK(adj[0] == doctest::Approx(0.03));
  CHECK(adj[1] == doctest::Approx(0.06));
  CHECK(std::isnan(adj[2]));
  CHECK(adj[3] == doctest::Approx(0.06));
  CHECK(stats::holm_adjust({0.9, 0.8})[0] == 1.0);  // capped at 1
}

TEST_CASE("inputs the bootstrap cannot use are errors") {
  auto metric = [](size_t, const std::vector<int64_t>&) { return 0.0; };
  CHECK_THROWS_AS(stats::summarise_over_seeds(0, 10, metric), std::invalid_argument);
  CHECK_THROWS_AS(stats::summarise_over_seeds(2, 0, metric), std::invalid_argument);
  CHECK_THROWS_AS(stats::paired_difference(1, metric, 1, metric, 10, {0, 1, 0.95}),
                  std::invalid_argument);
}

// --- Runs with predictions: clip matching, seeds, the report section -------------------

namespace {

report::ExperimentRun genre_run(const std::string& name, const std::string& model,
                                const std::vector<std::string>& ids,
                                const std::vector<int64_t>& truth,
                                const std::vector<int64_t>& predicted) {
  report::ExperimentRun r;
  r.name = r.dir = name;
  r.folder = "/study/" + name;
  r.kind = "genre";
  r.known_kind = true;
  r.traits = {model, "mel", true, {}};
  r.has_metrics = r.has_predictions = true;
  r.genre_predictions = {{"a", "b"}, ids, truth, predicted};
  r.genre.accuracy = stats::accuracy_of(truth, predicted, [&] {
    std::vector<int64_t> all(truth.size());
    std::iota(all.begin(), all.end(), 0);
    return all;
  }());
  return r;
}

std::vector<std::string> clip_ids(size_t n) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back("clip" + std::to_string(i));
  return ids;
}

}  // namespace

TEST_CASE("comparisons match clips by id: order and extra clips do not change the result") {
  const std::vector<std::string> ids = clip_ids(60);
  const std::vector<int64_t> truth = hits(60, 0.5, 10), pa = hits(60, 0.5, 11);
  std::vector<int64_t> pb = truth;  // B is always right
  const report::ExperimentRun a = genre_run("genre-cnn-mel-beat", "cnn", ids, truth, pa);
  const report::ExperimentRun b = genre_run("genre-lstm-mel-beat", "lstm", ids, truth, pb);
  // B2: B's clips reversed, plus a clip A never saw.
  std::vector<std::string> ids2(ids.rbegin(), ids.rend());
  std::vector<int64_t> truth2(truth.rbegin(), truth.rend()), pb2(pb.rbegin(), pb.rend());
  ids2.push_back("extra"), truth2.push_back(0), pb2.push_back(1);
  const report::ExperimentRun b2 = genre_run("genre-lstm-mel-beat", "lstm", ids2, truth2, pb2);
  const auto ma = report::headline_metric_seeds({&a});
  const auto mb = report::headline_metric_seeds({&b});
  const auto mb2 = report::headline_metric_seeds({&b2});
  REQUIRE(ma.size() == 2);
  REQUIRE(ma[0].metric == "accuracy");
  int64_t shared = 0, shared2 = 0;
  const stats::Difference d = report::compare_metric(ma[0], mb[0], &shared);
  const stats::Difference d2 = report::compare_metric(ma[0], mb2[0], &shared2);
  CHECK(shared == 60);
  CHECK(shared2 == 60);
  CHECK(d.estimate == d2.estimate);
  CHECK(d.low == d2.low);
  CHECK(d.p_value == d2.p_value);
  CHECK(d.estimate < 0);  // B is perfect
}

TEST_CASE("seeds of one experiment scored on different clips are an error naming the folder") {
  const std::vector<int64_t> truth = hits(10, 0.5, 12);
  const report::ExperimentRun s1 = genre_run("x", "cnn", clip_ids(10), truth, truth);
  report::ExperimentRun s2 = genre_run("x", "cnn", clip_ids(10), truth, truth);
  s2.genre_predictions.ids[3] = "other";
  s2.folder = "/study/x/seed-43";
  CHECK_THROWS_WITH_AS(report::headline_metric_seeds({&s1, &s2}),
                       doctest::Contains("/study/x/seed-43/predictions.json"), report::ReportError);
}

TEST_CASE("report section: intervals per metric, the CNN vs LSTM test, and the one-seed caveat") {
  const std::vector<std::string> ids = clip_ids(80);
  const std::vector<int64_t> truth = hits(80, 0.5, 13);
  std::vector<int64_t> wrong(truth.size());
  for (size_t i = 0; i < truth.size(); ++i) wrong[i] = 1 - truth[i];
  report::StudyData study;
  study.runs.push_back(genre_run("genre-cnn-mel-beat", "cnn", ids, truth, truth));
  study.runs.push_back(genre_run("genre-lstm-mel-beat", "lstm", ids, truth, wrong));
  const report::ReportContent c = report::build_report_content(study);
  const std::string md = report::render_markdown(c);
  CHECK(md.find("## Intervals and significance") != std::string::npos);
  CHECK(md.find("training-seed variation is not covered") != std::string::npos);
  // CNN always right, LSTM always wrong: difference 1, interval [1, 1], p = 2 / 2001.
  CHECK(md.find("| CNN vs LSTM (genre)") != std::string::npos);
  CHECK(md.find("1.000 [1.000, 1.000]") != std::string::npos);
  CHECK(md.find("yes: CNN better") != std::string::npos);
  CHECK(md.find(report::format_pvalue(2.0 / 2001)) != std::string::npos);

  // The same study with three seeds per experiment: no caveat; mean ± std over seeds.
  report::StudyData seeded = study;
  for (report::ExperimentRun& r : seeded.runs)
    for (int k = 0; k < 3; ++k) r.seed_runs.push_back(r);
  const std::string md3 = report::render_markdown(report::build_report_content(seeded));
  CHECK(md3.find("training-seed variation is not covered") == std::string::npos);
  CHECK(md3.find("1.000 ± 0.000") != std::string::npos);
  CHECK(md3.find("(3 seeds)") != std::string::npos);
  CHECK(md3.find("first training seed's run") != std::string::npos);  // the summary says so

  // A seed without predictions (its run did not finish) is left out: 2 seeds remain.
  seeded.runs[0].seed_runs[2].has_predictions = false;
  const std::vector<const report::ExperimentRun*> finished = report::seed_runs_of(seeded.runs[0]);
  CHECK(finished.size() == 2);
  CHECK(md.find("first training seed's run") == std::string::npos);
}
