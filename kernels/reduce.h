// Reductions along the last dimension of contiguous float32 rows: x: [rows, cols] → y: [rows].
//   sum, mean (sum / cols), max, min (NaN propagates, as in torch.amax/amin).
// cols == 0 gives 0 for sum and NaN for mean; max/min of an empty row is an error.
// reduce_middle_dim: the middle dimension of a contiguous x: [outer, r, inner] → y: [outer, inner]
// (same ops and empty-dimension rules), without moving the reduced dimension last first.
// The launchers validate (std::invalid_argument) and launch on `stream`; the references are
// plain C++ loops with double accumulation on host memory.
#pragma once

#include <cstdint>

#include "common/elementwise_ops.h"
#include "kernels/runtime.h"

namespace melgrad::kernels {

using melgrad::ReduceOp;  // common/elementwise_ops.h: sum, mean, max, min

struct ReduceParams {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  ReduceOp op = ReduceOp::sum;
};

void reduce_last_dim(const ReduceParams& p, Stream stream = nullptr);
void reduce_last_dim_reference(const ReduceParams& p);

struct ReduceMiddleParams {
  const float* x = nullptr;  // [outer, r, inner], contiguous
  float* y = nullptr;        // [outer, inner], contiguous
  int64_t outer = 0;
  int64_t r = 0;  // the reduced dimension
  int64_t inner = 0;
  ReduceOp op = ReduceOp::sum;
};

void reduce_middle_dim(const ReduceMiddleParams& p, Stream stream = nullptr);
void reduce_middle_dim_reference(const ReduceMiddleParams& p);
// What both references compute for one output: op over n values x[0], x[stride], ...,
// accumulated in double (NaN propagates; mean of none is NaN).
float reduce_reference(const float* x, int64_t n, int64_t stride, ReduceOp op);

// Rows up to this many columns go one warp per row; longer rows one block per row.
constexpr int64_t kReduceWarpRowMaxCols = 1024;

}  // namespace melgrad::kernels
