// Rung 1 of the softmax ladder (softmax_ladder.h): one thread per row, the CPU loop moved
// to the GPU. Each thread walks its row three times (max, sum of exponentials, write). The
// 32 lanes of a warp own 32 different rows, so at every step their loads are `cols` floats
// apart: 32 sectors per request, and only as many threads as there are rows.
#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/ladder/softmax_ladder.h"

namespace melgrad::kernels::ladder {
namespace {

__global__ void softmax_naive(int rows, int cols, const float* x, float* y) {
  const int row = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (MG_BRANCH(row >= rows)) return;
  const float* xr = x + static_cast<int64_t>(row) * cols;
  float* yr = y + static_cast<int64_t>(row) * cols;
  float m = -INFINITY;
  for (int j = 0; j < cols; ++j) m = fmaxf(m, MG_LDG(&xr[j]));
  float sum = 0.0f;
  for (int j = 0; j < cols; ++j) sum += expf(MG_LDG(&xr[j]) - m);
  for (int j = 0; j < cols; ++j) MG_STG(&yr[j], expf(MG_LDG(&xr[j]) - m) / sum);
}

}  // namespace

void softmax_v1_naive(const LadderSoftmaxParams& p, Stream stream) {
  MG_LAUNCH(softmax_naive, ceil_div(p.rows, 128), 128, 0, stream)
  (static_cast<int>(p.rows), static_cast<int>(p.cols), p.x, p.y);
  MG_CHECK_LAUNCH("ladder softmax v1 naive");
}

}  // namespace melgrad::kernels::ladder
