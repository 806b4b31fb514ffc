// The implicit-GEMM engine shared by the convolution kernels (conv.cu, conv_backward.cu):
// one block computes a BM x BN tile of C[M, N] = A[M, K] B[K, N] over a range of K, where
// A and B are never stored: a Problem gathers their elements from the convolution's
// tensors (weights, the image through the kernel window, dy through the stride) as tiles
// are staged in shared memory, and stores each result through its own epilogue.
//
// A Problem (passed by value to the kernel) provides
//   int M, N, K;                                   the GEMM's sizes
//   struct Row; Row row(int m) const;              per-row context (m may be >= M: invalid)
//   float a(const Row&, int k) const;              A[m, k], 0 for an invalid row
//   struct Col; Col col(int n) const;              per-column context (n >= N: invalid)
//   float b(int k, const Col&) const;              B[k, n], 0 for an invalid column
//   void store(int m, int n, float v, int split) const;   m < M, n < N
//   static constexpr bool kAKFastest, kBKFastest;  load order: consecutive threads take
//                                                  consecutive k (true) or m / n (false),
//                                                  whichever is contiguous in memory.
//   static constexpr bool kSharedK;                true (needs both k-fastest): all of a
//     thread's slots sit at one k, so the Problem decomposes k once per tile:
//     struct KCtx; KCtx kctx(int k) const; float a(const Row&, const KCtx&) const;
//     float b(const KCtx&, const Col&) const;  replace a(row, k) and b(k, col).
// Every thread loads fixed (m or n) slots of each tile, so Row / Col contexts (divisions
// by the output width, base pointers) are computed once per block, not per element. The
// next K tile is fetched into registers while the current one is multiplied.
// Device code only; include after kernels/emu/cuda_compat.h.
#pragma once

#include "kernels/emu/cuda_compat.h"

// `#pragma unroll` for nvcc; g++ (the emulator build) unrolls by itself and would warn.
#if MG_EMULATED
#define MG_UNROLL
#else
#define MG_UNROLL _Pragma("unroll")
#endif

