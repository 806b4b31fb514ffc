// Rung 3 of the softmax ladder (softmax_ladder.h): one warp per row (4 rows per block of
// 128 threads). The 32 lanes fold the columns j = lane, lane + 32, ... (coalesced), then
// combine their partials with __shfl_xor_sync: in 5 butterfly steps every lane holds the
// warp's result. Registers only: no shared memory, no barrier, no divergence. Rows longer
// than a few thousand columns would want more than one warp each (rung 2's shape with
// rung 3's tree); the study's rows (classes, time steps) are short.
#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/ladder/softmax_ladder.h"

namespace melgrad::kernels::ladder {
namespace {

constexpr int kWarps = 4;

__device__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}
__device__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__global__ void __launch_bounds__(kWarps * 32)
    softmax_warp_shuffle(int rows, int cols, const float* x, float* y) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int row = static_cast<int>(blockIdx.x) * kWarps + static_cast<int>(threadIdx.x) / 32;
  if (MG_BRANCH(row >= rows)) return;  // whole warps leave together
  const float* xr = x + static_cast<int64_t>(row) * cols;
  float* yr = y + static_cast<int64_t>(row) * cols;
  float m = -INFINITY;
  for (int j = lane; j < cols; j += 32) m = fmaxf(m, MG_LDG(&xr[j]));
  m = warp_max(m);
  float sum = 0.0f;
  for (int j = lane; j < cols; j += 32) sum += expf(MG_LDG(&xr[j]) - m);
  sum = warp_sum(sum);
  for (int j = lane; j < cols; j += 32) MG_STG(&yr[j], expf(MG_LDG(&xr[j]) - m) / sum);
}

}  // namespace

void softmax_v3_warp_shuffle(const LadderSoftmaxParams& p, Stream stream) {
  MG_LAUNCH(softmax_warp_shuffle, ceil_div(p.rows, kWarps), kWarps * 32, 0, stream)
  (static_cast<int>(p.rows), static_cast<int>(p.cols), p.x, p.y);
  MG_CHECK_LAUNCH("ladder softmax v3 warp_shuffle");
}

}  // namespace melgrad::kernels::ladder
