// Rung 1 of the GEMM ladder (gemm_ladder.h): one thread per element of C, the textbook
// loop. Thread (x, y) of a 32x32 block computes C[row, col] with row = the x index: the 32
// lanes of a warp (consecutive x) sit in 32 different rows, so each of their loads of A
// is 32 separate 128-byte lines (stride k), and their stores of C are 32 lines too (stride
// n). B[i, col] is the same address for the whole warp (a broadcast).
#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"
#include "kernels/ladder/gemm_ladder.h"

namespace melgrad::kernels::ladder {
namespace {

__global__ void gemm_naive(int m, int n, int k, const float* a, const float* b, float* c) {
  const int row = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int col = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (MG_BRANCH(row >= m || col >= n)) return;
  float sum = 0.0f;
  for (int i = 0; i < k; ++i) sum += MG_LDG(&a[row * k + i]) * MG_LDG(&b[i * n + col]);
  MG_STG(&c[row * n + col], sum);
}

}  // namespace

void gemm_v1_naive(const LadderGemmParams& p, Stream stream) {
  const dim3 grid(ceil_div(p.m, 32), ceil_div(p.n, 32)), block(32, 32);
  MG_LAUNCH(gemm_naive, grid, block, 0, stream)
  (static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k), p.a, p.b, p.c);
  MG_CHECK_LAUNCH("ladder gemm v1 naive");
}

}  // namespace melgrad::kernels::ladder
