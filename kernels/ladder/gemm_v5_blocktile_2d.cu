// Rung 5 of the GEMM ladder (gemm_ladder.h): 2-D register blocking. A block computes a
// 64x64 tile of C with 256 threads, each thread a 4x4 patch (TM x TN) held in registers.
// Per k step a thread loads 4 A values and 4 B values from shared memory into registers
// and does 16 multiply-adds with them (an outer product): 8 shared reads for 16 results,
// where v4 needed 9 for 8. Each thread now loads two elements of each slice.
// Elements outside the matrices load as 0 (any m, n, k).
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/ladder/ladder_common.cuh"  // stage_slice_element, c_tile_grid, ...

namespace melgrad::kernels::ladder {
namespace {

constexpr int BM = 64, BN = 64, BK = 8, TM = 4, TN = 4;
constexpr int kThreads = (BM / TM) * (BN / TN);  // 256
constexpr int kLoads = BM * BK / kThreads;       // elements of each slice per thread: 2
static_assert(BM * BK % kThreads == 0 && BK * BN == BM * BK, "whole slices per thread");

__global__ void __launch_bounds__(kThreads)
    gemm_blocktile_2d(int m, int n, int k, const float* a, const float* b, float* c) {
  MG_SHARED_2D(float, as, BM, BK);
  MG_SHARED_2D(float, bs, BK, BN);
  const int t = static_cast<int>(threadIdx.x);
  const int row0 = static_cast<int>(blockIdx.y) * BM, col0 = static_cast<int>(blockIdx.x) * BN;
  const int tx = t % (BN / TN), ty = t / (BN / TN);  // patch rows ty*TM.., columns tx*TN..
  float acc[TM][TN] = {};
  float av[TM], bv[TN];
  for (int k0 = 0; k0 < k; k0 += BK) {
    MG_LADDER_UNROLL
    for (int l = 0; l < kLoads; ++l)
      stage_slice_element(as, bs, a, b, m, n, k, row0, col0, k0,
                          slice_element<BN, BK>(t + l * kThreads));
    MG_BARRIER();
    for (int i = 0; i < BK; ++i) {
      MG_LADDER_UNROLL
      for (int r = 0; r < TM; ++r) av[r] = MG_LDS(&as[ty * TM + r][i]);
      MG_LADDER_UNROLL
      for (int s = 0; s < TN; ++s) bv[s] = MG_LDS(&bs[i][tx * TN + s]);
      MG_LADDER_UNROLL
      for (int r = 0; r < TM; ++r) MG_LADDER_UNROLL
      for (int s = 0; s < TN; ++s) acc[r][s] += av[r] * bv[s];
    }
    MG_BARRIER();
  }
  MG_LADDER_UNROLL
  for (int r = 0; r < TM; ++r) MG_LADDER_UNROLL
  for (int s = 0; s < TN; ++s) {
    const int row = row0 + ty * TM + r, col = col0 + tx * TN + s;
    if (row < m && col < n) MG_STG(&c[row * n + col], acc[r][s]);
  }
}

}  // namespace

void gemm_v5_blocktile_2d(const LadderGemmParams& p, Stream stream) {
  const dim3 grid = c_tile_grid<BM, BN>(p), block(kThreads);
  const auto [m, n, k] = int_sizes(p);
  MG_LAUNCH(gemm_blocktile_2d, grid, block, 0, stream)(m, n, k, p.a, p.b, p.c);
  MG_CHECK_LAUNCH("ladder gemm v5 blocktile_2d");
}

}  // namespace melgrad::kernels::ladder