namespace melgrad::kernels::conv_detail {

template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct Tile {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int kThreads = (BM / TM) * (BN / TN);
  static constexpr int kASlots = BM * BK / kThreads;
  static constexpr int kBSlots = BK * BN / kThreads;
  static constexpr int kPad = 4;  // shared rows of BM + 4 / BN + 4 floats: fewer bank conflicts
  static_assert(BM % TM == 0 && BN % TN == 0, "tile not divisible by the thread tile");
  static_assert((BM * BK) % kThreads == 0 && (BK * BN) % kThreads == 0, "uneven tile loads");
  static_assert(kThreads % BK == 0, "a thread's k-fastest slots must share one k offset");
};
// 64 x 64 x 16, 256 threads of 4 x 4: layers with at least 32 output rows.
using TileLarge = Tile<64, 64, 16, 4, 4>;
// 16 x 128 x 16, 128 threads of 4 x 4: few output rows (4 or 16 channels).
using TileSmall = Tile<16, 128, 16, 4, 4>;

// Geometry of the kernel window: runtime values, or the study's 3x3 / stride 1 / padding 1
// as compile-time constants (its divisions by 9 and 3 become multiplications).
struct WindowRuntime {
  int kh, kw, sh, sw, ph, pw;
};
struct Window3x3 {
  static constexpr int kh = 3, kw = 3, sh = 1, sw = 1, ph = 1, pw = 1;
};

template <class Tl, class Problem>
__device__ void igemm_block(const Problem& pb, int m0, int n0, int k_begin, int k_end, int split) {
  MG_SHARED_2D(float, As, Tl::BK, Tl::BM + Tl::kPad);
  MG_SHARED_2D(float, Bs, Tl::BK, Tl::BN + Tl::kPad);
  const int tid = static_cast<int>(threadIdx.x);

  // Fixed load slots of this thread: (k offset, row) for A, (k offset, column) for B. When
  // n varies slowest across the threads' B slots and the block spans whole tile rows, all
  // of a thread's B slots share one column: one context instead of kBSlots (registers).
  constexpr int kBCols = !Problem::kBKFastest && Tl::kThreads % Tl::BN == 0 ? 1 : Tl::kBSlots;
  typename Problem::Row rows[Tl::kASlots];
  typename Problem::Col cols[kBCols];
  int a_k[Tl::kASlots], a_m[Tl::kASlots], b_k[Tl::kBSlots], b_n[Tl::kBSlots];
  MG_UNROLL
  for (int s = 0; s < Tl::kASlots; ++s) {
    const int idx = tid + s * Tl::kThreads;
    a_k[s] = Problem::kAKFastest ? idx % Tl::BK : idx / Tl::BM;
    a_m[s] = Problem::kAKFastest ? idx / Tl::BK : idx % Tl::BM;
    rows[s] = pb.row(m0 + a_m[s]);
  }
  MG_UNROLL
  for (int s = 0; s < Tl::kBSlots; ++s) {
    const int idx = tid + s * Tl::kThreads;
    b_k[s] = Problem::kBKFastest ? idx % Tl::BK : idx / Tl::BN;
    b_n[s] = Problem::kBKFastest ? idx / Tl::BK : idx % Tl::BN;
  }
  MG_UNROLL
  for (int s = 0; s < kBCols; ++s) cols[s] = pb.col(n0 + b_n[s]);

  float ra[Tl::kASlots], rb[Tl::kBSlots];
  auto fetch = [&](int kt) {
    if constexpr (Problem::kSharedK) {
      // Every slot of this thread is at k = kt + tid % BK: decompose k once per tile.
      const int k = kt + tid % Tl::BK;
      const bool inside = k < k_end;
      const typename Problem::KCtx kc = pb.kctx(inside ? k : k_begin);
      MG_UNROLL
      for (int s = 0; s < Tl::kASlots; ++s) ra[s] = inside ? pb.a(rows[s], kc) : 0.0f;
      MG_UNROLL
      for (int s = 0; s < Tl::kBSlots; ++s) rb[s] = inside ? pb.b(kc, cols[s]) : 0.0f;
    } else {
      MG_UNROLL
      for (int s = 0; s < Tl::kASlots; ++s) {
        const int k = kt + a_k[s];
        ra[s] = k < k_end ? pb.a(rows[s], k) : 0.0f;
      }
      MG_UNROLL
      for (int s = 0; s < Tl::kBSlots; ++s) {
        const int k = kt + b_k[s];
        rb[s] = k < k_end ? pb.b(k, cols[kBCols == 1 ? 0 : s]) : 0.0f;
      }
    }
  };

  constexpr int kRowThreads = Tl::BN / Tl::TN;  // threads along a tile row
  const int tm = tid / kRowThreads, tn = tid % kRowThreads;
  float acc[Tl::TM][Tl::TN];
  MG_UNROLL
  for (int i = 0; i < Tl::TM; ++i) {
    MG_UNROLL
    for (int j = 0; j < Tl::TN; ++j) acc[i][j] = 0.0f;
  }

  if (k_begin < k_end) fetch(k_begin);
  for (int kt = k_begin; kt < k_end; kt += Tl::BK) {
    MG_UNROLL
    for (int s = 0; s < Tl::kASlots; ++s) As[a_k[s]][a_m[s]] = ra[s];
    MG_UNROLL
    for (int s = 0; s < Tl::kBSlots; ++s) Bs[b_k[s]][b_n[s]] = rb[s];
    __syncthreads();
    if (kt + Tl::BK < k_end) fetch(kt + Tl::BK);  // in flight while this tile is multiplied
    MG_UNROLL
    for (int kk = 0; kk < Tl::BK; ++kk) {
      float av[Tl::TM], bv[Tl::TN];
      MG_UNROLL
      for (int i = 0; i < Tl::TM; ++i) av[i] = As[kk][tm * Tl::TM + i];
      MG_UNROLL
      for (int j = 0; j < Tl::TN; ++j) bv[j] = Bs[kk][tn + j * kRowThreads];
      MG_UNROLL
      for (int i = 0; i < Tl::TM; ++i) {
        MG_UNROLL
        for (int j = 0; j < Tl::TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
    }
    __syncthreads();
  }

  // Columns tn + j * kRowThreads: consecutive threads store consecutive n (coalesced).
  MG_UNROLL
  for (int i = 0; i < Tl::TM; ++i) {
    const int m = m0 + tm * Tl::TM + i;
    if (m >= pb.M) continue;
    MG_UNROLL
    for (int j = 0; j < Tl::TN; ++j) {
      const int n = n0 + tn + j * kRowThreads;
      if (n < pb.N) pb.store(m, n, acc[i][j], split);
    }
  }
}

// grid (ceil(N / BN), ceil(M / BM), splits); split z covers K range [z k_chunk, (z+1) k_chunk).
template <class Tl, class Problem>
__global__ void __launch_bounds__(Tl::kThreads) igemm_kernel(Problem pb, int k_chunk) {
  const int split = static_cast<int>(blockIdx.z);
  const int k_begin = split * k_chunk;
  const int k_end = min(pb.K, k_begin + k_chunk);
  igemm_block<Tl>(pb, static_cast<int>(blockIdx.y) * Tl::BM, static_cast<int>(blockIdx.x) * Tl::BN,
                  k_begin, k_end, split);
}

}  // namespace melgrad::kernels::conv_detail
