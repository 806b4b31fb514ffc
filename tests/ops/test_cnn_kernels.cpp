// The fast CPU kernels of the CNN layers (engine/cpu/{conv,pool,norm}.cpp) against the
// layer kernels' one CPU reference (kernels/cnn_reference.h, which the CUDA kernels' tests
// compare with too), on shapes that take every path: conv's direct one-channel path, row-block
// panels, multi-image panels (few output pixels per image), 1x1 identity columns, strides
// and padding, a batch smaller and larger than the thread count, 1 and 2 threads; max-pool's
// 2x2 vector path and generic windows (ties, NaN); every pool kind (kPoolKinds) against its
// reference; BatchNorm's statistics and backward; the fused ReLU of conv2d_relu on each conv path
// (the forward's epilogue and the mask the backward kernels apply to the gradient). x [N, C, H, W]
// throughout.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/cpu/conv.h"
#include "engine/cpu/pool.h"
#include "engine/ops/cnn.h"
#include "engine/ops/ops.h"
#include "kernels/cnn_reference.h"

using namespace melgrad;

namespace {

template <class T>
std::vector<T> random_values(size_t n, Generator& g) {
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(g.uniform(-1, 1));
  return v;
}

// max |a - b| / (1 + |b|) over all elements.
template <class T>
double max_rel_diff(const std::vector<T>& a, const std::vector<T>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(double(a[i]) - double(b[i])) / (1 + std::abs(double(b[i]))));
  return worst;
}

template <class T>
Tensor to_tensor(const std::vector<T>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}
template <class T>
std::vector<T> values_of(const Tensor& t) {
  std::vector<T> out;
  for (double v : t.to_vector()) out.push_back(static_cast<T>(v));
  return out;
}

struct ConvShape {
  const char* label;
  int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw;
};

