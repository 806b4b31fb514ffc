// Softmax / log-softmax kernels (kernels/softmax.cu) against their CPU references, on odd
// shapes that exercise both kernels (warp per row: cols <= 1024; block per row: longer),
// partial warps and partial blocks. Tolerances: float32 kernels vs a float64 reference;
// expf/logf are within 2 ulp and the row sums accumulate < 64 terms per thread plus a
// 5-to-10-level tree, so a relative error of 1e-5 bounds them with room; log-softmax values
// are differences of O(10) numbers, hence the absolute term.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/softmax.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

struct Shape {
  int64_t rows, cols;
};

void check_forward(Shape s, bool log, const std::vector<float>& x) {
  SoftmaxParams ref{x.data(), nullptr, s.rows, s.cols, log};
  std::vector<float> expected(x.size());
  ref.y = expected.data();
  softmax_forward_reference(ref);
  for_each_schedule([&] {
    DeviceBuffer<float> dx(x), dy(x.size());
    softmax_forward({dx.data(), dy.data(), s.rows, s.cols, log});
    check_close(dy.to_host(), expected, log ? 1e-5 : 1e-7, 1e-5);
  });
}

}  // namespace

TEST_CASE("softmax_forward matches the reference on odd shapes, both kernels") {
  for (Shape s : {Shape{64, 1000}, Shape{37, 33}, Shape{1, 1}, Shape{9, 31}, Shape{3, 3001},
                  Shape{2, 9000}}) {
    CAPTURE(s.rows);
    CAPTURE(s.cols);
    // Narrow inputs make every term count (a dropped element moves the row sum by >1e-4);
    // wide ones test the max shift and terms that underflow.
    for (float range : {1.0f, 8.0f}) {
      const auto x = random_floats(static_cast<std::size_t>(s.rows * s.cols), 42, -range, range);
      for (bool log : {false, true}) {
        CAPTURE(range);
        CAPTURE(log);
        check_forward(s, log, x);
      }
    }
  }
}

TEST_CASE("softmax rows sum to one and survive large logits") {
  const Shape s{5, 77};
  auto x = random_floats(static_cast<std::size_t>(s.rows * s.cols), 7, -1.0f, 1.0f);
  for (float& v : x) v += 80.0f;  // exp(80+) overflows float without the max shift
  DeviceBuffer<float> dx(x), dy(x.size());
  softmax_forward({dx.data(), dy.data(), s.rows, s.cols, false});
  const std::vector<float> y = dy.to_host();
  for (int64_t r = 0; r < s.rows; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < s.cols; ++c) sum += y[static_cast<std::size_t>(r * s.cols + c)];
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
  }
}

TEST_CASE("softmax propagates NaN to its row and gives NaN for a row of -inf") {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1.0f, std::nanf(""), 2.0f, 0.5f,   // row 0: NaN
                          -inf, -inf,          -inf, -inf,   // row 1: 0/0
                          -inf, 0.0f,          -inf, 0.0f};  // row 2: 0, 0.5, 0, 0.5
  for (bool log : {false, true}) {
    CAPTURE(log);
    check_forward({3, 4}, log, x);
  }
  DeviceBuffer<float> dx(x), dy(x.size());
  softmax_forward({dx.data(), dy.data(), 3, 4, false});
  const std::vector<float> y = dy.to_host();
  for (int c = 0; c < 8; ++c) CHECK(std::isnan(y[static_cast<std::size_t>(c)]));
  CHECK(y[8] == 0.0f);
  CHECK(y[9] == 0.5f);
}

TEST_CASE("softmax_forward in place equals out of place") {
  const Shape s{13, 1500};
  const auto x = random_floats(static_cast<std::size_t>(s.rows * s.cols), 3, -4.0f, 4.0f);
  for (bool log : {false, true}) {
    DeviceBuffer<float> a(x), b(x), out(x.size());
    softmax_forward({a.data(), out.data(), s.rows, s.cols, log});
    softmax_forward({b.data(), b.data(), s.rows, s.cols, log});
    CHECK(b.to_host() == out.to_host());
  }
}

TEST_CASE("softmax_backward matches the reference, both kernels") {
  for (Shape s : {Shape{64, 1000}, Shape{37, 33}, Shape{1, 1}, Shape{3, 3001}}) {
    CAPTURE(s.rows);
    CAPTURE(s.cols);
    const std::size_t n = static_cast<std::size_t>(s.rows * s.cols);
    const auto x = random_floats(n, 5, -3.0f, 3.0f);
    const auto dy = random_floats(n, 6, -1.0f, 1.0f);
    for (bool log : {false, true}) {
      CAPTURE(log);
      std::vector<float> y(n), expected(n);
      softmax_forward_reference({x.data(), y.data(), s.rows, s.cols, log});
      softmax_backward_reference({y.data(), dy.data(), expected.data(), s.rows, s.cols, log});
      for_each_schedule([&] {
        DeviceBuffer<float> dyv(y), ddy(dy), ddx(n);
        softmax_backward({dyv.data(), ddy.data(), ddx.data(), s.rows, s.cols, log});
        // sum(dy*y) or sum(dy) is O(1)-O(30) and cancels against dy: absolute tolerance.
        check_close(ddx.to_host(), expected, 1e-5, 1e-5);
      });
    }
  }
}

TEST_CASE("softmax_backward agrees with finite differences of the reference") {
  // Checks the backward formulas themselves, not only kernel against reference: central
  // differences of sum(w * softmax(x)) through the reference (float64 inside, float32 out)
  // with h = 1e-2 on O(1) inputs; O(h^2) truncation and float32 rounding stay below 2e-3.
  const Shape s{2, 5};
  const std::size_t n = 10;
  const auto x = random_floats(n, 9, -1.0f, 1.0f);
  const auto w = random_floats(n, 10, -1.0f, 1.0f);
  for (bool log : {false, true}) {
    CAPTURE(log);
    auto objective = [&](const std::vector<float>& xs) {
      std::vector<float> y(n);
      softmax_forward_reference({xs.data(), y.data(), s.rows, s.cols, log});
      double f = 0;
      for (std::size_t i = 0; i < n; ++i) f += double{w[i]} * y[i];
      return f;
    };
    std::vector<float> y(n), grad(n);
    softmax_forward_reference({x.data(), y.data(), s.rows, s.cols, log});
    DeviceBuffer<float> dyv(y), ddy(w), ddx(n);
    softmax_backward({dyv.data(), ddy.data(), ddx.data(), s.rows, s.cols, log});
    grad = ddx.to_host();
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<float> xp = x, xm = x;
      xp[i] += 1e-2f;
      xm[i] -= 1e-2f;
      const double numeric = (objective(xp) - objective(xm)) / 2e-2;
      CHECK(grad[i] == doctest::Approx(numeric).epsilon(2e-3).scale(1.0));
    }
  }
}

TEST_CASE("softmax launchers validate their parameters") {
  DeviceBuffer<float> a(4);
  CHECK_THROWS_WITH_AS(softmax_forward({a.data(), a.data(), -1, 4, false}),
                       "softmax_forward: rows must be >= 0 (got -1)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(softmax_forward({nullptr, a.data(), 1, 4, false}),
                       "softmax_forward: x is null", std::invalid_argument);
  CHECK_THROWS_WITH_AS(softmax_backward({a.data(), nullptr, a.data(), 2, 2, true}),
                       "softmax_backward: dy is null", std::invalid_argument);
  softmax_forward({nullptr, nullptr, 0, 7, false});  // empty: nothing to do, no launch
}
