// Rung 4 of the GEMM ladder (gemm_ladder.h): 1-D register blocking. A block computes a
// 64x64 tile of C with 512 threads, each thread a column strip of TM = 8 results kept in
// registers. Per k step a thread reads one B value from shared memory and reuses it for 8
// multiply-adds against 8 A values: shared-memory reads per result fall from 2 to 1 + 1/8,
// and each block stages 64x8 + 8x64 floats per slice for 4096 results (v3: 2048 for 1024).
// Elements outside the matrices load as 0 (any m, n, k).
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/ladder/ladder_common.cuh"  // stage_slice_element, c_tile_grid, ...

namespace melgrad::kernels::ladder {
namespace {

constexpr int BM = 64, BN = 64, BK = 8, TM = 8;
constexpr int kThreads = BM * BN / TM;  // 512
static_assert(BM * BK == kThreads && BK * BN == kThreads, "one element of each slice per thread");

__global__ void __launch_bounds__(kThreads)
    gemm_blocktile_1d(int m, int n, int k, const float* a, const float* b, float* c) {
  MG_SHARED_2D(float, as, BM, BK);
  MG_SHARED_2D(float, bs, BK, BN);
  const int t = static_cast<int>(threadIdx.x);
  const int row0 = static_cast<int>(blockIdx.y) * BM, col0 = static_cast<int>(blockIdx.x) * BN;
  const int tx = t % BN, ty = t / BN;  // this thread: column tx, rows ty*TM .. ty*TM+TM-1
  const SliceElement mine = slice_element<BN, BK>(t);  // what it loads
  float acc[TM] = {};
  for (int k0 = 0; k0 < k; k0 += BK) {
    stage_slice_element(as, bs, a, b, m, n, k, row0, col0, k0, mine);
    MG_BARRIER();
    for (int i = 0; i < BK; ++i) {
      const float bv = MG_LDS(&bs[i][tx]);  // one shared read, TM uses
      MG_LADDER_UNROLL
      for (int r = 0; r < TM; ++r) acc[r] += MG_LDS(&as[ty * TM + r][i]) * bv;
    }
    MG_BARRIER();
  }
  MG_LADDER_UNROLL
  for (int r = 0; r < TM; ++r) {
    const int row = row0 + ty * TM + r, col = col0 + tx;
    if (row < m && col < n) MG_STG(&c[row * n + col], acc[r]);
  }
}

}  // namespace

void gemm_v4_blocktile_1d(const LadderGemmParams& p, Stream stream) {
  const dim3 grid = c_tile_grid<BM, BN>(p), block(kThreads);
  const auto [m, n, k] = int_sizes(p);
  MG_LAUNCH(gemm_blocktile_1d, grid, block, 0, stream)(m, n, k, p.a, p.b, p.c);
  MG_CHECK_LAUNCH("ladder gemm v4 blocktile_1d");
}

}  // namespace melgrad::kernels::ladder
