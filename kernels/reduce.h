// Reductions along the last dimension of contiguous float32 rows: x: [rows, cols] → y: [rows].
//   sum, mean (sum / cols), max, min (NaN propagates, as in torch.amax/amin).
// cols == 0 gives 0 for sum and NaN for mean; max/min of an empty row is an error.
// The launcher validates (std::invalid_argument) and launches on `stream`; the reference is a
// plain C++ loop with double accumulation on host memory.
#pragma once

#include <cstdint>

#include "kernels/runtime.h"

namespace melgrad::kernels {

enum class ReduceOp : int { sum, mean, max, min };

struct ReduceParams {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  ReduceOp op = ReduceOp::sum;
};

void reduce_last_dim(const ReduceParams& p, Stream stream = nullptr);
void reduce_last_dim_reference(const ReduceParams& p);

// Rows up to this many columns go one warp per row; longer rows one block per row.
constexpr int64_t kReduceWarpRowMaxCols = 1024;

}  // namespace melgrad::kernels
