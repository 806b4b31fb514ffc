// The CNN layer kernels (conv, max-pool, batch norm) against the engine's CPU ops — the
// semantics the CUDA backend must reproduce — through autograd: forward values and every
// gradient, for the study's layer pattern (3x3 / padding 1 conv with bias, ReLU, BatchNorm
// in all its modes, max-pool 2 and 3 with odd sizes) and for a strided / ceil-mode case.
// Tolerances: both sides compute in float32 with different summation orders (Eigen GEMM
// vs the implicit GEMM tiles; shifted sums vs Welford): 1e-4 absolute + 1e-4 relative on
// O(1) values. Max-pool picks values (no arithmetic) and must agree exactly.
#include <doctest/doctest.h>

#include <vector>

#include "engine/ops/cnn.h"
#include "engine/ops/ops.h"
#include "engine/tensor.h"
#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/pool.h"
#include "tests/kernels/kernel_test_util.h"

using melgrad::Tensor;
using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::random_floats;

namespace {

std::vector<float> floats(const Tensor& t) {
  const std::vector<double> d = t.to_vector();
  return std::vector<float>(d.begin(), d.end());
}

Tensor leaf(const std::vector<float>& v, const melgrad::Shape& shape) {
  Tensor t = Tensor::from_vector(v, shape);
  t.requires_grad_();
  return t;
}

void check_conv_layer(const Conv2dShape& s, bool relu) {
  CAPTURE(s.C);
  CAPTURE(s.O);
  CAPTURE(relu);
  const auto xv = random_floats(static_cast<std::size_t>(s.N * s.C * s.H * s.W), 1, -1.0f, 1.0f);
  const auto wv = random_floats(static_cast<std::size_t>(s.O * s.C * s.kh * s.kw), 2, -0.5f, 0.5f);
  const auto bv = random_floats(static_cast<std::size_t>(s.O), 3, -0.5f, 0.5f);
  const int64_t Ho = s.out_h(), Wo = s.out_w();
  const auto dyv = random_floats(static_cast<std::size_t>(s.N * s.O * Ho * Wo), 4, -1.0f, 1.0f);

  Tensor x = leaf(xv, {s.N, s.C, s.H, s.W}), w = leaf(wv, {s.O, s.C, s.kh, s.kw}),
         b = leaf(bv, {s.O});
  Tensor y = melgrad::conv2d(x, w, b, {{s.stride_h, s.stride_w}, {s.pad_h, s.pad_w}});
  if (relu) y = melgrad::relu(y);
  y.backward(Tensor::from_vector(dyv, {s.N, s.O, Ho, Wo}));

  DeviceBuffer<float> dx_in(xv), dw_in(wv), db_in(bv), ddy(dyv), dy_out(dyv.size()), ddx(xv.size()),
      ddw(wv.size()), ddb(bv.size());
  Conv2dForwardParams f;
  f.x = dx_in.data(), f.weight = dw_in.data(), f.bias = db_in.data(), f.y = dy_out.data();
  f.shape = s, f.relu = relu, f.impl = DnnImpl::melgrad;
  conv2d_forward(f);
  check_close(dy_out.to_host(), floats(y), 1e-4, 1e-4);
  // The mask comes from the engine's y, so both sides agree on which outputs are clamped.
  DeviceBuffer<float> engine_y(floats(y));
  Conv2dBackwardDataParams d;
  d.dy = ddy.data(), d.weight = dw_in.data(), d.dx = ddx.data(), d.shape = s,
  d.impl = DnnImpl::melgrad;
  d.relu_y = relu ? engine_y.data() : nullptr;
  conv2d_backward_data(d);
  check_close(ddx.to_host(), floats(x.grad()), 1e-4, 1e-4);
  Conv2dBackwardFilterParams g;
  g.x = dx_in.data(), g.dy = ddy.data(), g.relu_y = d.relu_y, g.dweight = ddw.data(),
  g.dbias = ddb.data();
  g.shape = s, g.impl = DnnImpl::melgrad;
  conv2d_backward_filter(g);
  check_close(ddw.to_host(), floats(w.grad()), 1e-4, 1e-4);
  check_close(ddb.to_host(), floats(b.grad()), 1e-4, 1e-4);
}

}  // namespace

TEST_CASE("conv kernels equal the engine's conv2d (+ relu) in value and gradient") {
  check_conv_layer({2, 1, 12, 9, 4, 3, 3, 1, 1, 1, 1}, true);    // first layer 1 -> 4
  check_conv_layer({2, 4, 6, 5, 16, 3, 3, 1, 1, 1, 1}, true);    // 4 -> 16
  check_conv_layer({1, 16, 4, 3, 33, 3, 3, 1, 1, 1, 1}, false);  // large tile
  check_conv_layer({2, 3, 7, 8, 5, 3, 2, 2, 3, 1, 0}, false);    // general: strides, padding
}

