// The GEMM ladder: one SGEMM written eight ways, each a small step from the last, for
// learning why a GPU kernel is fast (docs/KERNEL_LADDER.md walks it; siboehm's SGEMM
// worklog is the model). All rungs compute the same product on row-major matrices:
//   C [m, n] = A [m, k] @ B [k, n]        (leading dimensions k, n, n; any m, n, k >= 0)
// Rungs (kernels/ladder/gemm_vN_*.cu):
//   1 naive          one thread per C element; lanes of a warp walk down a column of C
//   2 coalesced      the same, but lanes walk along a row: B and C accesses coalesce
//   3 shared         32x32 tiles of A and B staged in shared memory, reused 32 times
//   4 blocktile_1d   each thread computes 8 elements of a column (register blocking in m)
//   5 blocktile_2d   each thread computes a 4x4 patch (register blocking in m and n)
//   6 vectorized     float4 global loads, A stored transposed in shared memory
//   7 warptile       warps own 32x32 sub-tiles; two shared stages (double buffering)
//   8 tiled          the production kernel (kernels/gemm.cu, GemmImpl::melgrad)
//   9 tf32           tensor cores, TF32 inputs (kernels/gemm_tf32.cu; GPU, sm_80+ only:
//                    the emulator throws, saying so)
// Plus "cublas" on the GPU build, the yardstick. Launchers validate (std::invalid_argument
// naming the field) and launch on `stream`; ladder_gemm_reference is the CPU triple loop
// (kernels/gemm.h's gemm_reference, double accumulation).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/runtime.h"

namespace melgrad::kernels {

struct LadderGemmParams {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;  // [m, k]
  const float* b = nullptr;  // [k, n]
  float* c = nullptr;        // [m, n], overwritten
};

struct LadderRung {
  std::string name;     // "naive", ..., "tf32", "cublas"
  std::string summary;  // one line: what this rung changes
  bool float32_exact;   // false for tf32 (relative errors ~1e-3)
};

// The rungs in order (1-based positions: "v1" is rungs()[0]); cublas last when built.
const std::vector<LadderRung>& ladder_gemm_rungs();
// "v3", "3" or "shared" -> index into ladder_gemm_rungs(); else std::invalid_argument
// listing the names.
int ladder_gemm_find(std::string_view variant);
void ladder_gemm(int rung, const LadderGemmParams& p, Stream stream = nullptr);
void ladder_gemm_reference(const LadderGemmParams& p);  // host pointers

// The launchers of the rungs, one per file (kernels/ladder/gemm_vN_*.cu); p is validated.
namespace ladder {
void gemm_v1_naive(const LadderGemmParams& p, Stream stream);
void gemm_v2_coalesced(const LadderGemmParams& p, Stream stream);
void gemm_v3_shared(const LadderGemmParams& p, Stream stream);
void gemm_v4_blocktile_1d(const LadderGemmParams& p, Stream stream);
void gemm_v5_blocktile_2d(const LadderGemmParams& p, Stream stream);
void gemm_v6_vectorized(const LadderGemmParams& p, Stream stream);
void gemm_v7_warptile(const LadderGemmParams& p, Stream stream);
inline unsigned ceil_div(int64_t a, int64_t b) { return static_cast<unsigned>((a + b - 1) / b); }
}  // namespace ladder

}  // namespace melgrad::kernels
