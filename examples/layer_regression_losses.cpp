// MSE, L1 and SmoothL1 losses, forward and backward by hand beside autograd
// (docs/layers/regression_losses.md). d = pred - target, N values, mean reduction:
//   MSE       L = mean(d^2)                          dL/dpred = 2 d / N
//   L1        L = mean(|d|)                          dL/dpred = sign(d) / N   (0 at d = 0)
//   SmoothL1  L = mean(|d| < b ? d^2/(2b) : |d| - b/2)   dL/dpred = clamp(d / b, -1, 1) / N
// Exit code 1 on a disagreement.
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/ops/loss.h"
#include "engine/ops/ops.h"
#include "examples/example_print.h"

using namespace melgrad;
using examples::print_tensor;
using examples::report_agreement;

int main() {
  const std::vector<double> pv{0.5, -1.0, 2.0, 0.2, 3.0};
  const std::vector<double> tv{0.0, 0.0, 0.0, 0.2, 0.5};  // d = 0.5, -1, 2, 0, 2.5
  const double N = static_cast<double>(pv.size());
  Tensor target = Tensor::from_vector(tv, {5});
  bool ok = true;
  struct Loss {
    const char* name;
    Tensor (*fn)(const Tensor&, const Tensor&);
    double (*value)(double d);
    double (*grad)(double d);
  };
  const Loss losses[] = {
      {"mse", mse_loss, [](double d) { return d * d; }, [](double d) { return 2 * d; }},
      {"l1", l1_loss, [](double d) { return std::fabs(d); },
       [](double d) { return d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0); }},
      {"smooth_l1 (beta = 1)",
       [](const Tensor& p, const Tensor& t) { return smooth_l1_loss(p, t); },
       [](double d) { return std::fabs(d) < 1.0 ? 0.5 * d * d : std::fabs(d) - 0.5; },
       [](double d) { return std::fmax(-1.0, std::fmin(1.0, d)); }},
  };
  for (const Loss& l : losses) {
    Tensor pred = Tensor::from_vector(pv, {5}).requires_grad_();
    Tensor loss = l.fn(pred, target);
    loss.backward();
    double L = 0;
    std::vector<double> dp(pv.size());
    for (size_t i = 0; i < pv.size(); ++i) {
      L += l.value(pv[i] - tv[i]) / N;
      dp[i] = l.grad(pv[i] - tv[i]) / N;
    }
    std::printf("== %s ==\nloss = %.5f\n", l.name, loss.item());
    print_tensor("dL/dpred", pred.grad());
    ok &= report_agreement("loss", {L}, loss.reshape({1}));
    ok &= report_agreement("dL/dpred", dp, pred.grad());
  }
  return ok ? 0 : 1;
}