// Forward and all three gradients of the fast kernels vs the reference loops (which sum
// in double). float64: only summation order differs (1e-12); float32: K-term sums of O(1)
// values, so rounding is ~sqrt(K) 6e-8 relative, 2e-5 leaves a wide margin.
template <class T>
void check_conv(const ConvShape& s, int threads, double tol) {
  CAPTURE(s.label);
  CAPTURE(threads);
  const Conv2dShape g{s.N, s.C, s.H, s.W, s.O, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw};
  Generator gen(static_cast<uint64_t>(s.N * 1000 + s.C * 100 + s.O));
  const Shape xs{s.N, s.C, s.H, s.W}, ws{s.O, s.C, s.kh, s.kw}, ys{s.N, s.O, g.out_h(), g.out_w()};
  const auto x = random_values<T>(numel_of(xs), gen), w = random_values<T>(numel_of(ws), gen),
             b = random_values<T>(s.O, gen), gy = random_values<T>(numel_of(ys), gen);
  std::vector<T> y_ref(numel_of(ys)), gx_ref(x.size()), gw_ref(w.size()), gb_ref(s.O);
  kernels::conv2d_forward_reference(x.data(), w.data(), b.data(), y_ref.data(), g);
  kernels::conv2d_backward_data_reference(gy.data(), static_cast<const T*>(nullptr), w.data(),
                                          gx_ref.data(), g);
  kernels::conv2d_backward_filter_reference(x.data(), gy.data(), static_cast<const T*>(nullptr),
                                            gw_ref.data(), gb_ref.data(), g);

  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  Tensor y = Tensor::empty(ys, dtype_of<T>()), gx = Tensor::empty(xs, dtype_of<T>()),
         gw = Tensor::empty(ws, dtype_of<T>()), gb = Tensor::empty({s.O}, dtype_of<T>());
  const Tensor xt = to_tensor(x, xs), wt = to_tensor(w, ws), bt = to_tensor(b, {s.O}),
               gyt = to_tensor(gy, ys);
  cpu::conv2d_forward(xt, wt, bt, y, g);
  Tensor y_relu = Tensor::empty(ys, dtype_of<T>());
  cpu::conv2d_forward(xt, wt, bt, y_relu, g, /*relu=*/true);
  cpu::conv2d_backward_input(gyt, Tensor(), wt, gx, g);
  cpu::conv2d_backward_weight(gyt, Tensor(), xt, gw, gb, g);
  // conv2d_relu's backward: gy masked by the fused output inside the kernels.
  Tensor gx_relu = Tensor::empty(xs, dtype_of<T>()), gw_relu = Tensor::empty(ws, dtype_of<T>()),
         gb_relu = Tensor::empty({s.O}, dtype_of<T>());
  cpu::conv2d_backward_input(gyt, y_relu, wt, gx_relu, g);
  cpu::conv2d_backward_weight(gyt, y_relu, xt, gw_relu, gb_relu, g);
  omp_set_num_threads(saved);
  CHECK(max_rel_diff(values_of<T>(y), y_ref) < tol);
  // The fused ReLU epilogue: max(y, 0) of the same sums, bit for bit, on every path.
  const std::vector<T> plain = values_of<T>(y), fused = values_of<T>(y_relu);
  int64_t mismatches = 0, zeroed = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    mismatches += fused[i] != std::max(plain[i], T(0));
    zeroed += plain[i] < 0;
  }
  CHECK(mismatches == 0);
  CHECK(zeroed > 0);  // the epilogue had something to do
  CHECK(max_rel_diff(values_of<T>(gx), gx_ref) < tol);
  CHECK(max_rel_diff(values_of<T>(gw), gw_ref) < tol * 10);  // sums over N * P terms
  CHECK(max_rel_diff(values_of<T>(gb), gb_ref) < tol * 10);
  // The masked gradients against the reference given the same mask (the kernels' own y).
  kernels::conv2d_backward_data_reference(gy.data(), fused.data(), w.data(), gx_ref.data(), g);
  kernels::conv2d_backward_filter_reference(x.data(), gy.data(), fused.data(), gw_ref.data(),
                                            gb_ref.data(), g);
  CHECK(max_rel_diff(values_of<T>(gx_relu), gx_ref) < tol);
  CHECK(max_rel_diff(values_of<T>(gw_relu), gw_ref) < tol * 10);
  CHECK(max_rel_diff(values_of<T>(gb_relu), gb_ref) < tol * 10);
}

const ConvShape kConvShapes[] = {
    {"one input channel (direct path), pad 1", 3, 1, 9, 11, 4, 3, 3, 1, 1, 1, 1},
    {"one input channel, stride 2, no pad", 2, 1, 8, 9, 3, 3, 2, 2, 2, 0, 0},
    {"large image: row-block panels", 2, 3, 70, 40, 5, 3, 3, 1, 1, 1, 1},
    {"few pixels: multi-image panels", 7, 8, 5, 6, 12, 3, 3, 1, 1, 1, 1},
    {"deep layer shape (K 576, 5x16 images)", 5, 64, 5, 16, 16, 3, 3, 1, 1, 1, 1},
    {"multi-image panels, stride (2, 1), pad (0, 1)", 9, 4, 7, 8, 6, 3, 3, 2, 1, 0, 1},
    {"1x1 identity columns", 4, 5, 6, 7, 3, 1, 1, 1, 1, 0, 0},
    {"batch of 1 (Eigen threads the GEMMs)", 1, 6, 12, 10, 7, 3, 3, 1, 1, 1, 1},
};

}  // namespace

TEST_CASE("conv2d kernels match the reference loops on every path, 1 and 2 threads") {
  for (const ConvShape& s : kConvShapes)
    for (int threads : {1, 2}) {
      check_conv<double>(s, threads, 1e-12);
      check_conv<float>(s, threads, 2e-5);
    }
}

