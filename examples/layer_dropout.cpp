// Dropout (inverted), forward and backward by hand beside autograd (docs/layers/dropout.md).
//   keep_i = [u_i >= p],  u_i = philox_uniform(seed, i)   (the counter-based random stream)
//   y_i = x_i keep_i / (1 - p)          dL/dx_i = G_i keep_i / (1 - p)
// In eval (training = false) dropout is the identity. Exit code 1 on a disagreement.
#include <cstdio>
#include <vector>

#include "engine/ops/dropout.h"
#include "engine/ops/ops.h"
#include "examples/example_print.h"

using namespace melgrad;
using examples::print_tensor;
using examples::print_values;
using examples::report_agreement;

int main() {
  const double p = 0.5;
  const uint64_t seed = 42;
  const std::vector<double> xv{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0};
  const std::vector<double> gv{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
  Tensor x = Tensor::from_vector(xv, {2, 4}).requires_grad_();
  Tensor y = dropout_with_seed(x, p, seed);
  y.backward(Tensor::from_vector(gv, {2, 4}));

  std::vector<double> u(xv.size()), ym(xv.size()), dx(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    u[i] = philox_uniform(seed, i);
    const double keep = u[i] >= p ? 1.0 : 0.0;
    ym[i] = xv[i] * keep / (1 - p);
    dx[i] = gv[i] * keep / (1 - p);
  }
  print_values("u = philox_uniform(42, i)", u);
  print_tensor("y = dropout(x, p = 0.5)", y);
  print_tensor("dL/dx", x.grad());
  bool ok = report_agreement("y = x [u >= p] / (1 - p)", ym, y);
  ok &= report_agreement("dL/dx = G [u >= p] / (1 - p)", dx, x.grad());
  Generator gen(1);
  Tensor eval = dropout(x, p, /*training=*/false, gen);
  ok &= report_agreement("eval: dropout(x) = x", xv, eval);
  return ok ? 0 : 1;
}
