// Rung 7 of the GEMM ladder (gemm_ladder.h): warp tiling and double buffering.
//  - Warp tiling: the 64x64 block tile is cut into four 32x32 warp tiles; a warp's 32 lanes
//    cover theirs as 8 rows x 4 columns of lanes, each lane a 4x8 patch (4 rows; two groups
//    of 4 columns 16 apart). The lanes of a warp thus read a compact 32-row x 32-column
//    window of shared memory per k step: 8 distinct float4 of A (broadcast to the 4 lanes of
//    a row) and 8 of B, instead of v6's spread over the whole block tile; and 4+8 register
//    values feed 32 multiply-adds per k step (v6: 4+4 feed 16).
//  - Double buffering: two shared stages. While the block multiplies slice t out of one
//    stage, each thread has already issued the global loads of slice t+1 into registers;
//    it writes them to the other stage after the math, so the memory latency hides behind
//    the multiply-adds and one barrier per slice suffices (v6 needs two).
// 128 threads (4 warps) per block; float4 global and shared accesses as in v6.
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/ladder/ladder_common.cuh"

namespace melgrad::kernels::ladder {
namespace {

constexpr int BM = 64, BN = 64, BK = 16;
constexpr int WM = 32, WN = 32;                 // warp tile
constexpr int TM = 4, TN = 4, WNITER = 2;       // a lane: TM rows x (WNITER groups of TN columns)
constexpr int kWarps = (BM / WM) * (BN / WN);   // 4
constexpr int kThreads = kWarps * 32;           // 128
constexpr int kLaneCols = WN / WNITER / TN;     // 4 lanes across a 16-column sub-tile
constexpr int kUnits = BM * BK / 4 / kThreads;  // float4 units of each slice per thread: 2
static_assert((WM / TM) * kLaneCols == 32, "a warp's lanes tile its warp tile exactly");
static_assert(BK * BN / 4 / kThreads == kUnits, "A and B slices split alike");
constexpr int kStageFloats = BK * BM + BK * BN;

template <bool kVec>
struct SliceRegs {  // one thread's float4 units of a slice of A and of B, in flight
  F4 a[kUnits], b[kUnits];

  __device__ void load(const float* ga, const float* gb, int m, int n, int k, int row0, int col0,
                       int k0, int t) {
    MG_LADDER_UNROLL
    for (int u = 0; u < kUnits; ++u) {
      const int e = t + u * kThreads;
      a[u] = load_row_quad<kVec>(ga, m, k, row0 + e / (BK / 4), k0 + e % (BK / 4) * 4);
      b[u] = load_row_quad<kVec>(gb, k, n, k0 + e / (BN / 4), col0 + e % (BN / 4) * 4);
    }
  }
  __device__ void store(float* stage, int t) const {
    float* const as = stage;            // as[i * BM + r]: A transposed
    float* const bs = stage + BK * BM;  // bs[i * BN + s]
    MG_LADDER_UNROLL
    for (int u = 0; u < kUnits; ++u) {
      const int e = t + u * kThreads;
      const int r = e / (BK / 4), i = e % (BK / 4) * 4;
      MG_LADDER_UNROLL
      for (int q = 0; q < 4; ++q) MG_STS(&as[(i + q) * BM + r], a[u].v[q]);
      store_f4<Mem::shared>(bs + e / (BN / 4) * BN + e % (BN / 4) * 4, b[u]);
    }
  }
};

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    gemm_warptile(int m, int n, int k, const float* a, const float* b, float* c) {
  MG_SHARED_DYN(float, smem);  // two stages of {as [BK][BM], bs [BK][BN]}
  const int t = static_cast<int>(threadIdx.x), warp = t / 32, lane = t % 32;
  const int row0 = static_cast<int>(blockIdx.y) * BM, col0 = static_cast<int>(blockIdx.x) * BN;
  // This lane's patch inside the block tile: rows r0 .. r0+TM-1, columns c0 + j*WN/WNITER + s.
  const int r0 = warp / (BN / WN) * WM + lane / kLaneCols * TM;
  const int c0 = warp % (BN / WN) * WN + lane % kLaneCols * TN;
  float acc[TM][WNITER * TN] = {};
  SliceRegs<kVec> regs;
  regs.load(a, b, m, n, k, row0, col0, 0, t);
  regs.store(smem, t);
  MG_BARRIER();
  const int slices = (k + BK - 1) / BK;
  for (int s = 0; s < slices; ++s) {
    const float* stage = smem + (s % 2) * kStageFloats;
    const bool more = s + 1 < slices;
    if (more) regs.load(a, b, m, n, k, row0, col0, (s + 1) * BK, t);  // in flight during the math
    for (int i = 0; i < BK; ++i) {
      const F4 av = load_f4<Mem::shared>(stage + i * BM + r0);
      F4 bv[WNITER];
      MG_LADDER_UNROLL
      for (int j = 0; j < WNITER; ++j)
        bv[j] = load_f4<Mem::shared>(stage + BK * BM + i * BN + c0 + j * (WN / WNITER));
      MG_LADDER_UNROLL
      for (int r = 0; r < TM; ++r) MG_LADDER_UNROLL
      for (int j = 0; j < WNITER; ++j) MG_LADDER_UNROLL
      for (int q = 0; q < TN; ++q) acc[r][j * TN + q] += av.v[r] * bv[j].v[q];
    }
    // The other stage was last read in slice s-1, before the barrier that ended it.
    if (more) regs.store(smem + ((s + 1) % 2) * kStageFloats, t);
    MG_BARRIER();
  }
  MG_LADDER_UNROLL
  for (int r = 0; r < TM; ++r) MG_LADDER_UNROLL
  for (int j = 0; j < WNITER; ++j)
    store_row_quad<kVec>(
        c, m, n, row0 + r0 + r, col0 + c0 + j * (WN / WNITER),
        F4{{acc[r][j * TN], acc[r][j * TN + 1], acc[r][j * TN + 2], acc[r][j * TN + 3]}});
}

}  // namespace

void gemm_v7_warptile(const LadderGemmParams& p, Stream stream) {
  const dim3 grid = c_tile_grid<BM, BN>(p), block(kThreads);
  const std::size_t smem = 2 * kStageFloats * sizeof(float);
  const auto [m, n, k] = int_sizes(p);
  if (vec4_friendly(p.a, p.b, p.c, p.k, p.n))
    MG_LAUNCH(gemm_warptile<true>, grid, block, smem, stream)(m, n, k, p.a, p.b, p.c);
  else
    MG_LAUNCH(gemm_warptile<false>, grid, block, smem, stream)(m, n, k, p.a, p.b, p.c);
  MG_CHECK_LAUNCH("ladder gemm v7 warptile");
}

}  // namespace melgrad::kernels::ladder
