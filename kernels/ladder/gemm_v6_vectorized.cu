// Rung 6 of the GEMM ladder (gemm_ladder.h): v5's 4x4 register blocking with 16-byte
// accesses. Global loads are float4 (one instruction moves 4 floats; a warp's request is
// 512 contiguous bytes), A's slice is stored transposed in shared memory (as[k][row]) so
// that a thread's 4 A values are one float4 read, like its 4 B values; C is stored as
// float4. BK grows to 16 so each of the 256 threads loads exactly one float4 of each slice.
// float4 needs k and n multiples of 4 and aligned bases; otherwise (and in edge tiles) the
// same kernel takes scalar loads (template flag kVec).
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/ladder/ladder_common.cuh"

namespace melgrad::kernels::ladder {
namespace {

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4;
constexpr int kThreads = (BM / TM) * (BN / TN);  // 256
static_assert(BM * BK / 4 == kThreads && BK * BN / 4 == kThreads, "one float4 per slice each");
constexpr int kSmemFloats = BK * BM + BK * BN;

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    gemm_vectorized(int m, int n, int k, const float* a, const float* b, float* c) {
  MG_SHARED_DYN(float, smem);
  float* const as = smem;            // as[i * BM + r] = A[row0 + r, k0 + i]   (transposed)
  float* const bs = smem + BK * BM;  // bs[i * BN + s] = B[k0 + i, col0 + s]
  const int t = static_cast<int>(threadIdx.x);
  const int row0 = static_cast<int>(blockIdx.y) * BM, col0 = static_cast<int>(blockIdx.x) * BN;
  const int tx = t % (BN / TN), ty = t / (BN / TN);
  const int a_r = t / (BK / 4), a_i = t % (BK / 4) * 4;  // A unit: 4 k of one row
  const int b_i = t / (BN / 4), b_s = t % (BN / 4) * 4;  // B unit: 4 columns of one k
  float acc[TM][TN] = {};
  for (int k0 = 0; k0 < k; k0 += BK) {
    const F4 qa = load_row_quad<kVec>(a, m, k, row0 + a_r, k0 + a_i);
    MG_LADDER_UNROLL
    for (int e = 0; e < 4; ++e) MG_STS(&as[(a_i + e) * BM + a_r], qa.v[e]);
    store_f4<Mem::shared>(bs + b_i * BN + b_s, load_row_quad<kVec>(b, k, n, k0 + b_i, col0 + b_s));
    MG_BARRIER();
    for (int i = 0; i < BK; ++i) {
      const F4 av = load_f4<Mem::shared>(as + i * BM + ty * TM);
      const F4 bv = load_f4<Mem::shared>(bs + i * BN + tx * TN);
      MG_LADDER_UNROLL
      for (int r = 0; r < TM; ++r) MG_LADDER_UNROLL
      for (int s = 0; s < TN; ++s) acc[r][s] += av.v[r] * bv.v[s];
    }
    MG_BARRIER();
  }
  MG_LADDER_UNROLL
  for (int r = 0; r < TM; ++r)
    store_row_quad<kVec>(c, m, n, row0 + ty * TM + r, col0 + tx * TN,
                         F4{{acc[r][0], acc[r][1], acc[r][2], acc[r][3]}});
}

}  // namespace

void gemm_v6_vectorized(const LadderGemmParams& p, Stream stream) {
  const dim3 grid = c_tile_grid<BM, BN>(p), block(kThreads);
  const std::size_t smem = kSmemFloats * sizeof(float);
  const auto [m, n, k] = int_sizes(p);
  if (vec4_friendly(p.a, p.b, p.c, p.k, p.n))
    MG_LAUNCH(gemm_vectorized<true>, grid, block, smem, stream)(m, n, k, p.a, p.b, p.c);
  else
    MG_LAUNCH(gemm_vectorized<false>, grid, block, smem, stream)(m, n, k, p.a, p.b, p.c);
  MG_CHECK_LAUNCH("ladder gemm v6 vectorized");
}

}  // namespace melgrad::kernels::ladder
