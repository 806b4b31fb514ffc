// Reduction over the middle dimension of a contiguous x: [outer, r, inner] → y: [outer, inner]
// (sum, mean, max, min; see reduce.h), with the CPU reference. Used for sums over a batch
// dimension (a bias gradient: [N, C] over N) without first copying the reduced dim last.
// reduce_columns: a block of 32 x S threads (S = kFewSlices or kManySlices) owns 32
// neighbouring columns of one outer index; thread (tx, ty) folds rows ty, ty + S, ... of
// column tx, so every warp reads 32 consecutive floats per row (coalesced). The S partial
// results of a column meet in shared memory and the threads of row 0 fold them in order.
// Few blocks (small outer * inner, e.g. [32, 256] over dim 0) get S = 32 so the r loop is
// split over more threads; many blocks keep S = 8.
#include <cmath>
#include <string>

#include "kernels/block_reduce.cuh"
#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"
#include "kernels/reduce.h"

namespace melgrad::kernels {
namespace {

using device::kWarpSize;

constexpr int kFewSlices = 8;
constexpr int kManySlices = 32;

template <ReduceOp kOp>
__device__ float fold(float acc, float v) {
  if constexpr (kOp == ReduceOp::max) return device::nan_max(acc, v);
  if constexpr (kOp == ReduceOp::min) return device::nan_min(acc, v);
  return acc + v;
}

template <ReduceOp kOp>
__device__ float identity() {
  return kOp == ReduceOp::max ? -INFINITY : kOp == ReduceOp::min ? INFINITY : 0.0f;
}

template <ReduceOp kOp>
__global__ void __launch_bounds__(kWarpSize* kManySlices)
    reduce_columns(const float* x, float* y, int64_t r, int64_t inner, int64_t col_tiles) {
  MG_SHARED_2D(float, partials, kManySlices, kWarpSize);
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int slices = static_cast<int>(blockDim.y);
  const int64_t o = blockIdx.x / col_tiles;
  const int64_t col = (blockIdx.x % col_tiles) * kWarpSize + tx;
  float acc = identity<kOp>();
  if (col < inner) {
    const float* xc = x + o * r * inner + col;
    for (int64_t i = ty; i < r; i += slices) acc = fold<kOp>(acc, xc[i * inner]);
  }
  partials[ty][tx] = acc;
  __syncthreads();
  if (ty != 0 || col >= inner) return;
  for (int s = 1; s < slices; ++s) acc = fold<kOp>(acc, partials[s][tx]);
  if (kOp == ReduceOp::mean) acc /= static_cast<float>(r);
  y[o * inner + col] = acc;
}

template <ReduceOp kOp>
void launch(const ReduceMiddleParams& p, int64_t col_tiles, Stream stream) {
  const int64_t blocks = p.outer * col_tiles;
  const int slices =
      blocks >= static_cast<int64_t>(device_sm_count()) * 8 || p.r <= 64 ? kFewSlices : kManySlices;
  MG_LAUNCH(reduce_columns<kOp>, dim3(static_cast<unsigned>(blocks)), dim3(kWarpSize, slices), 0,
            stream)
  (p.x, p.y, p.r, p.inner, col_tiles);
}

}  // namespace

void reduce_middle_dim(const ReduceMiddleParams& p, Stream stream) {
  const char* fn = "reduce_middle_dim";
  require_non_negative(fn, "outer", p.outer);
  require_non_negative(fn, "r", p.r);
  require_non_negative(fn, "inner", p.inner);
  const int64_t col_tiles = ceil_div(p.inner, kWarpSize);
  require_grid_x(fn, p.outer * col_tiles);
  if (p.outer == 0 || p.inner == 0) return;
  if (p.r == 0 && (p.op == ReduceOp::max || p.op == ReduceOp::min)) {
    invalid_params(fn, "max/min over an empty dimension (r == 0)");
  }
  if (p.r > 0) require_pointer(fn, "x", p.x);
  require_pointer(fn, "y", p.y);
  switch (p.op) {
    case ReduceOp::sum:
      launch<ReduceOp::sum>(p, col_tiles, stream);
      break;
    case ReduceOp::mean:
      launch<ReduceOp::mean>(p, col_tiles, stream);
      break;
    case ReduceOp::max:
      launch<ReduceOp::max>(p, col_tiles, stream);
      break;
    case ReduceOp::min:
      launch<ReduceOp::min>(p, col_tiles, stream);
      break;
    default:
      invalid_params(fn, "unknown op " + std::to_string(static_cast<int>(p.op)));
  }
  MG_CHECK_LAUNCH(fn);
}

void reduce_middle_dim_reference(const ReduceMiddleParams& p) {
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t c = 0; c < p.inner; ++c) {
      const float* column = p.r > 0 ? p.x + o * p.r * p.inner + c : p.x;  // x may be null if r = 0
      p.y[o * p.inner + c] = reduce_reference(column, p.r, p.inner, p.op);
    }
  }
}

}  // namespace melgrad::kernels
