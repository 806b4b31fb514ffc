// Adam, three steps by hand beside the optimiser (docs/layers/adam.md). Parameters
// p [3], loss L = sum(c * p^2) with fixed c, so g = 2 c p. With t = 1, 2, 3:
//   m = b1 m + (1 - b1) g            v = b2 v + (1 - b2) g^2
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// (torch.optim.Adam's rule). Exit code 1 on a disagreement.
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/ops/ops.h"
#include "engine/optim/optim.h"
#include "examples/example_print.h"

using namespace melgrad;
using examples::print_tensor;
using examples::print_values;
using examples::report_agreement;

int main() {
  const std::vector<double> c{1.0, 0.01, 100.0};  // curvatures four orders of magnitude apart
  const std::vector<double> p0{1.0, 1.0, 1.0};
  const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  Tensor p = Tensor::from_vector(p0, {3}).requires_grad_();
  Tensor cw = Tensor::from_vector(c, {3});
  optim::Adam adam({p}, {.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps});

  std::vector<double> pm = p0, m(3, 0.0), v(3, 0.0);
  bool ok = true;
  for (int t = 1; t <= 3; ++t) {
    adam.zero_grad();
    Tensor loss = sum(cw * p * p);
    loss.backward();
    adam.step();
    for (size_t i = 0; i < 3; ++i) {
      const double g = 2 * c[i] * pm[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(b1, t)), v_hat = v[i] / (1 - std::pow(b2, t));
      pm[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    std::printf("step %d: loss before = %.5f\n", t, loss.item());
    print_tensor("  p", p);
    ok &= report_agreement("p after the step", pm, p);
  }
  print_values("m after 3 steps", m);
  print_values("v after 3 steps", v);
  ok &= report_agreement("m (exp_avg)", m, adam.exp_avg(0));
  ok &= report_agreement("v (exp_avg_sq)", v, adam.exp_avg_sq(0));
  return ok ? 0 : 1;
}
