// Linear layer, forward and backward by hand beside autograd (docs/layers/linear.md).
//   y = x W^T + b      x [N, I], W [O, I], b [O], y [N, O]
//   given G = dL/dy:   dL/dx = G W,   dL/dW = G^T x,   dL/db = sum over rows of G
// Exit code 1 when a formula and autograd disagree.
#include <cstdio>
#include <vector>

#include "engine/ops/ops.h"
#include "examples/example_print.h"

using namespace melgrad;
using examples::print_tensor;
using examples::report_agreement;

int main() {
  const int64_t N = 2, I = 3, O = 2;
  const std::vector<double> xv{1.0, 2.0, -1.0, 0.5, -0.5, 2.0};
  const std::vector<double> wv{0.1, -0.2, 0.3, 0.4, 0.5, -0.6};
  const std::vector<double> bv{0.01, -0.02};
  const std::vector<double> gv{1.0, -1.0, 0.5, 2.0};  // upstream gradient dL/dy
  Tensor x = Tensor::from_vector(xv, {N, I}).requires_grad_();
  Tensor w = Tensor::from_vector(wv, {O, I}).requires_grad_();
  Tensor b = Tensor::from_vector(bv, {O}).requires_grad_();
  Tensor g = Tensor::from_vector(gv, {N, O});

  Tensor y = matmul(x, transpose(w, 0, 1)) + b;  // what nn::Linear::forward computes
  y.backward(g);
  print_tensor("y = x W^T + b", y);

  // The derived formulas, as plain loops.
  std::vector<double> dx(N * I, 0.0), dw(O * I, 0.0), db(O, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      db[o] += gv[n * O + o];
      for (int64_t i = 0; i < I; ++i) {
        dx[n * I + i] += gv[n * O + o] * wv[o * I + i];
        dw[o * I + i] += gv[n * O + o] * xv[n * I + i];
      }
    }
  print_tensor("dL/dx", x.grad());
  print_tensor("dL/dW", w.grad());
  print_tensor("dL/db", b.grad());
  bool ok = report_agreement("dL/dx = G W", dx, x.grad());
  ok &= report_agreement("dL/dW = G^T x", dw, w.grad());
  ok &= report_agreement("dL/db = sum_n G", db, b.grad());
  return ok ? 0 : 1;
}
