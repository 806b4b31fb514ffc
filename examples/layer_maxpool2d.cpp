// MaxPool2d 2x2 stride 2, forward and backward by hand beside autograd
// (docs/layers/maxpool2d.md):
//   y[i, j] = max over the window of x;  argmax[i, j] = where that max sits (saved)
//   dL/dx[u, v] = sum of G[i, j] over the windows whose argmax is (u, v), else 0
// The example also shows a tie (the first maximum in row-major order wins).
// Exit code 1 when the formula and autograd disagree.
#include <cstdio>
#include <vector>

#include "engine/ops/cnn.h"
#include "engine/ops/ops.h"
#include "examples/example_print.h"

using namespace melgrad;
using examples::print_tensor;
using examples::report_agreement;

int main() {
  const int64_t H = 4, W = 4, Ho = 2, Wo = 2;
  const std::vector<double> xv{1.0,  3.0,  0.5, 0.5,  //
                               2.0,  -1.0, 0.5, 0.5,  // a tie: four equal values
                               -2.0, 0.0,  4.0, 1.0,  //
                               -3.0, -1.0, 2.0, 5.0};
  const std::vector<double> gv{0.1, 0.2, 0.3, 0.4};  // dL/dy
  Tensor x = Tensor::from_vector(xv, {1, 1, H, W}).requires_grad_();
  Tensor y = max_pool2d(x, {.kernel = {2, 2}});
  y.backward(Tensor::from_vector(gv, {1, 1, Ho, Wo}));
  print_tensor("x", x.reshape({H, W}));
  print_tensor("y = max_pool2d(x, 2)", y.reshape({Ho, Wo}));

  std::vector<double> dx(xv.size(), 0.0);
  for (int64_t i = 0; i < Ho; ++i)
    for (int64_t j = 0; j < Wo; ++j) {
      int64_t best = -1;
      for (int64_t p = 0; p < 2; ++p)
        for (int64_t q = 0; q < 2; ++q) {
          const int64_t at = (2 * i + p) * W + 2 * j + q;
          if (best < 0 || xv[at] > xv[best]) best = at;  // strict: the first maximum wins
        }
      dx[best] += gv[i * Wo + j];
    }
  print_tensor("dL/dx", x.grad().reshape({H, W}));
  return report_agreement("dL/dx = G routed to each window's argmax", dx, x.grad()) ? 0 : 1;
}
