// Batched single-precision GEMM on row-major matrices (the engine's layout):
//   C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b]        b = 0 .. batch-1
//   op(A): [m, k]  (A stored [m, k] with row stride lda, or [k, m] when trans_a)
//   op(B): [k, n]  (B stored [k, n] with row stride ldb, or [n, k] when trans_b)
//   C:     [m, n]  (row stride ldc)
// Matrix b of each operand starts at ptr + b * stride; a stride of 0 broadcasts one matrix
// over the batch (e.g. a weight shared by every image). beta == 0 does not read C (NaNs in
// C are overwritten, as in BLAS). C must not overlap A or B, nor two batch entries of C
// each other. k == 0 gives C = beta * C.
//
// Implementations, selected per call (GemmParams::impl) or for the whole process by the
// environment variable MELGRAD_GEMM=melgrad|cublas|melgrad_tf32:
//   melgrad: the hand-written tiled SIMT kernel of gemm.cu (shared-memory tiles, register
//            blocking, float4 loads where aligned); the only one in the emulator build;
//   cublas:  cublasSgemmStridedBatched (CUDA build only; the reference and the fast path);
//   melgrad_tf32: a WMMA tensor-core kernel (gemm_tf32.cu; CUDA build, sm_80+), TF32
//            inputs with float accumulation: faster, less precise; never the default.
// Default (MELGRAD_GEMM unset): cublas in the CUDA build, melgrad in the emulator build.
// Launchers validate (std::invalid_argument) and launch on `stream`; gemm_reference is a
// plain triple loop with double accumulation on host memory.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "kernels/runtime.h"

namespace melgrad::kernels {

enum class GemmImpl : int {
  automatic,     // MELGRAD_GEMM, else the build's default (see above)
  melgrad,       // the hand-written SIMT kernel
  cublas,        // cuBLAS (CUDA build only; requesting it in the emulator throws)
  melgrad_tf32,  // the hand-written TF32 tensor-core kernel (CUDA build, sm_80+; inputs
                 // rounded to 10 mantissa bits: relative errors ~1e-3)
};

struct GemmParams {
  bool trans_a = false;
  bool trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  float beta = 0.0f;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  int64_t batch = 1;
  int64_t stride_a = 0;  // elements between consecutive batch matrices; 0 broadcasts
  int64_t stride_b = 0;
  int64_t stride_c = 0;
  GemmImpl impl = GemmImpl::automatic;
  // melgrad kernel only: 0 picks the tile by shape; 64 or 128 forces a BMxBN tile of that
  // size (tests and benchmarks reach both kernels with it).
  int tile = 0;
};

void gemm(const GemmParams& p, Stream stream = nullptr);
void gemm_reference(const GemmParams& p);

// "melgrad" | "cublas" | "melgrad_tf32" (and "" → automatic); else std::invalid_argument.
GemmImpl parse_gemm_impl(std::string_view text);
const char* gemm_impl_name(GemmImpl impl);
// What GemmImpl::automatic resolves to in this process (reads MELGRAD_GEMM once).
GemmImpl default_gemm_impl();
// The float32-exact implementations this build provides: {melgrad} or {melgrad, cublas}
// (melgrad_tf32, when built, is left out: it does not meet float32 tolerances).
std::vector<GemmImpl> available_gemm_impls();

}  // namespace melgrad::kernels
