// Softmax and log-softmax over the last dimension, forward and backward, for contiguous
// float32 rows: x, y, dy, dx: [rows, cols]. In place (y == x, dx == dy) is allowed.
//   softmax:      y = exp(x - max) / sum(exp(x - max))
//   log-softmax:  y = x - max - log(sum(exp(x - max)))
//   backward:     softmax dx = y * (dy - sum(dy * y)); log-softmax dx = dy - exp(y) * sum(dy)
// A row with a NaN gives NaN everywhere; a row of -inf gives NaN (0/0), as in PyTorch.
// Launchers validate their parameters (std::invalid_argument) and launch on `stream`;
// *_reference are plain C++ loops (double accumulation) on host memory, for tests.
#pragma once

#include <cstdint>

#include "kernels/runtime.h"

namespace melgrad::kernels {

struct SoftmaxParams {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  bool log = false;  // log-softmax
};

struct SoftmaxBackwardParams {
  const float* y = nullptr;   // the forward's output (log-probabilities when log)
  const float* dy = nullptr;  // gradient w.r.t. y
  float* dx = nullptr;        // gradient w.r.t. x
  int64_t rows = 0;
  int64_t cols = 0;
  bool log = false;
};

void softmax_forward(const SoftmaxParams& p, Stream stream = nullptr);
void softmax_backward(const SoftmaxBackwardParams& p, Stream stream = nullptr);
void softmax_forward_reference(const SoftmaxParams& p);
void softmax_backward_reference(const SoftmaxBackwardParams& p);

// Rows up to this many columns go one warp per row; longer rows one block per row.
constexpr int64_t kSoftmaxWarpRowMaxCols = 1024;

}  // namespace melgrad::kernels
