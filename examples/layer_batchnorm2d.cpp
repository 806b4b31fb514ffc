// BatchNorm2d in training and in eval, forward and backward by hand beside autograd
// (docs/layers/batchnorm2d.md). x [N=2, C=2, 1, 3]: M = N*H*W = 6 values per channel.
//   training: mu = mean(x), var = mean((x - mu)^2) (biased), invstd = 1/sqrt(var + eps)
//             xhat = (x - mu) invstd,  y = gamma xhat + beta
//             dL/dx = gamma invstd (G - mean(G) - xhat mean(G xhat))
//             running = 0.9 running + 0.1 stat, with the unbiased variance var * M/(M-1)
//   eval:     y = gamma (x - running_mean)/sqrt(running_var + eps) + beta
//             dL/dx = gamma G / sqrt(running_var + eps)
//   both:     dL/dgamma = sum(G xhat),  dL/dbeta = sum(G)   (per channel)
// Exit code 1 when a formula and autograd disagree.
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/ops/cnn.h"
#include "engine/ops/ops.h"
#include "examples/example_print.h"

using namespace melgrad;
using examples::print_tensor;
using examples::print_values;
using examples::report_agreement;

namespace {
constexpr int64_t N = 2, C = 2, S = 3, M = N * S;
constexpr double kEps = 1e-5;
// Element m (0..M-1) of channel c in the [N, C, S] layout.
int64_t index(int64_t c, int64_t m) { return (m / S * C + c) * S + m % S; }
}  // namespace

int main() {
  const std::vector<double> xv{1.0, 2.0, 4.0, -1.0, 0.0,  1.0,   // image 0: channel 0, 1
                               3.0, 0.0, 2.0, 2.0,  -2.0, 0.5};  // image 1: channel 0, 1
  const std::vector<double> gamma_v{1.5, 0.5}, beta_v{0.1, -0.2};
  const std::vector<double> gv{0.3, -0.1, 0.2, 0.5, 0.1, -0.4, -0.2, 0.4, 0.1, 0.0, 0.3, -0.3};
  Tensor G = Tensor::from_vector(gv, {N, C, 1, S});
  Tensor gamma = Tensor::from_vector(gamma_v, {C}).requires_grad_();
  Tensor beta = Tensor::from_vector(beta_v, {C}).requires_grad_();
  Tensor running_mean = Tensor::zeros({C}, DType::f64), running_var = Tensor::ones({C}, DType::f64);

  // ---- training: batch statistics --------------------------------------------------
  Tensor x = Tensor::from_vector(xv, {N, C, 1, S}).requires_grad_();
  Tensor y = batch_norm(x, gamma, beta, &running_mean, &running_var, /*training=*/true);
  y.backward(G);
  std::printf("== training ==\n");
  print_tensor("y", y.reshape({N * C, S}));

  std::vector<double> dx(xv.size()), dgamma(C, 0.0), dbeta(C, 0.0), mu(C), var(C);
  for (int64_t c = 0; c < C; ++c) {
    double s = 0, ss = 0;
    for (int64_t m = 0; m < M; ++m) s += xv[index(c, m)];
    mu[c] = s / M;
    for (int64_t m = 0; m < M; ++m) ss += (xv[index(c, m)] - mu[c]) * (xv[index(c, m)] - mu[c]);
    var[c] = ss / M;
    const double invstd = 1.0 / std::sqrt(var[c] + kEps);
    double mean_g = 0, mean_gx = 0;
    for (int64_t m = 0; m < M; ++m) {
      const double xhat = (xv[index(c, m)] - mu[c]) * invstd;
      mean_g += gv[index(c, m)] / M;
      mean_gx += gv[index(c, m)] * xhat / M;
      dgamma[c] += gv[index(c, m)] * xhat;
      dbeta[c] += gv[index(c, m)];
    }
    for (int64_t m = 0; m < M; ++m) {
      const double xhat = (xv[index(c, m)] - mu[c]) * invstd;
      dx[index(c, m)] = gamma_v[c] * invstd * (gv[index(c, m)] - mean_g - xhat * mean_gx);
    }
  }
  print_values("batch mean", mu);
  print_values("batch variance (biased)", var);
  print_tensor("dL/dx", x.grad().reshape({N * C, S}));
  bool ok = report_agreement("training dL/dx = gamma invstd (G - mean G - xhat mean(G xhat))", dx,
                             x.grad());
  ok &= report_agreement("dL/dgamma = sum G xhat", dgamma, gamma.grad());
  ok &= report_agreement("dL/dbeta = sum G", dbeta, beta.grad());
  std::vector<double> rm(C), rv(C);
  for (int64_t c = 0; c < C; ++c) {
    rm[c] = 0.9 * 0.0 + 0.1 * mu[c];
    rv[c] = 0.9 * 1.0 + 0.1 * var[c] * M / (M - 1);
  }
  print_tensor("running_mean after one step", running_mean);
  print_tensor("running_var after one step", running_var);
  ok &= report_agreement("running_var = 0.9 * 1 + 0.1 * var * M/(M-1)", rv, running_var);
  ok &= report_agreement("running_mean = 0.9 * 0 + 0.1 * mean", rm, running_mean);

  // ---- eval: running statistics, a plain per-channel affine map --------------------
  gamma.zero_grad();
  beta.zero_grad();
  Tensor x2 = Tensor::from_vector(xv, {N, C, 1, S}).requires_grad_();
  Tensor y2 = batch_norm(x2, gamma, beta, &running_mean, &running_var, /*training=*/false);
  y2.backward(G);
  std::printf("== eval ==\n");
  print_tensor("y", y2.reshape({N * C, S}));
  std::vector<double> dx2(xv.size());
  for (int64_t c = 0; c < C; ++c)
    for (int64_t m = 0; m < M; ++m)
      dx2[index(c, m)] = gamma_v[c] * gv[index(c, m)] / std::sqrt(rv[c] + kEps);
  print_tensor("dL/dx", x2.grad().reshape({N * C, S}));
  ok &= report_agreement("eval dL/dx = gamma G / sqrt(running_var + eps)", dx2, x2.grad());
  return ok ? 0 : 1;
}