TEST_CASE("conv2d gives the same float32 result with 1 and 2 threads") {
  // Threads take contiguous shares of the batch; only the weight gradient's partial sums
  // (one per thread) are added in another grouping, so forward and input gradients agree
  // bit for bit and the weight gradient to rounding.
  Generator g(3);
  Tensor x = Tensor::normal({6, 8, 5, 16}, 0, 1, g), w = Tensor::normal({16, 8, 3, 3}, 0, 1, g);
  Tensor b = Tensor::normal({16}, 0, 1, g);
  auto run = [&](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Tensor xi = x.clone(), wi = w.clone(), bi = b.clone();
    for (Tensor* t : {&xi, &wi, &bi}) t->requires_grad_();
    Tensor y = conv2d(xi, wi, bi, {{1, 1}, {1, 1}});
    sum(y * y).backward();
    omp_set_num_threads(saved);
    return std::vector<Tensor>{y.detach(), xi.grad(), wi.grad(), bi.grad()};
  };
  std::vector<Tensor> one = run(1), two = run(2);
  CHECK(max_abs_diff(one[0], two[0]) == 0.0);
  CHECK(max_abs_diff(one[1], two[1]) == 0.0);
  CHECK(allclose(two[2], one[2], 1e-5, 1e-4));
  CHECK(allclose(two[3], one[3], 1e-5, 1e-4));
}

// One pooling kind on one shape: cpu::pool2d_forward / _backward against the reference, in T.
template <class T>
void check_pool_kind(const Pool2dShape& geo, int threads, double tolerance) {
  Generator g(11);
  const int64_t Ho = geo.out_h(), Wo = geo.out_w();
  const Shape xs{geo.N, geo.C, geo.H, geo.W}, ys{geo.N, geo.C, Ho, Wo};
  const std::vector<T> x = random_values<T>(geo.planes() * geo.H * geo.W, g);
  const std::vector<T> gy = random_values<T>(geo.planes() * Ho * Wo, g);
  std::vector<T> y_ref(gy.size()), gx_ref(x.size());
  std::vector<int64_t> idx_ref(gy.size());
  kernels::pool2d_forward_reference(x.data(), y_ref.data(), idx_ref.data(), geo);
  kernels::pool2d_backward_reference(gy.data(), idx_ref.data(), gx_ref.data(), geo);
  const DType dt = std::is_same_v<T, float> ? DType::f32 : DType::f64;
  Tensor y = Tensor::empty(ys, dt), gx = Tensor::empty(xs, dt), idx;
  if (geo.has_indices()) idx = Tensor::empty(ys, DType::i64);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  cpu::pool2d_forward(to_tensor(x, xs), y, idx, geo);
  cpu::pool2d_backward(to_tensor(gy, ys), idx, gx, geo);
  omp_set_num_threads(saved);
  CHECK(max_rel_diff(values_of<T>(y), y_ref) <= tolerance);
  CHECK(max_rel_diff(values_of<T>(gx), gx_ref) <= tolerance);
  if (geo.has_indices()) CHECK(values_of<int64_t>(idx) == idx_ref);
}

TEST_CASE("every pool kind's CPU kernels match the reference: floor, ceil, padding, overlap") {
  // Each PoolKind (kPoolKinds) on the fast 2x2 path, a strided / padded ceil-mode shape, and
  // overlapping windows; float64 to 1e-12 and float32 to 4e-6 relative (the reference sums
  // a window of <= 9 values in double, the kernels in T; max picks values and is exact),
  // with 1 and 2 threads (planes * H * W >= 64K: the threaded path).
  struct Case {
    const char* label;
    Pool2dShape s;
  };
  for (PoolKind kind : kPoolKinds)
    for (Case c : {Case{"pool 2, odd sizes", {2, 3, 9, 37, 2, 2, 2, 2, 0, 0, false}},
                   Case{"3x3 stride 2 pad 1 ceil", {2, 2, 7, 6, 3, 3, 2, 2, 1, 1, true}},
                   Case{"ceil drops a window in the padding", {1, 1, 5, 5, 2, 2, 2, 2, 1, 1, true}},
                   Case{"overlapping 3x2 stride 1 pad 1", {1, 2, 5, 5, 3, 2, 1, 1, 1, 1, false}},
                   Case{"threaded, 64K values", {2, 8, 64, 64, 3, 3, 3, 3, 0, 0, true}}})
      for (int threads : {1, 2}) {
        CAPTURE(pool_kind_name(kind));
        CAPTURE(c.label);
        CAPTURE(threads);
        c.s.kind = kind;
        check_pool_kind<double>(c.s, threads, 1e-12);
        check_pool_kind<float>(c.s, threads, 4e-6);
      }
}

