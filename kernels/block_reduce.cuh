// Device helpers shared by the row-reduction kernels (reduce.cu, softmax.cu, cross_entropy.cu):
// NaN-propagating max/min, warp reductions by __shfl_xor_sync (every lane gets the result), a
// block reduction through one 32-float shared array (every thread gets the result), and the two
// "row groups" (a warp or a block working on one row together).
// Include after kernels/emu/cuda_compat.h; device code only.
#pragma once

#include "kernels/emu/cuda_compat.h"

namespace melgrad::kernels::device {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarpSize = 32;

// max/min that propagate NaN (like torch.max), unlike fmaxf/fminf.
__host__ __device__ inline float nan_max(float a, float b) { return (a > b || a != a) ? a : b; }
__host__ __device__ inline float nan_min(float a, float b) { return (a < b || a != a) ? a : b; }

struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return nan_max(a, b); }
};
struct MinOp {
  __device__ float operator()(float a, float b) const { return nan_min(a, b); }
};

// Butterfly reduction over the 32 lanes of a full warp; every lane returns the result.
template <class Op>
__device__ float warp_reduce(float v, Op op) {
  for (int m = kWarpSize / 2; m > 0; m /= 2) v = op(v, __shfl_xor_sync(kFullMask, v, m));
  return v;
}

// Reduction over the whole block; every thread returns the result. Requirements: blockDim.x
// a multiple of 32 (full warps), blockDim.y == blockDim.z == 1, and every thread of the block
// calls it (it has two __syncthreads). The trailing barrier lets callers reduce twice in a
// row through the same shared array.
template <class Op>
__device__ float block_reduce(float v, Op op, float identity) {
  MG_SHARED(float, partials, kWarpSize);
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int warps = static_cast<int>(blockDim.x) / kWarpSize;
  v = warp_reduce(v, op);
  if (lane == 0) partials[warp] = v;
  __syncthreads();
  // Every warp reduces the per-warp partials, so no broadcast step is needed.
  v = warp_reduce(lane < warps ? partials[lane] : identity, op);
  __syncthreads();
  return v;
}

// The threads that share a row: one warp (rank = lane) ...
struct WarpGroup {
  int rank;
  template <class Op>
  __device__ float reduce(float v, Op op, float /*identity*/) const {
    return warp_reduce(v, op);
  }
  __host__ __device__ static constexpr int size() { return kWarpSize; }
};
// ... or the whole block (rank = threadIdx.x, count = blockDim.x).
struct BlockGroup {
  int rank;
  int count;
  template <class Op>
  __device__ float reduce(float v, Op op, float identity) const {
    return block_reduce(v, op, identity);
  }
  __device__ int size() const { return count; }
};

// The calling thread's warp as a row group.
__device__ __forceinline__ WarpGroup this_warp() {
  return {static_cast<int>(threadIdx.x) % kWarpSize};
}

// The row a warp-per-row kernel's warp works on.
__device__ inline int64_t warp_row() {
  return static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
}

}  // namespace melgrad::kernels::device
