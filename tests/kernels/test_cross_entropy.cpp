// Cross-entropy (kernels/cross_entropy.cu) against its CPU reference, with and without
// class weights, on shapes that take the warp-per-row kernel (c <= 1024, partial warps and
// blocks) and the block-per-row one; the reference itself against log-softmax (softmax.h)
// and finite differences; out-of-range targets and empty batches.
// Tolerances: float32 kernels vs float64 references. lse is O(10) with expf/logf within
// 2 ulp and sums of < 300 terms per thread: atol 1e-5 + rtol 1e-5. The loss is a mean of
// such values: same. Gradients are g/W * (prob - onehot) with prob relative error ~1e-6
// (exp of an O(10) difference accurate to ~1e-6 absolute): atol 1e-7 on values <= 0.05.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/cross_entropy.h"
#include "kernels/softmax.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

std::vector<int64_t> random_targets(int64_t n, int64_t c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> dist(0, c - 1);
  std::vector<int64_t> t(static_cast<std::size_t>(n));
  for (int64_t& v : t) v = dist(rng);
  return t;
}

struct Problem {
  int64_t n, c;
  std::vector<float> x;
  std::vector<int64_t> t;
  std::vector<float> w;  // empty: no class weights
};

Problem make_problem(int64_t n, int64_t c, bool weighted, uint64_t seed) {
  Problem pr{n,
             c,
             random_floats(static_cast<std::size_t>(n * c), seed, -4, 4),
             random_targets(n, c, seed + 1),
             {}};
  if (weighted) pr.w = random_floats(static_cast<std::size_t>(c), seed + 2, 0.1f, 2.0f);
  return pr;
}

// Runs forward and backward on the device and checks lse, loss, W and dlogits.
void check_problem(const Problem& pr) {
  const std::size_t nc = pr.x.size(), n = static_cast<std::size_t>(pr.n);
  const float* w = pr.w.empty() ? nullptr : pr.w.data();
  std::vector<float> lse_ref(n), dx_ref(nc);
  float loss_ref = 0, wsum_ref = 0;
  const float g = 0.75f;
  cross_entropy_forward_reference(
      {pr.x.data(), pr.t.data(), w, &loss_ref, lse_ref.data(), &wsum_ref, pr.n, pr.c});
  cross_entropy_backward_reference(
      {pr.x.data(), pr.t.data(), w, lse_ref.data(), &wsum_ref, &g, dx_ref.data(), pr.n, pr.c});
  for_each_schedule([&] {
    DeviceBuffer<float> dx(pr.x), dw(pr.w), dlse(n), dloss(1), dwsum(1), dg(std::vector<float>{g}),
        ddx(nc);
    DeviceBuffer<int64_t> dt(pr.t);
    const float* wp = pr.w.empty() ? nullptr : dw.data();
    cross_entropy_forward(
        {dx.data(), dt.data(), wp, dloss.data(), dlse.data(), dwsum.data(), pr.n, pr.c});
    check_close(dlse.to_host(), lse_ref, 1e-5, 1e-5);
    check_close(dloss.to_host(), {loss_ref}, 1e-5, 1e-5);
    check_close(dwsum.to_host(), {wsum_ref}, 0, 1e-5);
    cross_entropy_backward(
        {dx.data(), dt.data(), wp, dlse.data(), dwsum.data(), dg.data(), ddx.data(), pr.n, pr.c});
    check_close(ddx.to_host(), dx_ref, 1e-7, 1e-5);
  });
}

}  // namespace

TEST_CASE("cross_entropy forward and backward match the reference, both row kernels") {
  struct Shape {
    int64_t n, c;
  };
  for (Shape s : {Shape{1, 1}, Shape{37, 10}, Shape{9, 33}, Shape{64, 1000}, Shape{5, 3001},
                  Shape{2, 9000}}) {
    for (bool weighted : {false, true}) {
      CAPTURE(s.n);
      CAPTURE(s.c);
      CAPTURE(weighted);
      check_problem(make_problem(s.n, s.c, weighted, 40 + static_cast<uint64_t>(s.c)));
    }
  }
}

TEST_CASE("cross_entropy reference equals -sum(w * log_softmax[target]) / sum(w)") {
  const Problem pr = make_problem(13, 7, true, 3);
  std::vector<float> logp(pr.x.size());
  softmax_forward_reference({pr.x.data(), logp.data(), pr.n, pr.c, true});
  double num = 0, den = 0;
  for (int64_t i = 0; i < pr.n; ++i) {
    const int64_t t = pr.t[static_cast<std::size_t>(i)];
    num -= double{pr.w[static_cast<std::size_t>(t)]} * logp[static_cast<std::size_t>(i * pr.c + t)];
    den += pr.w[static_cast<std::size_t>(t)];
  }
  float loss = 0;
  cross_entropy_forward_reference(
      {pr.x.data(), pr.t.data(), pr.w.data(), &loss, nullptr, nullptr, pr.n, pr.c});
  CHECK(loss == doctest::Approx(num / den).epsilon(1e-6));
}

