// Losses: values against hand-computed numbers, gradients against float64 finite
// differences, and clear errors for mismatched shapes and bad targets.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/gradcheck.h"
#include "engine/ops/loss.h"
#include "engine/ops/ops.h"

using namespace melgrad;

static Tensor f64(std::vector<double> v, Shape s) { return Tensor::from_vector(v, s); }
static Tensor leaf64(std::vector<double> v, Shape s) { return f64(v, s).requires_grad_(); }

TEST_CASE("cross_entropy equals -mean log softmax at the targets") {
  Tensor logits = f64({1, 2, 3, 0, 0, 0}, {2, 3});
  Tensor targets = Tensor::from_vector(std::vector<int64_t>{2, 0}, {2});
  double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  double expected = ((lse0 - 3) + std::log(3.0)) / 2;
  CHECK(cross_entropy(logits, targets).item() == doctest::Approx(expected).epsilon(1e-12));
  // Class weights: weighted mean over samples, as PyTorch.
  Tensor w = f64({0.5, 1, 2}, {3});
  double weighted = (2 * (lse0 - 3) + 0.5 * std::log(3.0)) / 2.5;
  CHECK(cross_entropy(logits, targets, w).item() == doctest::Approx(weighted).epsilon(1e-12));
}

TEST_CASE("regression losses: MSE, L1 and SmoothL1 on both of its branches") {
  Tensor p = f64({0.0, 1.0, 4.0}, {3}), t = f64({0.5, 1.0, 1.0}, {3});
  CHECK(mse_loss(p, t).item() == doctest::Approx((0.25 + 0 + 9) / 3));
  CHECK(l1_loss(p, t).item() == doctest::Approx((0.5 + 0 + 3) / 3));
  // |d| = 0.5 < 1 -> 0.5 * 0.25; 0 -> 0; 3 -> 3 - 0.5.
  CHECK(smooth_l1_loss(p, t).item() == doctest::Approx((0.125 + 0 + 2.5) / 3));
  CHECK(smooth_l1_loss(p, t, 2.0).item() == doctest::Approx((0.0625 + 0 + 2.0) / 3));
  CHECK(weighted_sum({mse_loss(p, t), l1_loss(p, t)}, {0.5, 0.1}).item() ==
        doctest::Approx(0.5 * 9.25 / 3 + 0.1 * 3.5 / 3));
}

TEST_CASE("loss gradients pass the float64 finite-difference check") {
  Generator g(5);
  Tensor targets = Tensor::from_vector(std::vector<int64_t>{1, 0, 3, 3}, {4});
  Tensor weights = f64({1.0, 0.5, 2.0, 1.5}, {4});
  std::vector<GradCheckCase> cases = {
      {"cross_entropy",
       {Tensor::uniform({4, 4}, -2, 2, g, DType::f64).requires_grad_()},
       [&](const TensorList& in) { return cross_entropy(in[0], targets); }},
      {"cross_entropy weighted",
       {Tensor::uniform({4, 4}, -2, 2, g, DType::f64).requires_grad_()},
       [&](const TensorList& in) { return cross_entropy(in[0], targets, weights); }},
      {"mse",
       {leaf64({0.1, -0.7, 2.0}, {3}), f64({0.3, 0.2, -1.0}, {3})},
       [](const TensorList& in) { return mse_loss(in[0], in[1]); }},
      {"l1",
       {leaf64({0.1, -0.7, 2.0}, {3}), f64({0.3, 0.2, -1.0}, {3})},
       [](const TensorList& in) { return l1_loss(in[0], in[1]); }},
      {"smooth_l1 both branches",
       {leaf64({0.1, -0.7, 2.0}, {3}), f64({0.3, 0.2, -1.0}, {3})},
       [](const TensorList& in) { return smooth_l1_loss(in[0], in[1]); }},
  };
  for (const GradCheckCase& c : cases) {
    GradCheckResult r = gradcheck(c);
    CHECK_MESSAGE(r.ok, r.message);
  }
}

TEST_CASE("loss errors name the shapes and the bad target") {
  Tensor p = Tensor::zeros({4}), t = Tensor::zeros({4, 1});
  CHECK_THROWS_WITH_AS(mse_loss(p, t), doctest::Contains("prediction [4] and target [4, 1]"),
                       std::invalid_argument);
  Tensor logits = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(cross_entropy(logits, Tensor::from_vector(std::vector<int64_t>{0, 3}, {2})),
                       doctest::Contains("target class 3 out of range for 3 classes"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, Tensor::zeros({2})),
                       doctest::Contains("targets must be int64 [2]"), std::invalid_argument);
  CHECK_THROWS_AS(weighted_sum({p}, {1.0, 2.0}), std::invalid_argument);
}
