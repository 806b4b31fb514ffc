// Pooling kernels (kernels/pool.cu) against their CPU references: every PoolKind on the
// shapes below (to float rounding), and max pooling bit for bit: the
// forward picks one input value per window (no arithmetic) and the backward adds the same
// dy values in the same order as the reference's scatter, so tolerances are zero. Shapes:
// the study's pool 2 and pool 3 (odd sizes: trailing rows / columns dropped), stride 2 with
// padding in ceil mode (including the rule that drops a last window starting in the right
// padding), overlapping windows (several gradients summed into one input), ties, NaN and
// -inf inputs.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cnn_reference.h"
#include "kernels/pool.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kPoolKinds;
using melgrad::pool_kind_name;
using melgrad::PoolKind;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

Pool2dShape pool_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                       int64_t sh, int64_t sw, int64_t ph = 0, int64_t pw = 0, bool ceil = false) {
  Pool2dShape s;
  s.N = N, s.C = C, s.H = H, s.W = W, s.kh = kh, s.kw = kw, s.stride_h = sh, s.stride_w = sw;
  s.pad_h = ph, s.pad_w = pw, s.ceil_mode = ceil;
  return s;
}

std::size_t in_size(const Pool2dShape& s) {
  return static_cast<std::size_t>(s.N * s.C * s.H * s.W);
}
std::size_t out_size(const Pool2dShape& s) {
  return static_cast<std::size_t>(s.N * s.C * s.out_h() * s.out_w());
}

// Equality that treats NaN as equal to NaN (y holds NaN where a window saw one).
bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  }
  return true;
}

void check_pool(const Pool2dShape& s, const std::vector<float>& x, uint64_t seed = 3) {
  const std::vector<float> dy = random_floats(out_size(s), seed, -1.0f, 1.0f);
  std::vector<float> y_ref(out_size(s)), dx_ref(in_size(s));
  std::vector<int64_t> idx_ref(out_size(s));
  max_pool2d_forward_reference(x.data(), y_ref.data(), idx_ref.data(), s);
  max_pool2d_backward_reference(dy.data(), idx_ref.data(), dx_ref.data(), s);
  for_each_schedule([&] {
    DeviceBuffer<float> dxin(x), dyv(dy), y(out_size(s)), dx(in_size(s));
    DeviceBuffer<int64_t> idx(out_size(s));
    pool2d_forward({dxin.data(), y.data(), idx.data(), s, DnnImpl::melgrad});
    CHECK(same_floats(y.to_host(), y_ref));
    CHECK(idx.to_host() == idx_ref);
    Pool2dBackwardParams b;
    b.dy = dyv.data();
    b.argmax = idx.data();
    b.dx = dx.data();
    b.shape = s;
    b.impl = DnnImpl::melgrad;
    pool2d_backward(b);
    CHECK(same_floats(dx.to_host(), dx_ref));
  });
}

}  // namespace

TEST_CASE("max_pool2d matches the reference exactly: floor, ceil, padding, overlap") {
  struct Case {
    const char* name;
    Pool2dShape s;
  };
  for (const Case& c :
       {Case{"pool 2, odd width dropped", pool_shape(2, 3, 6, 7, 2, 2, 2, 2)},
        Case{"pool 3, floor mode drops rows", pool_shape(1, 2, 8, 7, 3, 3, 3, 3)},
        Case{"3x3 stride 2 pad 1 ceil mode", pool_shape(2, 2, 7, 6, 3, 3, 2, 2, 1, 1, true)},
        Case{"ceil mode drops a window starting in the padding",
             pool_shape(1, 1, 5, 5, 2, 2, 2, 2, 1, 1, true)},
        Case{"pool 3 ceil mode keeps partial windows",
             pool_shape(1, 2, 8, 10, 3, 3, 3, 3, 0, 0, true)},
        Case{"overlapping 3x2 stride 1", pool_shape(1, 2, 5, 5, 3, 2, 1, 1)},
        Case{"1x1 plane", pool_shape(3, 1, 1, 1, 1, 1, 1, 1)},
        Case{"many planes, grid-stride", pool_shape(4, 37, 9, 11, 2, 2, 2, 2)}}) {
    CAPTURE(c.name);
    check_pool(c.s, random_floats(in_size(c.s), 7, -2.0f, 2.0f));
  }
}

