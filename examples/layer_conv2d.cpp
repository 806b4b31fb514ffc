// Conv2d (cross-correlation), forward and backward by hand beside autograd
// (docs/layers/conv2d.md). One image, 2 input channels 4x4, 2 filters 3x3, padding 1:
//   y[o, i, j]   = b[o] + sum_{c, p, q} W[o, c, p, q] x[c, i + p - 1, j + q - 1]
//   dL/dW[o,c,p,q] = sum_{i, j} G[o, i, j] x[c, i + p - 1, j + q - 1]    (x zero outside)
//   dL/dx[c, u, v] = sum_{o, p, q} G[o, u - p + 1, v - q + 1] W[o, c, p, q]  (G zero outside)
//   dL/db[o]       = sum_{i, j} G[o, i, j]
// Exit code 1 when a formula and autograd disagree.
#include <cstdio>
#include <vector>

#include "engine/ops/cnn.h"
#include "engine/ops/ops.h"
#include "examples/example_print.h"

using namespace melgrad;
using examples::print_tensor;
using examples::report_agreement;

namespace {
constexpr int64_t C = 2, H = 4, W = 4, O = 2, K = 3, P = 1;

// Deterministic small values without a random generator: a readable pattern.
std::vector<double> pattern(int64_t n, double scale, double shift) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = scale * static_cast<double>((i * 7) % 11 - 5) + shift;
  return v;
}
}  // namespace

int main() {
  const std::vector<double> xv = pattern(C * H * W, 0.2, 0.0);
  const std::vector<double> wv = pattern(O * C * K * K, 0.1, 0.05);
  const std::vector<double> bv{0.1, -0.1};
  const std::vector<double> gv = pattern(O * H * W, 0.1, 0.0);  // dL/dy, y is [1, O, 4, 4]
  Tensor x = Tensor::from_vector(xv, {1, C, H, W}).requires_grad_();
  Tensor w = Tensor::from_vector(wv, {O, C, K, K}).requires_grad_();
  Tensor b = Tensor::from_vector(bv, {O}).requires_grad_();
  Tensor y = conv2d(x, w, b, {.stride = {1, 1}, .padding = {P, P}});
  y.backward(Tensor::from_vector(gv, {1, O, H, W}));
  print_tensor("y[0, 0] (first output channel)", y.narrow(1, 0, 1).reshape({H, W}));

  auto at = [](const std::vector<double>& v, int64_t ch, int64_t i, int64_t j) {
    return (i < 0 || i >= H || j < 0 || j >= W) ? 0.0 : v[(ch * H + i) * W + j];
  };
  std::vector<double> dw(wv.size(), 0.0), dx(xv.size(), 0.0), db(O, 0.0);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < K; ++p)
        for (int64_t q = 0; q < K; ++q) {
          double s = 0;
          for (int64_t i = 0; i < H; ++i)
            for (int64_t j = 0; j < W; ++j) s += at(gv, o, i, j) * at(xv, c, i + p - P, j + q - P);
          dw[((o * C + c) * K + p) * K + q] = s;
        }
  for (int64_t c = 0; c < C; ++c)
    for (int64_t u = 0; u < H; ++u)
      for (int64_t v = 0; v < W; ++v) {
        double s = 0;
        for (int64_t o = 0; o < O; ++o)
          for (int64_t p = 0; p < K; ++p)
            for (int64_t q = 0; q < K; ++q)
              s += at(gv, o, u - p + P, v - q + P) * wv[((o * C + c) * K + p) * K + q];
        dx[(c * H + u) * W + v] = s;
      }
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < H * W; ++i) db[o] += gv[o * H * W + i];

  print_tensor("dL/dW[0, 0] (filter 0, channel 0)",
               w.grad().narrow(0, 0, 1).narrow(1, 0, 1).reshape({K, K}));
  print_tensor("dL/dx[0, 0] (channel 0)", x.grad().narrow(1, 0, 1).reshape({H, W}));
  print_tensor("dL/db", b.grad());
  bool ok = report_agreement("dL/dW = correlate(x, G)", dw, w.grad());
  ok &= report_agreement("dL/dx = full convolution of G with W", dx, x.grad());
  ok &= report_agreement("dL/db = sum of G", db, b.grad());
  return ok ? 0 : 1;
}
