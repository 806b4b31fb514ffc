// Metrics: Spearman rho and p-value against scipy.stats.spearmanr (fixture computed by
// tests/fixtures/make_fixtures.py), ranks with ties, and the classification report
// against hand-computed precision/recall/F1.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include "experiments/metrics.h"

using namespace melgrad;

TEST_CASE("Spearman rho and p-value match scipy on every fixture case") {
  std::ifstream in(std::string(MELGRAD_SOURCE_DIR) + "/tests/fixtures/spearman/cases.json");
  REQUIRE(in.good());
  nlohmann::json doc = nlohmann::json::parse(in);
  REQUIRE(doc["cases"].size() >= 8);
  for (const auto& c : doc["cases"]) {
    CAPTURE(c["name"].get<std::string>());
    auto r =
        metrics::spearman(c["x"].get<std::vector<double>>(), c["y"].get<std::vector<double>>());
    CHECK(r.rho == doctest::Approx(c["rho"].get<double>()).epsilon(1e-12));
    const double p = c["pvalue"].get<double>();
    // Relative 1e-9 (the incomplete-beta continued fraction), absolute 1e-300 for p = 0.
    CHECK(std::abs(r.pvalue - p) <= 1e-9 * std::abs(p) + 1e-300);
  }
}

TEST_CASE("average ranks with ties, and degenerate inputs") {
  CHECK(metrics::average_ranks({10, 20, 20, 5}) == std::vector<double>{2, 3.5, 3.5, 1});
  auto r = metrics::spearman({1, 1, 1}, {1, 2, 3});
  CHECK(std::isnan(r.rho));
  CHECK_THROWS_AS(metrics::spearman({1, 2}, {1}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(metrics::spearman({1, NAN, 3}, {1, 2, 3}),
                       doctest::Contains("non-finite value at index 1"), std::invalid_argument);
  CHECK(metrics::student_t_sf(0, 5) == doctest::Approx(0.5));
}

TEST_CASE("classification report: accuracy, per-class and averaged scores, confusion") {
  // classes a, b, c; truth a a b b c; predicted a b b b a
  auto r = metrics::classification_report({0, 0, 1, 1, 2}, {0, 1, 1, 1, 0}, {"a", "b", "c"});
  CHECK(r.accuracy == doctest::Approx(0.6));
  CHECK(r.confusion == std::vector<std::vector<int64_t>>{{1, 1, 0}, {0, 2, 0}, {1, 0, 0}});
  CHECK(r.precision == std::vector<double>{0.5, 2.0 / 3, 0});  // c never predicted -> 0
  CHECK(r.recall == std::vector<double>{0.5, 1, 0});
  CHECK(r.f1[1] == doctest::Approx(0.8));
  CHECK(r.macro_f1 == doctest::Approx((0.5 + 0.8 + 0) / 3));
  CHECK(r.weighted_recall == doctest::Approx(0.6));  // equals accuracy
  CHECK(r.to_json()["per_class"]["b"]["support"] == 2);
  CHECK(r.to_text().find("confusion matrix") != std::string::npos);
  CHECK_THROWS_AS(metrics::classification_report({0, 3}, {0, 0}, {"a", "b"}),
                  std::invalid_argument);
}
