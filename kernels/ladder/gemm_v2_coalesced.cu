// Rung 2 of the GEMM ladder (gemm_ladder.h): the naive loop with the thread-to-element map
// turned around. A block is 1024 threads in one dimension; thread t computes row t / 32,
// column t % 32 of the block's 32x32 tile, so the 32 lanes of a warp share a row and walk
// along it: their loads of B[i, col..col+31] and stores of C fall in one 128-byte line
// (coalesced: 4 sectors of 32 bytes per request instead of 32), and A[row, i] is one
// address for the whole warp. Nothing else changes.
#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"
#include "kernels/ladder/gemm_ladder.h"

namespace melgrad::kernels::ladder {
namespace {

constexpr int kTile = 32;

__global__ void gemm_coalesced(int m, int n, int k, const float* a, const float* b, float* c) {
  const int row = static_cast<int>(blockIdx.y) * kTile + static_cast<int>(threadIdx.x) / kTile;
  const int col = static_cast<int>(blockIdx.x) * kTile + static_cast<int>(threadIdx.x) % kTile;
  if (MG_BRANCH(row >= m || col >= n)) return;
  float sum = 0.0f;
  for (int i = 0; i < k; ++i) sum += MG_LDG(&a[row * k + i]) * MG_LDG(&b[i * n + col]);
  MG_STG(&c[row * n + col], sum);
}

}  // namespace

void gemm_v2_coalesced(const LadderGemmParams& p, Stream stream) {
  const dim3 grid(ceil_div(p.n, kTile), ceil_div(p.m, kTile)), block(kTile * kTile);
  MG_LAUNCH(gemm_coalesced, grid, block, 0, stream)
  (static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k), p.a, p.b, p.c);
  MG_CHECK_LAUNCH("ladder gemm v2 coalesced");
}

}  // namespace melgrad::kernels::ladder