TEST_CASE("cross_entropy backward agrees with finite differences of the forward reference") {
  // Central differences with h = 1e-2 on logits in [-4, 4]: the float32 loss rounds to
  // ~1e-7, so the quotient's error is ~1e-5 plus O(h^2) truncation ~1e-5; tolerance 1e-3
  // relative with a 1e-4 floor, against gradients of size ~1e-2.
  const Problem pr = make_problem(3, 5, true, 8);
  auto loss_at = [&](const std::vector<float>& x) {
    float loss = 0;
    cross_entropy_forward_reference(
        {x.data(), pr.t.data(), pr.w.data(), &loss, nullptr, nullptr, pr.n, pr.c});
    return double{loss};
  };
  std::vector<float> lse(3), dx(15);
  float loss = 0, wsum = 0;
  const float g = 1.0f;
  cross_entropy_forward_reference(
      {pr.x.data(), pr.t.data(), pr.w.data(), &loss, lse.data(), &wsum, pr.n, pr.c});
  DeviceBuffer<float> dxv(pr.x), dw(pr.w), dlse(lse), dws(std::vector<float>{wsum}),
      dg(std::vector<float>{g}), ddx(15);
  DeviceBuffer<int64_t> dt(pr.t);
  cross_entropy_backward({dxv.data(), dt.data(), dw.data(), dlse.data(), dws.data(), dg.data(),
                          ddx.data(), pr.n, pr.c});
  dx = ddx.to_host();
  for (std::size_t k = 0; k < 15; ++k) {
    std::vector<float> xp = pr.x, xm = pr.x;
    xp[k] += 1e-2f;
    xm[k] -= 1e-2f;
    const double numeric = (loss_at(xp) - loss_at(xm)) / 2e-2;
    CHECK(dx[k] == doctest::Approx(numeric).epsilon(1e-3).scale(0.1));
  }
}

TEST_CASE("cross_entropy: an out-of-range target gives NaN; no rows give a NaN mean") {
  Problem pr = make_problem(4, 6, false, 2);
  pr.t[2] = 6;
  DeviceBuffer<float> dx(pr.x), dlse(4), dloss(1), dg(std::vector<float>{1.0f}), ddx(24);
  DeviceBuffer<int64_t> dt(pr.t);
  cross_entropy_forward({dx.data(), dt.data(), nullptr, dloss.data(), dlse.data(), nullptr, 4, 6});
  CHECK(std::isnan(dloss.to_host()[0]));
  cross_entropy_backward(
      {dx.data(), dt.data(), nullptr, dlse.data(), nullptr, dg.data(), ddx.data(), 4, 6});
  const std::vector<float> grad = ddx.to_host();
  for (int j = 0; j < 6; ++j) {
    CHECK(std::isnan(grad[static_cast<std::size_t>(2 * 6 + j)]));
    CHECK(std::isfinite(grad[static_cast<std::size_t>(j)]));
  }
  DeviceBuffer<float> wsum(1);
  cross_entropy_forward({nullptr, nullptr, nullptr, dloss.data(), nullptr, wsum.data(), 0, 6});
  CHECK(std::isnan(dloss.to_host()[0]));
  CHECK(wsum.to_host()[0] == 0.0f);
}

TEST_CASE("cross_entropy launchers validate their parameters") {
  DeviceBuffer<float> f(8);
  DeviceBuffer<int64_t> t(2);
  CHECK_THROWS_WITH_AS(
      cross_entropy_forward({f.data(), t.data(), nullptr, nullptr, f.data(), nullptr, 2, 4}),
      "cross_entropy_forward: loss is null", std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      cross_entropy_forward({f.data(), t.data(), nullptr, f.data(), nullptr, nullptr, 2, 3}),
      "cross_entropy_forward: lse is null", std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      cross_entropy_forward({f.data(), t.data(), nullptr, f.data(), f.data(), nullptr, 2, 0}),
      "cross_entropy_forward: c must be > 0 when there are rows (got c = 0)",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy_backward({f.data(), t.data(), f.data(), f.data(), nullptr,
                                               f.data(), f.data(), 2, 3}),
                       "cross_entropy_backward: weight_sum is null but class weights are given "
                       "(W is not n)",
                       std::invalid_argument);
}