TEST_CASE("max_pool2d kernels follow the window rule (pool 2 vector path and tail, pool 3)") {
  // W = 37: pool 2 gives 18 output columns (two 8-wide vector blocks and a scalar tail),
  // odd H and W leave a dropped row and column; ties and NaNs are sprinkled in.
  for (int64_t k : {2, 3})
    for (int threads : {1, 2}) {
      CAPTURE(k);
      CAPTURE(threads);
      Generator g(static_cast<uint64_t>(k));
      Pool2dShape geo;
      geo.N = 2, geo.C = 5, geo.H = 13, geo.W = 37, geo.kh = geo.kw = k;
      geo.stride_h = geo.stride_w = k;
      const int64_t Ho = geo.out_h(), Wo = geo.out_w();
      std::vector<float> x = random_values<float>(geo.planes() * geo.H * geo.W, g);
      for (size_t i = 0; i < x.size(); i += 7) x[i] = 0.5f;  // ties: the first maximum wins
      for (size_t i = 3; i < x.size(); i += 53) x[i] = std::numeric_limits<float>::quiet_NaN();
      for (size_t i = 4; i < x.size(); i += 106) x[i] = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> y_ref(geo.planes() * Ho * Wo);
      std::vector<int64_t> idx_ref(y_ref.size());
      kernels::max_pool2d_forward_reference(x.data(), y_ref.data(), idx_ref.data(), geo);
      const int saved = omp_get_max_threads();
      omp_set_num_threads(threads);
      Tensor xt = Tensor::from_vector(x, {2, 5, geo.H, geo.W}), y = Tensor::empty({2, 5, Ho, Wo}),
             idx = Tensor::empty({2, 5, Ho, Wo}, DType::i64);
      cpu::pool2d_forward(xt, y, idx, geo);
      Tensor gy = Tensor::normal({2, 5, Ho, Wo}, 0, 1, g), gx = Tensor::empty(xt.shape());
      cpu::pool2d_backward(gy, idx, gx, geo);
      omp_set_num_threads(saved);
      const std::vector<float> yv = values_of<float>(y);
      int nans = 0;
      for (size_t i = 0; i < yv.size(); ++i) {
        nans += std::isnan(y_ref[i]);
        CHECK((yv[i] == y_ref[i] || (std::isnan(yv[i]) && std::isnan(y_ref[i]))));
      }
      CHECK(nans > 0);
      CHECK(values_of<int64_t>(idx) == idx_ref);
      // The backward routes each gradient to its window's argmax and zero elsewhere.
      const std::vector<float> gyv = values_of<float>(gy);
      std::vector<float> expect(x.size());
      kernels::max_pool2d_backward_reference(gyv.data(), idx_ref.data(), expect.data(), geo);
      CHECK(values_of<float>(gx) == expect);
    }
}

TEST_CASE("max_pool2d's fast paths agree with the reference loops on NaN-free data") {
  Generator g(4);
  Pool2dShape geo;
  geo.N = 1, geo.C = 3, geo.H = 9, geo.W = 41, geo.kh = geo.kw = 2, geo.stride_h = geo.stride_w = 2;
  REQUIRE(geo.out_h() == 4);
  REQUIRE(geo.out_w() == 20);
  std::vector<float> x = random_values<float>(geo.planes() * geo.H * geo.W, g);
  std::vector<float> y_ref(geo.planes() * 4 * 20);
  std::vector<int64_t> idx_ref(y_ref.size());
  kernels::max_pool2d_forward_reference(x.data(), y_ref.data(), idx_ref.data(), geo);
  Tensor y = Tensor::empty({3, 4, 20}), idx = Tensor::empty({3, 4, 20}, DType::i64);
  cpu::pool2d_forward(Tensor::from_vector(x, {3, geo.H, geo.W}), y, idx, geo);
  CHECK(values_of<float>(y) == y_ref);
  CHECK(values_of<int64_t>(idx) == idx_ref);
}

