// TF32 tensor-core GEMM (see gemm_tf32.h), nvcc only. One 256-thread block computes a
// 128 x 128 tile of C; its 8 warps form a 2 x 4 grid of 64 x 32 warp tiles, each 4 x 2
// WMMA accumulators of 16 x 16. The K dimension advances in 32-deep slices staged in
// shared memory in the operands' own layout (coalesced loads, zero-filled past the
// edges): op(A) as [m][k] (row_major fragments) or, when A is stored transposed, [k][m]
// (col_major fragments); op(B) likewise as [k][n] or [n][k]. Rows are padded by 4 floats
// (every fragment pointer stays 32-byte aligned, as WMMA requires). Inputs are rounded to
// TF32 (__float_to_tf32) as the fragments are loaded. The epilogue stores each 16 x 16
// accumulator to a per-warp scratch in shared memory and writes alpha * acc + beta * C
// with bounds checks. Two barriers per slice; no register prefetch (a simple first
// version: its speed against cuBLAS's TF32 path is not measured yet).
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/emu/cuda_compat.h"
#include "kernels/gemm_tf32.h"
#include "kernels/launch_checks.h"

#if !MG_EMULATED
#include <mma.h>
#endif

namespace melgrad::kernels::detail {

#if MG_EMULATED

bool tf32_built() { return false; }

void gemm_tf32(const GemmParams&, Stream) {
  throw std::runtime_error(
      "gemm: the TF32 tensor-core kernel was requested (MELGRAD_GEMM=melgrad_tf32 or "
      "GemmParams::impl = melgrad_tf32) but this is the emulator build, which cannot run "
      "tensor-core instructions; use MELGRAD_GEMM=melgrad");
}

#else

namespace {

namespace wmma = nvcuda::wmma;

constexpr int kBM = 128, kBN = 128, kBK = 32, kThreads = 256;
constexpr int kWarpM = 64, kWarpN = 32;  // warp tile; warps form (kBM / kWarpM) x (kBN / kWarpN)
constexpr int kFragM = kWarpM / 16, kFragN = kWarpN / 16;  // 16 x 16 accumulators per warp
static_assert(kFragM * 16 == kWarpM && kFragN * 16 == kWarpN &&
                  (kBM / kWarpM) * (kBN / kWarpN) == 8,
              "8 warps of whole 16 x 16 fragments cover the tile");
constexpr int kPad = 4;
// Each operand's stage holds the larger of its two layouts.
constexpr int kStageFloats =
    (kBM * (kBK + kPad) > kBK * (kBM + kPad)) ? kBM * (kBK + kPad) : kBK * (kBM + kPad);
constexpr std::size_t kSmemBytes = 2 * kStageFloats * sizeof(float);
static_assert(kBM == kBN, "one stage size serves both operands");

struct Tf32Dims {
  int64_t m, n, k, lda, ldb, ldc, stride_a, stride_b, stride_c, batch;
  float alpha, beta;
};

// Stages the kRows x kCols window at (r0, c0) of a row-major matrix (ld, bounds rows_all x
// cols_all) into s[kRows][kCols + kPad], zero outside the matrix. Each thread keeps one
// column and walks rows kThreads / kCols apart (consecutive threads: consecutive columns).
template <int kRows, int kCols>
__device__ void stage(const float* x, int64_t ld, int64_t rows_all, int64_t cols_all, int64_t r0,
                      int64_t c0, float* s) {
  constexpr int kRowStep = kThreads / kCols;
  static_assert(kThreads % kCols == 0 && kRows % kRowStep == 0, "whole passes");
  const int c = static_cast<int>(threadIdx.x) % kCols;
  const bool col_ok = c0 + c < cols_all;
  int r = static_cast<int>(threadIdx.x) / kCols;
  const float* src = x + (r0 + r) * ld + c0 + c;
#pragma unroll 4
  for (; r < kRows; r += kRowStep, src += kRowStep * ld) {
    s[r * (kCols + kPad) + c] = (col_ok && r0 + r < rows_all) ? *src : 0.0f;
  }
}

template <class Frag>
__device__ void round_to_tf32(Frag& f) {
  for (int t = 0; t < f.num_elements; ++t) f.x[t] = wmma::__float_to_tf32(f.x[t]);
}

template <bool kTransA, bool kTransB>
__global__ void __launch_bounds__(kThreads)
    gemm_tf32_wmma(const float* a, const float* b, float* c, Tf32Dims d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  extern __shared__ __align__(128) float tf32_smem[];
  float* sa = tf32_smem;
  float* sb = tf32_smem + kStageFloats;
  using LayoutA = typename std::conditional<kTransA, wmma::col_major, wmma::row_major>::type;
  using LayoutB = typename std::conditional<kTransB, wmma::col_major, wmma::row_major>::type;
  constexpr int kLdA = kTransA ? kBM + kPad : kBK + kPad;
  constexpr int kLdB = kTransB ? kBK + kPad : kBN + kPad;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int wm = warp / (kBN / kWarpN), wn = warp % (kBN / kWarpN);
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * kBM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.y) * kBN;

