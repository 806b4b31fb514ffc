// Row reductions (kernels/reduce.cu) and middle-dimension reductions (reduce_middle.cu)
// against the CPU references on odd shapes that exercise both row kernels (warp per row:
// cols <= 1024; block per row: longer), both column block shapes, partial warps and
// partial blocks. Tolerance for sum/mean: float32 accumulation in <= 40 terms per thread
// followed by a 5-to-10-level tree (or a <= 32-term fold) has error below
// ~50 * 2^-24 * sum|x|; we allow 1e-5 * sum|x| (per row, mean: divided by cols). max/min
// are exact.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/reduce.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

const char* op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return "sum";
    case ReduceOp::mean:
      return "mean";
    case ReduceOp::max:
      return "max";
    default:
      return "min";
  }
}

void check_reduce(int64_t rows, int64_t cols, ReduceOp op, const std::vector<float>& x) {
  std::vector<float> expected(static_cast<std::size_t>(rows));
  reduce_last_dim_reference({x.data(), expected.data(), rows, cols, op});
  for_each_schedule([&] {
    DeviceBuffer<float> dx(x.empty() ? std::vector<float>(1) : x),
        dy(static_cast<std::size_t>(rows));
    reduce_last_dim({dx.data(), dy.data(), rows, cols, op});
    const std::vector<float> got = dy.to_host();
    for (int64_t r = 0; r < rows; ++r) {
      const std::size_t i = static_cast<std::size_t>(r);
      double abs_sum = 0;
      for (int64_t c = 0; c < cols; ++c)
        abs_sum += std::abs(x[static_cast<std::size_t>(r * cols + c)]);
      if (op == ReduceOp::mean) abs_sum /= static_cast<double>(cols);
      CAPTURE(r);
      if (std::isnan(expected[i])) {
        CHECK(std::isnan(got[i]));
      } else if (op == ReduceOp::max || op == ReduceOp::min) {
        CHECK(got[i] == expected[i]);
      } else {
        CHECK(std::abs(double{got[i]} - expected[i]) <= 1e-5 * abs_sum + 1e-30);
      }
    }
  });
}

}  // namespace

TEST_CASE("reduce_last_dim matches the reference on odd shapes, both kernels") {
  struct Shape {
    int64_t rows, cols;
  };
  for (Shape s : {Shape{64, 1000}, Shape{37, 33}, Shape{1, 1}, Shape{9, 31}, Shape{13, 1024},
                  Shape{3, 1025}, Shape{5, 3001}, Shape{2, 9000}}) {
    const auto x = random_floats(static_cast<std::size_t>(s.rows * s.cols), 11, -2.0f, 3.0f);
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max, ReduceOp::min}) {
      CAPTURE(s.rows);
      CAPTURE(s.cols);
      CAPTURE(op_name(op));
      check_reduce(s.rows, s.cols, op, x);
    }
  }
}

TEST_CASE("reduce_last_dim finds an extreme in any position, and propagates NaN") {
  const int64_t rows = 4, cols = 1500;
  for (int64_t pos : {int64_t{0}, int64_t{31}, int64_t{32}, int64_t{1499}}) {
    std::vector<float> x(static_cast<std::size_t>(rows * cols), 0.5f);
    for (int64_t r = 0; r < rows; ++r) {
      x[static_cast<std::size_t>(r * cols + pos)] =
          r == 2 ? std::nanf("") : 7.0f + static_cast<float>(r);
    }
    CAPTURE(pos);
    check_reduce(rows, cols, ReduceOp::max, x);
    check_reduce(rows, cols, ReduceOp::sum, x);
    DeviceBuffer<float> dx(x), dy(rows);
    reduce_last_dim({dx.data(), dy.data(), rows, cols, ReduceOp::max});
    const std::vector<float> y = dy.to_host();
    CHECK(y[0] == 7.0f);
    CHECK(y[1] == 8.0f);
    CHECK(std::isnan(y[2]));
    CHECK(y[3] == 10.0f);
  }
}

TEST_CASE("reduce_last_dim of empty rows: sum 0, mean NaN, max an error") {
  DeviceBuffer<float> dy(3);
  DeviceBuffer<float> dx(1);
  reduce_last_dim({dx.data(), dy.data(), 3, 0, ReduceOp::sum});
  CHECK(dy.to_host() == std::vector<float>(3, 0.0f));
  reduce_last_dim({dx.data(), dy.data(), 3, 0, ReduceOp::mean});
  for (float v : dy.to_host()) CHECK(std::isnan(v));
  CHECK_THROWS_AS(reduce_last_dim({dx.data(), dy.data(), 3, 0, ReduceOp::max}),
                  std::invalid_argument);
  CHECK_THROWS_WITH_AS(reduce_last_dim({dx.data(), nullptr, 3, 4, ReduceOp::sum}),
                       "reduce_last_dim: y is null", std::invalid_argument);
  CHECK_THROWS_AS(reduce_last_dim({dx.data(), dy.data(), 3, 4, static_cast<ReduceOp>(9)}),
                  std::invalid_argument);
}

