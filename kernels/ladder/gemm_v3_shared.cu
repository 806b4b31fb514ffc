// Rung 3 of the GEMM ladder (gemm_ladder.h): shared-memory tiles. A block computes a 32x32
// tile of C; k advances in slices of 32: the block's 1024 threads each load one element of
// the A slice [32 rows, 32 k] and one of the B slice [32 k, 32 cols] into shared memory
// (both loads coalesced: lanes walk along a row), wait at a barrier, and each thread then
// reads 32 values of each tile from shared memory. Every global element fetched is used by
// 32 threads, so global traffic falls 32-fold; shared memory now carries the inner loop.
// Elements outside the matrices load as 0 (any m, n, k).
#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"
#include "kernels/ladder/gemm_ladder.h"

namespace melgrad::kernels::ladder {
namespace {

constexpr int kTile = 32;

__global__ void gemm_shared(int m, int n, int k, const float* a, const float* b, float* c) {
  MG_SHARED_2D(float, as, kTile, kTile);  // as[r][i] = A[row0 + r, k0 + i]
  MG_SHARED_2D(float, bs, kTile, kTile);  // bs[i][s] = B[k0 + i, col0 + s]
  const int ty = static_cast<int>(threadIdx.x) / kTile, tx = static_cast<int>(threadIdx.x) % kTile;
  const int row = static_cast<int>(blockIdx.y) * kTile + ty;
  const int col = static_cast<int>(blockIdx.x) * kTile + tx;
  float sum = 0.0f;
  for (int k0 = 0; k0 < k; k0 += kTile) {
    MG_STS(&as[ty][tx], (row < m && k0 + tx < k) ? MG_LDG(&a[row * k + k0 + tx]) : 0.0f);
    MG_STS(&bs[ty][tx], (k0 + ty < k && col < n) ? MG_LDG(&b[(k0 + ty) * n + col]) : 0.0f);
    MG_BARRIER();  // the tiles are complete
    for (int i = 0; i < kTile; ++i) sum += MG_LDS(&as[ty][i]) * MG_LDS(&bs[i][tx]);
    MG_BARRIER();  // everyone is done with them before the next slice overwrites them
  }
  if (row < m && col < n) MG_STG(&c[row * n + col], sum);
}

}  // namespace

void gemm_v3_shared(const LadderGemmParams& p, Stream stream) {
  const dim3 grid(ceil_div(p.n, kTile), ceil_div(p.m, kTile)), block(kTile * kTile);
  MG_LAUNCH(gemm_shared, grid, block, 0, stream)
  (static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k), p.a, p.b, p.c);
  MG_CHECK_LAUNCH("ladder gemm v3 shared");
}

}  // namespace melgrad::kernels::ladder
