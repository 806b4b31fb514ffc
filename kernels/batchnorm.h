// Batch normalisation over the channels of contiguous float32 x viewed as [N, C, S]
// (S = H * W for BatchNorm2d; S = 1 for [N, C]), with PyTorch's rules (engine/ops/norm.cpp):
//   y = (x - mean) * invstd * weight + bias,  invstd = 1 / sqrt(var + eps)
//   batch statistics (training, or no running stats: track_running_stats=False):
//     mean, var = per-channel mean and biased variance over the N * S values (Welford per
//     thread, merged with Chan's formula across threads, blocks and splits in a fixed order);
//     with running stats in training: running = (1 - momentum) running + momentum stat,
//     using the unbiased variance var * M / (M - 1), M = N * S;
//   running statistics (eval with running stats): mean = running_mean, var = running_var.
// Either way the forward writes the mean and invstd it used to save_mean / save_invstd [C]
// (the backward's inputs) and applies them as one fused scale / shift per channel.
// Backward (dy -> dx, dweight, dbias, each optional):
//   dbias = sum(dy), dweight = sum(dy * xhat), xhat = (x - mean) invstd
//   dx = weight invstd (dy - sum(dy) / M - xhat sum(dy xhat) / M)   with batch statistics
//   dx = weight invstd dy                                           with running statistics
// weight / bias null: 1 / 0 (affine=False).
//
// Implementations (kernels/cudnn.h, MELGRAD_BATCHNORM=melgrad|cudnn): melgrad
// (kernels/batchnorm.cu) or cuDNN's spatial batch norm (needs weight and bias, eps >= 1e-5,
// and in the backward batch statistics and all three gradients).
// The per-channel reductions need scratch (batch_norm_*_workspace_bytes); when `workspace`
// is null the launcher allocates it itself (slower). *_reference: plain loops, double sums.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cudnn.h"
#include "kernels/runtime.h"

namespace melgrad::kernels {

struct BatchNormForwardParams {
  const float* x = nullptr;
  float* y = nullptr;
  const float* weight = nullptr;  // [C], optional
  const float* bias = nullptr;    // [C], optional
  float* running_mean = nullptr;  // [C]; both or neither (track_running_stats=False)
  float* running_var = nullptr;
  float* save_mean = nullptr;    // [C], written: the statistics used
  float* save_invstd = nullptr;  // [C], written
  int64_t N = 0, C = 0, S = 1;
  bool training = true;
  double momentum = 0.1;
  double eps = 1e-5;
  float* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  DnnImpl impl = DnnImpl::automatic;
};

struct BatchNormBackwardParams {
  const float* x = nullptr;
  const float* dy = nullptr;
  const float* weight = nullptr;       // [C], optional
  const float* save_mean = nullptr;    // [C], from the forward
  const float* save_invstd = nullptr;  // [C], from the forward
  float* dx = nullptr;                 // each optional
  float* dweight = nullptr;
  float* dbias = nullptr;
  int64_t N = 0, C = 0, S = 1;
  bool batch_stats = true;  // the forward used batch statistics (training or no running stats)
  double eps = 1e-5;        // cudnn only (it checks it against the forward's)
  float* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  DnnImpl impl = DnnImpl::automatic;
};

void batch_norm_forward(const BatchNormForwardParams& p, Stream stream = nullptr);
void batch_norm_backward(const BatchNormBackwardParams& p, Stream stream = nullptr);
std::size_t batch_norm_forward_workspace_bytes(const BatchNormForwardParams& p);
std::size_t batch_norm_backward_workspace_bytes(const BatchNormBackwardParams& p);

void batch_norm_forward_reference(const BatchNormForwardParams& p);
void batch_norm_backward_reference(const BatchNormBackwardParams& p);

// What DnnImpl::automatic resolves to for batch norm (MELGRAD_BATCHNORM, read once).
DnnImpl default_batch_norm_impl();

}  // namespace melgrad::kernels