  for (int64_t batch = blockIdx.z; batch < d.batch; batch += gridDim.z) {
    const float* ab = a + batch * d.stride_a;
    const float* bb = b + batch * d.stride_b;
    float* cb = c + batch * d.stride_c;
    wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[kFragM][kFragN];
#pragma unroll
    for (int i = 0; i < kFragM; ++i)
#pragma unroll
      for (int j = 0; j < kFragN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    for (int64_t k0 = 0; k0 < d.k; k0 += kBK) {
      __syncthreads();  // the previous slice (or batch entry's epilogue) is done with smem
      if (kTransA)
        stage<kBK, kBM>(ab, d.lda, d.k, d.m, k0, m0, sa);  // A stored [k, m]
      else
        stage<kBM, kBK>(ab, d.lda, d.m, d.k, m0, k0, sa);  // A stored [m, k]
      if (kTransB)
        stage<kBN, kBK>(bb, d.ldb, d.n, d.k, n0, k0, sb);  // B stored [n, k]
      else
        stage<kBK, kBN>(bb, d.ldb, d.k, d.n, k0, n0, sb);  // B stored [k, n]
      __syncthreads();
      // Rolled on purpose: unrolled, nvcc hoists every fragment load and needs 255
      // registers; with one A fragment live at a time it needs 128-200 (sm_80/90).
#pragma unroll 1
      for (int kk = 0; kk < kBK; kk += 8) {
        wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, LayoutB> fb[kFragN];
#pragma unroll
        for (int j = 0; j < kFragN; ++j) {
          const int col = wn * kWarpN + j * 16;
          wmma::load_matrix_sync(fb[j], kTransB ? sb + col * kLdB + kk : sb + kk * kLdB + col,
                                 kLdB);
          round_to_tf32(fb[j]);
        }
#pragma unroll
        for (int i = 0; i < kFragM; ++i) {
          wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, LayoutA> fa;
          const int row = wm * kWarpM + i * 16;
          wmma::load_matrix_sync(fa, kTransA ? sa + kk * kLdA + row : sa + row * kLdA + kk, kLdA);
          round_to_tf32(fa);
#pragma unroll
          for (int j = 0; j < kFragN; ++j) wmma::mma_sync(acc[i][j], fa, fb[j], acc[i][j]);
        }
      }
    }

    __syncthreads();  // the stages become per-warp scratch
    float* scratch = tf32_smem + warp * 256;
#pragma unroll
    for (int i = 0; i < kFragM; ++i) {
#pragma unroll
      for (int j = 0; j < kFragN; ++j) {
        wmma::store_matrix_sync(scratch, acc[i][j], 16, wmma::mem_row_major);
        __syncwarp();
        for (int e = lane; e < 256; e += 32) {
          const int64_t row = m0 + wm * kWarpM + i * 16 + e / 16;
          const int64_t col = n0 + wn * kWarpN + j * 16 + e % 16;
          if (row < d.m && col < d.n) {
            float* out = cb + row * d.ldc + col;
            *out = d.alpha * scratch[e] + (d.beta != 0.0f ? d.beta * *out : 0.0f);
          }
        }
        __syncwarp();
      }
    }
  }
#endif
}

int compute_capability_major() {
  static const int major = [] {
    int dev = 0, value = 0;
    MG_CUDA_CHECK(cudaGetDevice(&dev));
    MG_CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrComputeCapabilityMajor, dev));
    return value;
  }();
  return major;
}

template <bool kTransA, bool kTransB>
void launch(const GemmParams& p, Stream stream) {
  const Tf32Dims d{p.m,        p.n,        p.k,        p.lda,   p.ldb,   p.ldc,
                   p.stride_a, p.stride_b, p.stride_c, p.batch, p.alpha, p.beta};
  const dim3 grid(static_cast<unsigned>(ceil_div(p.m, kBM)),
                  static_cast<unsigned>(ceil_div(p.n, kBN)),
                  static_cast<unsigned>(p.batch < 65535 ? p.batch : 65535));
  MG_LAUNCH((gemm_tf32_wmma<kTransA, kTransB>), grid, kThreads, kSmemBytes, stream)
  (p.a, p.b, p.c, d);
}

}  // namespace

bool tf32_built() { return true; }

void gemm_tf32(const GemmParams& p, Stream stream) {
  const char* fn = "gemm (melgrad_tf32)";
  const int major = compute_capability_major();
  if (major < 8) {
    throw std::runtime_error(std::string(fn) +
                             ": TF32 tensor cores need compute capability 8.0 "
                             "or newer; this device is " +
                             std::to_string(major) + ".x");
  }
  require_grid_x(fn, ceil_div(p.m, kBM));
  if (ceil_div(p.n, kBN) > 65535) invalid_params(fn, "n needs more than 65535 column tiles");
  if (p.trans_a) {
    if (p.trans_b)
      launch<true, true>(p, stream);
    else
      launch<true, false>(p, stream);
  } else {
    if (p.trans_b)
      launch<false, true>(p, stream);
    else
      launch<false, false>(p, stream);
  }
  MG_CHECK_LAUNCH(fn);
}

#endif

}  // namespace melgrad::kernels::detail