namespace {

// reduce_middle_dim against its reference, same tolerances as check_reduce (per column).
void check_reduce_middle(int64_t outer, int64_t r, int64_t inner, ReduceOp op,
                         const std::vector<float>& x) {
  const std::size_t n_out = static_cast<std::size_t>(outer * inner);
  std::vector<float> expected(n_out);
  reduce_middle_dim_reference({x.data(), expected.data(), outer, r, inner, op});
  for_each_schedule([&] {
    DeviceBuffer<float> dx(x.empty() ? std::vector<float>(1) : x), dy(n_out);
    reduce_middle_dim({dx.data(), dy.data(), outer, r, inner, op});
    const std::vector<float> got = dy.to_host();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t c = 0; c < inner; ++c) {
        const std::size_t k = static_cast<std::size_t>(o * inner + c);
        double abs_sum = 0;
        for (int64_t i = 0; i < r; ++i)
          abs_sum += std::abs(x[static_cast<std::size_t>((o * r + i) * inner + c)]);
        if (op == ReduceOp::mean) abs_sum /= static_cast<double>(r);
        CAPTURE(o);
        CAPTURE(c);
        if (std::isnan(expected[k])) {
          CHECK(std::isnan(got[k]));
        } else if (op == ReduceOp::max || op == ReduceOp::min) {
          CHECK(got[k] == expected[k]);
        } else {
          CHECK(std::abs(double{got[k]} - expected[k]) <= 1e-5 * abs_sum + 1e-30);
        }
      }
    }
  });
}

}  // namespace

TEST_CASE("reduce_middle_dim matches the reference: inner = 1, r = 1, long r, partial tiles") {
  struct Shape {
    int64_t outer, r, inner;
  };
  // Few blocks with r > 64 take the 32-slice path ({1, 700, 33}, {3, 100, 45}, {7, 65, 3});
  // the rest 8 (the emulator has 4 SMs: 32 blocks or more count as many).
  for (Shape s : {Shape{1, 37, 1}, Shape{5, 1, 70}, Shape{1, 700, 33}, Shape{3, 100, 45},
                  Shape{4, 9, 32}, Shape{2, 3, 129}, Shape{7, 65, 3}, Shape{40, 5, 17}}) {
    const auto x =
        random_floats(static_cast<std::size_t>(s.outer * s.r * s.inner), 13, -2.0f, 3.0f);
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max, ReduceOp::min}) {
      CAPTURE(s.outer);
      CAPTURE(s.r);
      CAPTURE(s.inner);
      CAPTURE(op_name(op));
      check_reduce_middle(s.outer, s.r, s.inner, op, x);
    }
  }
}

TEST_CASE(
    "reduce_middle_dim finds an extreme in any row, propagates NaN, agrees with the last-dim "
    "kernel") {
  const int64_t outer = 2, r = 300, inner = 5;
  for (int64_t pos : {int64_t{0}, int64_t{7}, int64_t{32}, int64_t{299}}) {
    std::vector<float> x(static_cast<std::size_t>(outer * r * inner), 0.5f);
    for (int64_t c = 0; c < inner; ++c) {
      x[static_cast<std::size_t>((r + pos) * inner + c)] =
          c == 3 ? std::nanf("") : 7.0f + static_cast<float>(c);
    }
    CAPTURE(pos);
    check_reduce_middle(outer, r, inner, ReduceOp::max, x);
    DeviceBuffer<float> dx(x), dy(static_cast<std::size_t>(outer * inner));
    reduce_middle_dim({dx.data(), dy.data(), outer, r, inner, ReduceOp::max});
    const std::vector<float> y = dy.to_host();
    CHECK(y[0] == 0.5f);
    CHECK(y[static_cast<std::size_t>(inner + 1)] == 8.0f);
    CHECK(std::isnan(y[static_cast<std::size_t>(inner + 3)]));
  }
  // inner == 1 is the last-dimension case: both kernels give the same sums.
  const auto x = random_floats(3 * 500, 5, -1.0f, 1.0f);
  DeviceBuffer<float> dx(x), dm(3), dl(3);
  reduce_middle_dim({dx.data(), dm.data(), 3, 500, 1, ReduceOp::sum});
  reduce_last_dim({dx.data(), dl.data(), 3, 500, ReduceOp::sum});
  const auto m = dm.to_host(), l = dl.to_host();
  for (std::size_t i = 0; i < 3; ++i) CHECK(m[i] == doctest::Approx(l[i]).epsilon(1e-5));
}

TEST_CASE("reduce_middle_dim of an empty dimension: sum 0, mean NaN, max an error") {
  DeviceBuffer<float> dx(1), dy(6);
  reduce_middle_dim({dx.data(), dy.data(), 2, 0, 3, ReduceOp::sum});
  CHECK(dy.to_host() == std::vector<float>(6, 0.0f));
  reduce_middle_dim({dx.data(), dy.data(), 2, 0, 3, ReduceOp::mean});
  for (float v : dy.to_host()) CHECK(std::isnan(v));
  CHECK_THROWS_AS(reduce_middle_dim({dx.data(), dy.data(), 2, 0, 3, ReduceOp::max}),
                  std::invalid_argument);
  CHECK_THROWS_WITH_AS(reduce_middle_dim({dx.data(), nullptr, 2, 4, 3, ReduceOp::sum}),
                       "reduce_middle_dim: y is null", std::invalid_argument);
  CHECK_THROWS_AS(reduce_middle_dim({dx.data(), dy.data(), 2, 4, 3, static_cast<ReduceOp>(9)}),
                  std::invalid_argument);
  CHECK_THROWS_AS(reduce_middle_dim({dx.data(), dy.data(), 2, -1, 3, ReduceOp::sum}),
                  std::invalid_argument);
}