TEST_CASE("every pool kind's kernels match the reference: floor, ceil, padding, overlap") {
  // Each PoolKind (kPoolKinds): y and dx within 4e-6 of the reference (which sums a window
  // of <= 9 values in [-2, 2] in double, the kernels in float; max picks values and is
  // exact), the argmax exactly where the kind keeps one.
  for (PoolKind kind : kPoolKinds)
    for (Pool2dShape s :
         {pool_shape(2, 3, 6, 7, 2, 2, 2, 2), pool_shape(1, 2, 8, 7, 3, 3, 3, 3),
          pool_shape(2, 2, 7, 6, 3, 3, 2, 2, 1, 1, true),
          pool_shape(1, 1, 5, 5, 2, 2, 2, 2, 1, 1, true), pool_shape(1, 2, 5, 5, 3, 2, 1, 1, 1, 1),
          pool_shape(4, 37, 9, 11, 2, 2, 2, 2)}) {
      CAPTURE(pool_kind_name(kind));
      CAPTURE(s.H);
      CAPTURE(s.kh);
      s.kind = kind;
      const std::vector<float> x = random_floats(in_size(s), 7, -2.0f, 2.0f),
                               dy = random_floats(out_size(s), 3, -1.0f, 1.0f);
      std::vector<float> y_ref(out_size(s)), dx_ref(in_size(s));
      std::vector<int64_t> idx_ref(out_size(s));
      pool2d_forward_reference(x.data(), y_ref.data(), idx_ref.data(), s);
      pool2d_backward_reference(dy.data(), idx_ref.data(), dx_ref.data(), s);
      for_each_schedule([&] {
        DeviceBuffer<float> xv(x), dyv(dy), y(out_size(s)), dx(in_size(s));
        DeviceBuffer<int64_t> idx(out_size(s));
        int64_t* argmax = s.has_indices() ? idx.data() : nullptr;
        pool2d_forward({xv.data(), y.data(), argmax, s, DnnImpl::melgrad});
        Pool2dBackwardParams b;
        b.dy = dyv.data();
        b.argmax = argmax;
        b.dx = dx.data();
        b.shape = s;
        b.impl = DnnImpl::melgrad;
        pool2d_backward(b);
        const std::vector<float> yv = y.to_host(), dxv = dx.to_host();
        for (std::size_t i = 0; i < yv.size(); ++i) CHECK(std::abs(yv[i] - y_ref[i]) <= 4e-6f);
        for (std::size_t i = 0; i < dxv.size(); ++i) CHECK(std::abs(dxv[i] - dx_ref[i]) <= 4e-6f);
        if (s.has_indices()) CHECK(idx.to_host() == idx_ref);
      });
    }
}

TEST_CASE("max_pool2d ties go to the first maximum; NaN wins; -inf windows") {
  const float nan = std::numeric_limits<float>::quiet_NaN(),
              inf = std::numeric_limits<float>::infinity();
  // One 4x4 plane, 2x2 windows: ties, one NaN, -inf everywhere, and overlap via a 3x3 pool.
  const std::vector<float> x = {1,    1,    5, nan,  //
                                1,    0,    2, 9,    //
                                -inf, -inf, 3, 3,    //
                                -inf, -inf, 3, 3};
  const Pool2dShape s = pool_shape(1, 1, 4, 4, 2, 2, 2, 2);
  check_pool(s, x);
  std::vector<float> y(4);
  std::vector<int64_t> idx(4);
  max_pool2d_forward_reference(x.data(), y.data(), idx.data(), s);
  CHECK(idx ==
        std::vector<int64_t>{0, 3, 8, 10});  // first of the tie, the NaN, first -inf, first 3
  CHECK(std::isnan(y[1]));
  CHECK(y[2] == -inf);
  // Overlapping windows, two NaNs in one window: the last NaN is the argmax (PyTorch's rule).
  std::vector<float> x2 = random_floats(25, 1, -1.0f, 1.0f);
  x2[7] = nan;
  x2[8] = nan;
  check_pool(pool_shape(1, 1, 5, 5, 3, 3, 1, 1, 1, 1), x2);
  const Pool2dShape s2 = pool_shape(1, 1, 5, 5, 3, 3, 1, 1, 1, 1);
  std::vector<float> y2(25);
  std::vector<int64_t> idx2(25);
  max_pool2d_forward_reference(x2.data(), y2.data(), idx2.data(), s2);
  CHECK(idx2[8] == 8);  // output (1, 3): window rows 0-2, cols 2-4 hold both NaNs
}

