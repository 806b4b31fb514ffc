// im2col / col2im (kernels/im2col.cu) against their references over geometries with
// padding, strides, dilation, 1x1 and non-square kernels; col2im as im2col's adjoint
// (<im2col(x), c> == <x, col2im(c)>); and a convolution assembled from im2col + gemm
// (weight broadcast over the batch) against a direct convolution loop.
// im2col copies exactly. col2im without accumulate sums the same terms in the same order
// as the reference (exact); with accumulate the reference adds them to x one at a time:
// rtol 1e-6 over at most kh*kw = 9 terms of size ~1. Dot products and the convolution sum
// < 300 float32 products of values in [-1, 1]: atol 1e-4.
#include <doctest/doctest.h>

#include <vector>

#include "kernels/gemm.h"
#include "kernels/im2col.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

ConvGeometry geometry(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                      int64_t pad, int64_t stride, int64_t dilation) {
  ConvGeometry g;
  g.n = n;
  g.channels = c;
  g.height = h;
  g.width = w;
  g.kernel_h = kh;
  g.kernel_w = kw;
  g.pad_h = g.pad_w = pad;
  g.stride_h = g.stride_w = stride;
  g.dilation_h = g.dilation_w = dilation;
  return g;
}

std::size_t x_size(const ConvGeometry& g) {
  return static_cast<std::size_t>(g.n * g.channels * g.height * g.width);
}
std::size_t col_size(const ConvGeometry& g) {
  return static_cast<std::size_t>(g.n * g.col_rows() * g.col_cols());
}

const std::vector<ConvGeometry>& geometries() {
  static const std::vector<ConvGeometry> gs = {
      geometry(2, 3, 7, 9, 3, 3, 1, 1, 1),  geometry(1, 2, 8, 8, 3, 3, 0, 2, 1),
      geometry(2, 1, 9, 6, 3, 2, 2, 1, 2),  geometry(1, 4, 5, 5, 1, 1, 0, 1, 1),
      geometry(3, 2, 6, 11, 2, 5, 1, 3, 1), geometry(1, 1, 3, 3, 3, 3, 0, 1, 1)};
  return gs;
}

}  // namespace

TEST_CASE("im2col and col2im match their references") {
  for (const ConvGeometry& g : geometries()) {
    CAPTURE(g.height);
    CAPTURE(g.width);
    CAPTURE(g.kernel_h);
    CAPTURE(g.stride_h);
    CAPTURE(g.dilation_h);
    const auto x = random_floats(x_size(g), 1, -1, 1);
    const auto col = random_floats(col_size(g), 2, -1, 1);
    std::vector<float> col_ref(col_size(g)), x_ref(x_size(g)), x_acc_ref = x;
    im2col_reference({x.data(), col_ref.data(), g});
    col2im_reference({col.data(), x_ref.data(), g, false});
    col2im_reference({col.data(), x_acc_ref.data(), g, true});
    for_each_schedule([&] {
      DeviceBuffer<float> dx(x), dcol(col_size(g)), dcol_in(col), dx_out(x_size(g)), dx_acc(x);
      im2col({dx.data(), dcol.data(), g});
      CHECK(dcol.to_host() == col_ref);
      col2im({dcol_in.data(), dx_out.data(), g, false});
      CHECK(dx_out.to_host() == x_ref);
      col2im({dcol_in.data(), dx_acc.data(), g, true});
      check_close(dx_acc.to_host(), x_acc_ref, 1e-6, 1e-6);
    });
  }
}

TEST_CASE("col2im is the adjoint of im2col") {
  for (const ConvGeometry& g : geometries()) {
    const auto x = random_floats(x_size(g), 3, -1, 1);
    const auto c = random_floats(col_size(g), 4, -1, 1);
    DeviceBuffer<float> dx(x), dc(c), dcol(col_size(g)), dback(x_size(g));
    im2col({dx.data(), dcol.data(), g});
    col2im({dc.data(), dback.data(), g, false});
    const std::vector<float> col = dcol.to_host(), back = dback.to_host();
    double lhs = 0, rhs = 0;
    for (std::size_t k = 0; k < col.size(); ++k) lhs += double{col[k]} * c[k];
    for (std::size_t k = 0; k < x.size(); ++k) rhs += double{x[k]} * back[k];
    CHECK(lhs == doctest::Approx(rhs).epsilon(1e-5).scale(1.0));
  }
}

TEST_CASE("im2col + gemm with a broadcast weight is a convolution") {
  const ConvGeometry g = geometry(2, 3, 6, 7, 3, 3, 1, 2, 1);
  const int64_t out_channels = 5, k = g.col_rows(), l = g.col_cols();
  const auto x = random_floats(x_size(g), 5, -1, 1);
  const auto w = random_floats(static_cast<std::size_t>(out_channels * k), 6, -1, 1);
  // Direct convolution (cross-correlation, as PyTorch), in double.
  std::vector<float> expected(static_cast<std::size_t>(g.n * out_channels * l));
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t o = 0; o < out_channels; ++o)
      for (int64_t oh = 0; oh < g.out_h(); ++oh)
        for (int64_t ow = 0; ow < g.out_w(); ++ow) {
          double s = 0;
          for (int64_t c = 0; c < g.channels; ++c)
            for (int64_t i = 0; i < 3; ++i)
              for (int64_t j = 0; j < 3; ++j) {
                const int64_t ih = oh * 2 - 1 + i, iw = ow * 2 - 1 + j;
                if (ih < 0 || ih >= g.height || iw < 0 || iw >= g.width) continue;
                s += double{w[static_cast<std::size_t>((o * g.channels + c) * 9 + i * 3 + j)]} *
                     x[static_cast<std::size_t>(((n * g.channels + c) * g.height + ih) * g.width + iw)];
              }
          expected[static_cast<std::size_t>((n * out_channels + o) * l + oh * g.out_w() + ow)] =
              static_cast<float>(s);
        }
  DeviceBuffer<float> dx(x), dw(w), dcol(col_size(g)), dy(expected.size());
  im2col({dx.data(), dcol.data(), g});
  GemmParams p;
  p.m = out_channels;
  p.n = l;
  p.k = k;
  p.a = dw.data();
  p.lda = k;
  p.b = dcol.data();
  p.ldb = l;
  p.c = dy.data();
  p.ldc = l;
  p.batch = g.n;
  p.stride_a = 0;  // one weight for every image
  p.stride_b = k * l;
  p.stride_c = out_channels * l;
  gemm(p);
  check_close(dy.to_host(), expected, 1e-4, 1e-5);
}

TEST_CASE("im2col and col2im validate the geometry") {
  DeviceBuffer<float> a(64);
  ConvGeometry g = geometry(1, 1, 4, 4, 5, 5, 0, 1, 1);
  CHECK_THROWS_WITH_AS(im2col({a.data(), a.data(), g}),
                       "im2col: the kernel (5 x 5 with dilation) is larger than the padded input "
                       "(4 x 4)",
                       std::invalid_argument);
  g = geometry(1, 1, 4, 4, 3, 3, 0, 0, 1);
  CHECK_THROWS_WITH_AS(col2im({a.data(), a.data(), g, false}), "col2im: stride_h must be >= 1 (got 0)",
                       std::invalid_argument);
  g = geometry(1, 1, 4, 4, 3, 3, 0, 1, 1);
  CHECK_THROWS_WITH_AS(im2col({a.data(), nullptr, g}), "im2col: col is null", std::invalid_argument);
}
