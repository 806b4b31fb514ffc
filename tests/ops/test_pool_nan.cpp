// Max-pooling's argmax when a window holds several NaNs: the LAST NaN in row-major window
// order wins (value NaN, index and gradient at that NaN), PyTorch's rule
// `(val > maxval) || isnan(val)`, on every CPU path: the unrolled 2x2 / stride 2 windows
// (scalar tail and, with AVX2, the 8-window vector blocks) and the generic windows (3x3,
// overlapping 3x3 stride 2), as the CUDA kernel (kernels/pool.cu; tests/cuda compares the
// two). Exact: indices are integers and values are copied.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/ops/cnn.h"
#include "engine/ops/ops.h"

using namespace melgrad;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// One plane [1, 1, H, W] of ones with NaNs at the given flat positions; returns the argmax
// positions the gradient of sum(y) lands on (indices with gradient 1, in order).
std::vector<int64_t> gradient_positions(int64_t H, int64_t W, const std::vector<int64_t>& nans,
                                        Pool2dOptions opt, std::vector<double>& y_values) {
  std::vector<float> v(H * W, 1.0f);
  for (int64_t i : nans) v[i] = kNaN;
  Tensor x = Tensor::from_vector(v, {1, 1, H, W});
  x.requires_grad_();
  Tensor y = max_pool2d(x, opt);
  y_values = y.to_vector();
  sum(y).backward();
  std::vector<int64_t> hit;
  const std::vector<double> g = x.grad().to_vector();
  for (int64_t i = 0; i < H * W; ++i)
    if (g[i] != 0) hit.push_back(i);
  return hit;
}

}  // namespace

TEST_CASE("max_pool2d 2x2: the last NaN of a window gets the gradient, in the scalar tail") {
  // 2 x 4: windows {0, 1, 4, 5} and {2, 3, 6, 7}; NaNs at 1 and 4 (last: 4), 3 and 6 (last: 6).
  std::vector<double> y;
  const std::vector<int64_t> hit = gradient_positions(2, 4, {1, 4, 3, 6}, {.kernel = {2, 2}}, y);
  CHECK(std::isnan(y[0]));
  CHECK(std::isnan(y[1]));
  CHECK(hit == std::vector<int64_t>{4, 6});
}

TEST_CASE("max_pool2d 2x2: the last NaN wins in the vector blocks too (16 windows per row)") {
  // 2 x 34: 17 windows, the first 16 through the AVX2 path where built. Window k covers
  // columns 2k, 2k+1 of both rows; NaNs at its top-right and bottom-left (last: bottom-left),
  // and in window 16 (the scalar tail) at bottom-left and bottom-right (last: bottom-right).
  const int64_t W = 34;
  std::vector<int64_t> nans, last;
  for (int64_t k = 0; k < 16; ++k) {
    nans.insert(nans.end(), {2 * k + 1, W + 2 * k});
    last.push_back(W + 2 * k);
  }
  nans.insert(nans.end(), {W + 32, W + 33});
  std::vector<double> y;
  std::vector<int64_t> hit = gradient_positions(2, W, nans, {.kernel = {2, 2}}, y);
  last.push_back(W + 33);
  for (double v : y) CHECK(std::isnan(v));
  std::sort(last.begin(), last.end());
  CHECK(hit == last);
}

TEST_CASE("max_pool2d generic windows: the last NaN wins (3x3, and overlapping stride 2)") {
  std::vector<double> y;
  // 3 x 3, one window: NaNs at 2, 4 and 6 -> 6.
  CHECK(gradient_positions(3, 3, {2, 4, 6}, {.kernel = {3, 3}}, y) == std::vector<int64_t>{6});
  CHECK(std::isnan(y[0]));
  // 3 x 5, windows over columns 0-2 and 2-4 share column 2. NaNs at 7 (row 1, col 2), 8 and
  // 11: window 0 meets 7 then 11 -> 11, window 1 meets 7 then 8 -> 8.
  const std::vector<int64_t> hit =
      gradient_positions(3, 5, {7, 8, 11}, {.kernel = {3, 3}, .stride = {2, 2}}, y);
  CHECK(hit == std::vector<int64_t>{8, 11});
}
