// Softmax cross-entropy, forward and backward by hand beside autograd
// (docs/layers/cross_entropy.md). logits z [N=3, C=4], targets t:
//   log p_{n,c} = z_{n,c} - m_n - log sum_k exp(z_{n,k} - m_n),   m_n = max_k z_{n,k}
//   L = -(1/N) sum_n log p_{n, t_n}
//   dL/dz_{n,c} = (p_{n,c} - [c == t_n]) / N
// The last row has logits near 1000: exp(1000) overflows, the shifted form does not.
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
  const int64_t N = 3, C = 4;
  const std::vector<double> zv{2.0,    1.0,    0.1,   -1.0,  //
                               0.0,    0.0,    0.0,   0.0,   //
                               1000.0, 1001.0, 999.0, 1000.5};
  const std::vector<int64_t> tv{0, 3, 1};
  Tensor z = Tensor::from_vector(zv, {N, C}).requires_grad_();
  Tensor loss = cross_entropy(z, Tensor::from_vector(tv, {N}));
  loss.backward();

  double L = 0;
  std::vector<double> dz(zv.size());
  for (int64_t n = 0; n < N; ++n) {
    double m = zv[n * C];
    for (int64_t c = 1; c < C; ++c) m = std::fmax(m, zv[n * C + c]);
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(zv[n * C + c] - m);
    const double log_s = std::log(s);
    L -= (zv[n * C + tv[n]] - m - log_s) / N;
    for (int64_t c = 0; c < C; ++c) {
      const double prob = std::exp(zv[n * C + c] - m - log_s);
      dz[n * C + c] = (prob - (c == tv[n] ? 1.0 : 0.0)) / N;
    }
  }
  std::printf("naive exp(1000) = %g (why the max is subtracted first)\n", std::exp(1000.0));
  std::printf("loss (autograd) = %.5f\n", loss.item());
  std::printf("loss (formula)  = %.5f\n", L);
  print_tensor("dL/dz", z.grad());
  bool ok = report_agreement("loss", {L}, loss.reshape({1}));
  ok &= report_agreement("dL/dz = (softmax(z) - onehot(t)) / N", dz, z.grad());
  return ok ? 0 : 1;
}
