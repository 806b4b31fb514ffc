// Fused multi-tensor Adam / AdamW step, PyTorch's update rule (torch.optim.Adam / AdamW,
// and the engine's CPU optimiser in engine/optim/optim.cpp), for float32 tensors:
//   t = step (1 on the first step); for each element of each tensor:
//   Adam:   g += weight_decay * p                         (L2 penalty in the gradient)
//   AdamW:  p *= 1 - lr * weight_decay                    (decoupled decay)
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// One launch updates many tensors: the launcher packs up to kAdamMaxTensorsPerLaunch
// tensors and kAdamMaxBlocksPerLaunch chunks of `chunk` elements into a table passed
// in the kernel arguments (no device copy), and launches again while tensors remain.
// The list itself is host memory (AdamTensor pointers are device memory). The bias
// corrections are computed on the host in double, then used in float, as the CPU does.
// The launcher validates (std::invalid_argument) and launches on `stream`; the reference
// is the plain loop on host memory.
#pragma once

#include <cstdint>

#include "kernels/runtime.h"

namespace melgrad::kernels {

constexpr int kAdamMaxTensorsPerLaunch = 36;
constexpr int kAdamMaxBlocksPerLaunch = 320;
constexpr int64_t kAdamChunk = 16384;  // elements per block (default)

// One parameter and its state, all contiguous float32 [numel].
struct AdamTensor {
  float* param = nullptr;
  const float* grad = nullptr;
  float* exp_avg = nullptr;     // m
  float* exp_avg_sq = nullptr;  // v
  int64_t numel = 0;
};

struct AdamParams {
  const AdamTensor* tensors = nullptr;  // host array of `count` entries
  int64_t count = 0;
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // true: AdamW
  int64_t step = 1;                     // t, counted from 1
  // Elements per block; tests shrink it to reach the multi-launch paths with small tensors.
  int64_t chunk = kAdamChunk;
};

void adam_step(const AdamParams& p, Stream stream = nullptr);
void adam_step_reference(const AdamParams& p);

}  // namespace melgrad::kernels
