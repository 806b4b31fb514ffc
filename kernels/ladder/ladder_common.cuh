// Helpers shared by the rungs of the GEMM ladder: the launch geometry of the tiled rungs
// (v4 .. v7: one block per tile of C), and for the vectorised ones (v6, v7) 16-byte loads and
// stores (float4 under nvcc; in the emulator four scalar accesses after an alignment check,
// because a misaligned float4 faults on a GPU, recorded as one 16-byte access of global or
// shared memory for the emulator's counters, kernels/emu/emu_counters.h), and the unroll
// pragma (the emulator leaves loops rolled: g++ unrolls what pays).
#pragma once

#include <cstdint>
#include <string>

#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/launch_checks.h"

#if MG_EMULATED
#define MG_LADDER_UNROLL
#else
#define MG_LADDER_UNROLL _Pragma("unroll")
#endif

namespace melgrad::kernels::ladder {

// The grid of a rung whose block computes one BM x BN tile of C [m, n]: x walks the columns.
template <int BM, int BN>
dim3 c_tile_grid(const LadderGemmParams& p) {
  return dim3(ceil_div(p.n, BN), ceil_div(p.m, BM));
}

// Element e of the block's k-slices (e walks along a row, so loads coalesce as in v3): row
// a_r, column a_i of the A slice [BM, BK] and row b_i, column b_s of the B slice [BK, BN].
struct SliceElement {
  int a_r, a_i, b_i, b_s;
};
template <int BN, int BK>
__device__ __forceinline__ SliceElement slice_element(int e) {
  return {e / BK, e % BK, e / BN, e % BN};
}

// Stages that element into shared memory: as[a_r][a_i] = A[row0 + a_r, k0 + a_i] and
// bs[b_i][b_s] = B[k0 + b_i, col0 + b_s], 0 outside A [m, k] and B [k, n].
template <int BM, int BN, int BK>
__device__ __forceinline__ void stage_slice_element(float (&as)[BM][BK], float (&bs)[BK][BN],
                                                    const float* a, const float* b, int m, int n,
                                                    int k, int row0, int col0, int k0,
                                                    SliceElement s) {
  const int a_r = s.a_r, a_i = s.a_i, b_i = s.b_i, b_s = s.b_s;
  MG_STS(&as[a_r][a_i],
         (row0 + a_r < m && k0 + a_i < k) ? MG_LDG(&a[(row0 + a_r) * k + k0 + a_i]) : 0.0f);
  MG_STS(&bs[b_i][b_s],
         (k0 + b_i < k && col0 + b_s < n) ? MG_LDG(&b[(k0 + b_i) * n + col0 + b_s]) : 0.0f);
}

// m, n, k as the kernels take them (plain ints: gemm_ladder.cu bounds every matrix by 2^31).
struct GemmSizes {
  int m, n, k;
};
inline GemmSizes int_sizes(const LadderGemmParams& p) {
  return {static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k)};
}

struct alignas(16) F4 {
  float v[4];
};

enum class Mem { global, shared };  // where a pointer points (for the counters)

template <Mem kMem>
__device__ __forceinline__ F4 load_f4(const float* p) {
#if MG_EMULATED
  if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0)
    throw emu::KernelError("ladder gemm: misaligned float4 load");
  if (kMem == Mem::global)
    MG_LDG_BYTES(p, 16);
  else
    MG_LDS_BYTES(p, 16);
  return F4{{p[0], p[1], p[2], p[3]}};
#else
  const float4 t = *reinterpret_cast<const float4*>(p);
  return F4{{t.x, t.y, t.z, t.w}};
#endif
}

template <Mem kMem>
__device__ __forceinline__ void store_f4(float* p, const F4& x) {
#if MG_EMULATED
  if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0)
    throw emu::KernelError("ladder gemm: misaligned float4 store");
  if (kMem == Mem::global)
    MG_STG_BYTES(p, 16);
  else
    MG_STS_BYTES(p, 16);
  for (int e = 0; e < 4; ++e) p[e] = x.v[e];
#else
  *reinterpret_cast<float4*>(p) = make_float4(x.v[0], x.v[1], x.v[2], x.v[3]);
#endif
}

// Four consecutive floats of row `row` from column `col` of a [rows, cols] row-major matrix
// (zeros outside it): one float4 when vec (cols % 4 == 0, aligned base) and in range.
template <bool kVec>
__device__ __forceinline__ F4 load_row_quad(const float* x, int rows, int cols, int row, int col) {
  if (kVec && row < rows && col + 3 < cols) return load_f4<Mem::global>(x + row * cols + col);
  F4 q;
  for (int e = 0; e < 4; ++e)
    q.v[e] = (row < rows && col + e < cols) ? MG_LDG(&x[row * cols + col + e]) : 0.0f;
  return q;
}

// Stores four consecutive results of C [rows, cols] from column col on (those in range).
template <bool kVec>
__device__ __forceinline__ void store_row_quad(float* x, int rows, int cols, int row, int col,
                                               const F4& q) {
  if (row >= rows) return;
  if (kVec && col + 3 < cols) {
    store_f4<Mem::global>(x + row * cols + col, q);
    return;
  }
  for (int e = 0; e < 4; ++e)
    if (col + e < cols) MG_STG(&x[row * cols + col + e], q.v[e]);
}

// float4 access is possible when every row starts 16-byte aligned.
inline bool vec4_friendly(const void* a, const void* b, const void* c, int64_t k, int64_t n) {
  auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  return k % 4 == 0 && n % 4 == 0 && aligned(a) && aligned(b) && aligned(c);
}

}  // namespace melgrad::kernels::ladder
