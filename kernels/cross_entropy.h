// Cross-entropy from logits with int64 class targets and optional class weights, mean
// reduction as PyTorch's F.cross_entropy (and the engine's cross_entropy):
//   logits x: [n, c] (contiguous float32), targets t: [n] int64 in [0, c), weight w: [c]
//   lse_i  = log sum_j exp(x_ij)                       (fused log-softmax, max-shifted)
//   loss   = sum_i w_{t_i} (lse_i - x_{i,t_i}) / W,    W = sum_i w_{t_i}  (n without w)
//   dx_ij  = g * w_{t_i} / W * (exp(x_ij - lse_i) - [j == t_i])   g = dL/dloss
// The forward writes lse (the backward's input) and, if asked, W. Targets live on the
// device, so the launchers cannot check them: a row whose target is outside [0, c) makes
// the loss and that row's gradient NaN (the engine checks targets before it launches).
// Scalars (loss, W, g) are device pointers to one float, so nothing synchronises.
// Launchers validate (std::invalid_argument) and launch on `stream`; the references are
// plain C++ loops (double accumulation) on host memory.
#pragma once

#include <cstdint>

#include "kernels/runtime.h"

namespace melgrad::kernels {

struct CrossEntropyParams {
  const float* logits = nullptr;     // [n, c]
  const int64_t* targets = nullptr;  // [n]
  const float* weight = nullptr;     // [c], optional
  float* loss = nullptr;             // [1]
  float* lse = nullptr;              // [n], log-sum-exp of every row
  float* weight_sum = nullptr;       // [1], optional: W
  int64_t n = 0;
  int64_t c = 0;
};

struct CrossEntropyBackwardParams {
  const float* logits = nullptr;      // [n, c]
  const int64_t* targets = nullptr;   // [n]
  const float* weight = nullptr;      // [c], optional
  const float* lse = nullptr;         // [n], from the forward
  const float* weight_sum = nullptr;  // [1], from the forward; may be null without weight (W = n)
  const float* grad_loss = nullptr;   // [1], g
  float* dlogits = nullptr;           // [n, c]; may alias logits
  int64_t n = 0;
  int64_t c = 0;
};

void cross_entropy_forward(const CrossEntropyParams& p, Stream stream = nullptr);
void cross_entropy_backward(const CrossEntropyBackwardParams& p, Stream stream = nullptr);
void cross_entropy_forward_reference(const CrossEntropyParams& p);
void cross_entropy_backward_reference(const CrossEntropyBackwardParams& p);

// Rows up to this many classes go one warp per row; more, one block per row.
constexpr int64_t kCrossEntropyWarpRowMaxClasses = 1024;

}  // namespace melgrad::kernels