TEST_CASE("max_pool2d backward sums gradients routed to one input") {
  // 3x3 windows with stride 1 over a plane whose maximum is in the centre: every window
  // that contains the centre picks it, so its gradient is the sum of theirs.
  const Pool2dShape s = pool_shape(1, 1, 3, 3, 3, 3, 1, 1, 1, 1);
  std::vector<float> x(9, 0.0f);
  x[4] = 5.0f;
  const std::vector<float> dy = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  DeviceBuffer<float> dx_in(x), y(9), dyv(dy), dx(9);
  DeviceBuffer<int64_t> idx(9);
  pool2d_forward({dx_in.data(), y.data(), idx.data(), s, DnnImpl::melgrad});
  Pool2dBackwardParams b;
  b.dy = dyv.data();
  b.argmax = idx.data();
  b.dx = dx.data();
  b.shape = s;
  b.impl = DnnImpl::melgrad;
  pool2d_backward(b);
  CHECK(dx.to_host() == std::vector<float>{0, 0, 0, 0, 45, 0, 0, 0, 0});
}

TEST_CASE("max_pool2d launchers validate their parameters") {
  DeviceBuffer<float> a(64);
  DeviceBuffer<int64_t> i(64);
  Pool2dForwardParams f{a.data(), a.data(), i.data(), pool_shape(1, 1, 4, 4, 2, 2, 2, 2, 2, 0),
                        DnnImpl::melgrad};
  CHECK_THROWS_WITH_AS(pool2d_forward(f),
                       "max_pool2d_forward: padding 2x0 must be at most half of the kernel 2x2",
                       std::invalid_argument);
  f.shape = pool_shape(1, 1, 2, 2, 3, 3, 1, 1);
  CHECK_THROWS_WITH_AS(pool2d_forward(f),
                       "max_pool2d_forward: input 2x2 is too small for the kernel (output 0x0)",
                       std::invalid_argument);
  f.shape = pool_shape(1, 1, 4, 4, 2, 2, 2, 2);
  f.argmax = nullptr;
  CHECK_THROWS_WITH_AS(pool2d_forward(f), "max_pool2d_forward: argmax is null",
                       std::invalid_argument);
  if (!cudnn_built()) {
    f.argmax = i.data();
    f.impl = DnnImpl::cudnn;
    CHECK_THROWS_AS(pool2d_forward(f), std::invalid_argument);
  }
}

// GPU build with cuDNN only (skipped elsewhere): cuDNN's pooling (no indices; it recomputes
// the maxima in the backward) against the melgrad kernels on tie-free random inputs.
TEST_CASE("max_pool2d melgrad kernels agree with cuDNN" * doctest::skip(!cudnn_built())) {
  for (const Pool2dShape& s :
       {pool_shape(4, 16, 128, 40, 2, 2, 2, 2), pool_shape(2, 16, 128, 129, 3, 3, 3, 3),
        pool_shape(2, 3, 9, 8, 3, 3, 2, 2, 1, 1)}) {
    const std::vector<float> x = random_floats(in_size(s), 4, -2.0f, 2.0f);
    const std::vector<float> dy = random_floats(out_size(s), 5, -1.0f, 1.0f);
    DeviceBuffer<float> dxin(x), ddy(dy), y0(out_size(s)), y1(out_size(s)), dx0(in_size(s)),
        dx1(in_size(s));
    DeviceBuffer<int64_t> idx(out_size(s));
    pool2d_forward({dxin.data(), y0.data(), idx.data(), s, DnnImpl::melgrad});
    pool2d_forward({dxin.data(), y1.data(), nullptr, s, DnnImpl::cudnn});
    CHECK(y0.to_host() == y1.to_host());
    Pool2dBackwardParams b;
    b.dy = ddy.data(), b.argmax = idx.data(), b.dx = dx0.data(), b.shape = s,
    b.impl = DnnImpl::melgrad;
    pool2d_backward(b);
    b.argmax = nullptr, b.x = dxin.data(), b.y = y1.data(), b.dx = dx1.data(),
    b.impl = DnnImpl::cudnn;
    pool2d_backward(b);
    melgrad::kernels::testing::check_close(dx1.to_host(), dx0.to_host(), 1e-6, 1e-6);
  }
}