TEST_CASE("max_pool2d lets NaN win its window and keeps the first of tied maxima") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // One 4x4 plane, pool 2: windows {1,2,1,0}, {3,3,nan,0}, {-1,-2,-3,-4}, {5,nan,5,1}.
  Tensor x = Tensor::from_vector(
      std::vector<float>{1, 2, 3, 3, 1, 0, nan, 0, -1, -2, 5, nan, -3, -4, 5, 1}, {1, 1, 4, 4});
  x.requires_grad_();
  Tensor y = max_pool2d(x, {.kernel = {2, 2}});
  std::vector<double> v = y.to_vector();
  CHECK(v[0] == 2);
  CHECK(std::isnan(v[1]));
  CHECK(v[2] == -1);
  CHECK(std::isnan(v[3]));
  y.backward(Tensor::ones({1, 1, 2, 2}));
  std::vector<double> gx = x.grad().to_vector();
  CHECK(gx[1] == 1);   // 2
  CHECK(gx[6] == 1);   // the NaN at (1, 2)
  CHECK(gx[8] == 1);   // -1
  CHECK(gx[11] == 1);  // the NaN at (2, 3), not the 5 before it
  double total = 0;
  for (double d : gx) total += d;
  CHECK(total == 4);
}

TEST_CASE("batch_norm forward and backward match float64 formulas on a large-S input") {
  // [N, C, S] with S = 3000 > the kernels' block of 2048 and values offset by 100 (the
  // shifted sums must keep the variance accurate).
  Generator g(9);
  Tensor x64 = Tensor::normal({3, 4, 50, 60}, 100, 2, g, DType::f64);
  Tensor w64 = Tensor::uniform({4}, 0.5, 1.5, g, DType::f64),
         b64 = Tensor::uniform({4}, -1, 1, g, DType::f64);
  Tensor gy64 = Tensor::normal({3, 4, 50, 60}, 0, 1, g, DType::f64);
  for (DType dt : {DType::f64, DType::f32}) {
    const std::string dtype = dtype_name(dt);
    CAPTURE(dtype);
    Tensor x = x64.to(dt).clone(), w = w64.to(dt).clone(), b = b64.to(dt).clone();
    Tensor xr = x64.clone(), wr = w64.clone(), br = b64.clone();
    for (Tensor* t : {&x, &w, &b, &xr, &wr, &br}) t->requires_grad_();
    Tensor y = batch_norm(x, w, b, nullptr, nullptr, true);
    Tensor mean = melgrad::mean(xr, {0, 2, 3}, true);
    Tensor var = melgrad::mean(pow(xr - mean, 2.0), {0, 2, 3}, true);
    Tensor yr =
        (xr - mean) / sqrt(var + 1e-5) * wr.reshape({1, 4, 1, 1}) + br.reshape({1, 4, 1, 1});
    y.backward(gy64.to(dt));
    yr.backward(gy64);
    // float32: x ~ 100 +- 2 carries 6e-6 absolute rounding; normalised by std 2 that is
    // ~3e-6 in y, and gradients sum 9000 terms per channel.
    const double tol = dt == DType::f64 ? 1e-9 : 1e-4;
    CHECK(allclose(y.to(DType::f64), yr.detach(), tol, tol));
    CHECK(allclose(x.grad().to(DType::f64), xr.grad(), tol, tol));
    CHECK(allclose(w.grad().to(DType::f64), wr.grad(), tol, tol * 100));
    CHECK(allclose(b.grad().to(DType::f64), br.grad(), tol, tol * 100));
  }
}
