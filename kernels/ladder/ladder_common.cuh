// Helpers shared by the vectorised rungs of the GEMM ladder (v6, v7): 16-byte loads and
// stores (float4 under nvcc; in the emulator four scalar accesses after an alignment check,
// because a misaligned float4 faults on a GPU, recorded as one 16-byte access of global or
// shared memory for the emulator's counters, kernels/emu/emu_counters.h), and the unroll
// pragma (the emulator leaves loops rolled: g++ unrolls what pays).
#pragma once

#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"

#include <cstdint>
#include <string>

#if MG_EMULATED
#define MG_LADDER_UNROLL
#else
#define MG_LADDER_UNROLL _Pragma("unroll")
#endif

namespace melgrad::kernels::ladder {

struct alignas(16) F4 {
  float v[4];
};

enum class Mem { global, shared };  // where a pointer points (for the counters)

template <Mem kMem>
__device__ __forceinline__ F4 load_f4(const float* p) {
#if MG_EMULATED
  if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0)
    throw emu::KernelError("ladder gemm: misaligned float4 load");
  if (kMem == Mem::global) MG_LDG_BYTES(p, 16);
  else MG_LDS_BYTES(p, 16);
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
  if (kMem == Mem::global) MG_STG_BYTES(p, 16);
  else MG_STS_BYTES(p, 16);
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