TEST_CASE("max-pool kernels equal the engine's max_pool2d exactly") {
  for (Pool2dShape s : {Pool2dShape{2, 3, 9, 7, 2, 2, 2, 2, 0, 0, false},
                        Pool2dShape{1, 2, 8, 10, 3, 3, 3, 3, 0, 0, false},
                        Pool2dShape{2, 2, 7, 6, 3, 3, 2, 2, 1, 1, true},
                        Pool2dShape{1, 2, 5, 5, 3, 2, 1, 1, 1, 1, false}}) {
    CAPTURE(s.kh);
    CAPTURE(s.ceil_mode);
    const auto xv = random_floats(static_cast<std::size_t>(s.N * s.C * s.H * s.W), 5, -2.0f, 2.0f);
    const auto dyv =
        random_floats(static_cast<std::size_t>(s.N * s.C * s.out_h() * s.out_w()), 6, -1.0f, 1.0f);
    Tensor x = leaf(xv, {s.N, s.C, s.H, s.W});
    melgrad::Pool2dOptions opt;
    opt.kernel = {s.kh, s.kw}, opt.stride = {s.stride_h, s.stride_w},
    opt.padding = {s.pad_h, s.pad_w};
    opt.ceil_mode = s.ceil_mode;
    Tensor y = melgrad::max_pool2d(x, opt);
    REQUIRE(y.size(2) == s.out_h());
    REQUIRE(y.size(3) == s.out_w());
    y.backward(Tensor::from_vector(dyv, y.shape()));

    DeviceBuffer<float> dxv(xv), yv(dyv.size()), ddy(dyv), ddx(xv.size());
    DeviceBuffer<int64_t> idx(dyv.size());
    pool2d_forward({dxv.data(), yv.data(), idx.data(), s, DnnImpl::melgrad});
    CHECK(yv.to_host() == floats(y));
    Pool2dBackwardParams b;
    b.dy = ddy.data(), b.argmax = idx.data(), b.dx = ddx.data(), b.shape = s,
    b.impl = DnnImpl::melgrad;
    pool2d_backward(b);
    CHECK(ddx.to_host() == floats(x.grad()));
  }
}

TEST_CASE("batch-norm kernels equal the engine's batch_norm in every mode") {
  const int64_t N = 3, C = 4, H = 5, W = 6, n = N * C * H * W;
  const auto xv = random_floats(static_cast<std::size_t>(n), 7, -1.0f, 3.0f);
  const auto dyv = random_floats(static_cast<std::size_t>(n), 8, -1.0f, 1.0f);
  const auto wv = random_floats(C, 9, 0.5f, 1.5f), bv = random_floats(C, 10, -0.5f, 0.5f);
  const auto rmv = random_floats(C, 11, -0.5f, 0.5f), rvv = random_floats(C, 12, 0.5f, 2.0f);
  for (bool training : {true, false}) {
    for (bool running : {true, false}) {
      CAPTURE(training);
      CAPTURE(running);
      Tensor x = leaf(xv, {N, C, H, W}), w = leaf(wv, {C}), b = leaf(bv, {C});
      Tensor rm = Tensor::from_vector(rmv, {C}), rv = Tensor::from_vector(rvv, {C});
      Tensor y =
          melgrad::batch_norm(x, w, b, running ? &rm : nullptr, running ? &rv : nullptr, training);
      y.backward(Tensor::from_vector(dyv, {N, C, H, W}));

      DeviceBuffer<float> dx_in(xv), dw(wv), db(bv), drm(rmv), drv(rvv), dy_out(xv.size()), mean(C),
          invstd(C), ddy(dyv), ddx(xv.size()), ddw(C), ddb(C);
      BatchNormForwardParams f;
      f.x = dx_in.data(), f.y = dy_out.data(), f.weight = dw.data(), f.bias = db.data();
      if (running) f.running_mean = drm.data(), f.running_var = drv.data();
      f.save_mean = mean.data(), f.save_invstd = invstd.data();
      f.N = N, f.C = C, f.S = H * W, f.training = training, f.impl = DnnImpl::melgrad;
      batch_norm_forward(f);
      check_close(dy_out.to_host(), floats(y), 1e-4, 1e-4);
      if (running) {
        check_close(drm.to_host(), floats(rm), 1e-6, 1e-5);
        check_close(drv.to_host(), floats(rv), 1e-6, 1e-5);
      }
      BatchNormBackwardParams g;
      g.x = dx_in.data(), g.dy = ddy.data(), g.weight = dw.data(), g.save_mean = mean.data();
      g.save_invstd = invstd.data(), g.dx = ddx.data(), g.dweight = ddw.data(),
      g.dbias = ddb.data();
      g.N = N, g.C = C, g.S = H * W, g.batch_stats = training || !running,
      g.impl = DnnImpl::melgrad;
      batch_norm_backward(g);
      check_close(ddx.to_host(), floats(x.grad()), 1e-4, 1e-4);
      check_close(ddw.to_host(), floats(w.grad()), 1e-4, 1e-4);
      check_close(ddb.to_host(), floats(b.grad()), 1e-4, 1e-4);
    }
  }
}
