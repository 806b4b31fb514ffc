// CPU kernels of batch normalisation, float and double. x is viewed as [N, C, S]
// (S = product of the dims after the channel dim, 1 for [N, C]); statistics are per
// channel over the N * S values of that channel. Channels are split over the OpenMP
// threads (inputs of >= 1M values); sums are accumulated in double (blocks of T partial sums), so
// float32 results do not depend on the thread count. All tensors are contiguous; outputs are
// allocated by the caller. Per-channel tensors ([C]) have x's dtype.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace melgrad::cpu {

struct BatchNormGeometry {
  int64_t N = 0, C = 0, S = 1;
};

// mean [C] and biased variance [C] in one pass (sums shifted by the channel's first value).
void batch_norm_stats(const Tensor& x, const Tensor& mean, const Tensor& var,
                      const BatchNormGeometry& g);
// y = x * scale + shift, scale = weight * invstd, shift = bias - mean * scale
// (weight, bias undefined: 1, 0).
void batch_norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd,
                      const Tensor& weight, const Tensor& bias, const Tensor& y,
                      const BatchNormGeometry& g);
// running = (1 - momentum) * running + momentum * stat, with the unbiased variance
// var * M / (M - 1), M = N * S.
void batch_norm_update_running(const Tensor& running_mean, const Tensor& running_var,
                               const Tensor& mean, const Tensor& var, double momentum,
                               const BatchNormGeometry& g);
// Gradients of y = batch_norm(x) for gy; gx, gweight, gbias may each be undefined (skipped).
// batch_stats: mean/invstd are this batch's statistics, so gx carries the terms through them:
//   gx = w invstd (gy - mean(gy) - xhat mean(gy xhat)),  xhat = (x - mean) invstd
// otherwise (running statistics) gx = w invstd gy. gweight = sum(gy xhat), gbias = sum(gy).
void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean,
                         const Tensor& invstd, const Tensor& weight, const Tensor& gx,
                         const Tensor& gweight, const Tensor& gbias, bool batch_stats,
                         const BatchNormGeometry& g);

}  // namespace melgrad::cpu
