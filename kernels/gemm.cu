// Batched SGEMM on row-major matrices (see gemm.h): the hand-written tiled SIMT kernel, the
// launcher that picks it or cuBLAS (gemm_cublas.cu), and the CPU reference.
//
// The kernel (gemm_tiled) computes one BM x BN tile of C per block:
//  - the K dimension advances in BK-deep slices; each slice of op(A) [BM, BK] and op(B)
//    [BK, BN] is staged in shared memory "k-major" (As[k][m], Bs[k][n], rows padded by 4
//    floats), so the inner loop reads both with float4 loads along m and n;
//  - two shared stages: while the block multiplies slice t, every thread holds its part of
//    slice t+1 in registers (loaded from global memory before the math, stored to the other
//    stage after it), so one __syncthreads per slice suffices;
//  - register blocking: each thread accumulates TM x TN outputs, as TM/4 x TN/4 quads of 4
//    consecutive rows/columns spaced BM/(TM/4) apart (float4 reads of shared memory without
//    bank conflicts, and float4 stores of C);
//  - global loads are float4 when the operands allow it (16-byte aligned base, leading
//    dimension and batch stride multiples of 4: template flag kVec), scalar otherwise; any
//    m, n, k works (a tile's out-of-range elements load as 0 and are not stored).
// Two tile shapes: Tile64 (64x64, BK 16, 4x4 per thread) for small or skinny problems and
// Tile128 (128x128, BK 8, 8x8 per thread) for large ones; both 256 threads.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kernels/emu/cuda_compat.h"
#include "kernels/gemm.h"
#include "kernels/gemm_cublas.h"
#include "kernels/gemm_tf32.h"
#include "kernels/launch_checks.h"

// Full unrolling of the loops over a thread's register arrays (acc, av, bv, regs): a loop
// left rolled indexes them at run time and nvcc moves them to local memory.
#if MG_EMULATED
#define MG_GEMM_UNROLL
#else
#define MG_GEMM_UNROLL _Pragma("unroll")
#endif

namespace melgrad::kernels {
namespace {

// Four floats moved as one 16-byte access (float4 under nvcc). The emulator reads them one
// by one but checks the alignment, because a misaligned float4 access faults on a GPU.
struct alignas(16) Vec4 {
  float v[4];
};

#if MG_EMULATED
inline void check_vec4_alignment(const void* p) {
  if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0) {
    throw emu::KernelError("misaligned 16-byte vector access at " +
                           std::to_string(reinterpret_cast<std::uintptr_t>(p)));
  }
}
#endif

__device__ __forceinline__ Vec4 load_vec4(const float* p) {
#if MG_EMULATED
  check_vec4_alignment(p);
  return Vec4{{p[0], p[1], p[2], p[3]}};
#else
  const float4 t = *reinterpret_cast<const float4*>(p);
  return Vec4{{t.x, t.y, t.z, t.w}};
#endif
}

__device__ __forceinline__ void store_vec4(float* p, const Vec4& x) {
#if MG_EMULATED
  check_vec4_alignment(p);
  MG_GEMM_UNROLL
  for (int e = 0; e < 4; ++e) p[e] = x.v[e];
#else
  *reinterpret_cast<float4*>(p) = make_float4(x.v[0], x.v[1], x.v[2], x.v[3]);
#endif
}

// Sizes, leading dimensions and batch strides, passed to the kernel by value (the three
// pointers go as separate arguments, so the emulator checks that they are device memory).
struct GemmDims {
  int64_t m, n, k;
  int64_t lda, ldb, ldc;
  int64_t stride_a, stride_b, stride_c;
  int64_t batch;
  float alpha, beta;
};

template <int kBM, int kBN, int kBK, int kTM, int kTN, int kMinBlocks>
struct Tile {
  static constexpr int BM = kBM, BN = kBN, BK = kBK, TM = kTM, TN = kTN;
  static constexpr int kThreadCols = BN / TN;  // threads along n
  static constexpr int kThreads = (BM / TM) * kThreadCols;
  // Resident blocks per SM asked of the register allocator (__launch_bounds__): 2 caps a
  // thread at 128 registers, which Tile64 fits; Tile128's 8x8 accumulators plus addressing
  // need ~170-190 (sm_90, nvcc 13) and would spill under the cap, so it runs one block.
  static constexpr int kMinBlocksPerSm = kMinBlocks;
  static constexpr int kLdA = BM + 4;  // shared row strides: +4 floats against bank
  static constexpr int kLdB = BN + 4;  // conflicts of the transposing stores, 16-byte rows
  static constexpr int kStageFloats = BK * (kLdA + kLdB);
  static constexpr std::size_t kSmemBytes = 2 * kStageFloats * sizeof(float);
  static_assert(TM % 4 == 0 && TN % 4 == 0 && BK % 4 == 0, "quads of 4");
  static_assert((BM * BK / 4) % kThreads == 0 && (BN * BK / 4) % kThreads == 0,
                "every thread loads whole float4 units of both tiles");
};
using Tile64 = Tile<64, 64, 16, 4, 4, 2>;
using Tile128 = Tile<128, 128, 8, 8, 8, 1>;

// One thread's share of a ROWS x BK slice of op(X), where X is stored row-major either as
// [rows, depth] (kKContig: the k index is contiguous) or as [depth, rows]. The slice is cut
// into float4 units along the contiguous index; elements outside the matrix read as 0.
// begin() computes each unit's address in the first slice; load() fetches the current slice
// into registers and steps the addresses to the next one (little 64-bit math in the loop).
template <int ROWS, int BK, int kThreads, bool kKContig, bool kVec>
struct SliceLoader {
  static constexpr int kUnits = ROWS * BK / 4 / kThreads;
  Vec4 regs[kUnits];
  const float* next[kUnits];  // the unit's first element in the slice load() fetches next
  int rows_left[kUnits];      // matrix rows from the unit's first row on, clamped to 0..4
  int64_t step;               // elements from one slice's unit to the next slice's

  // Position (row, k) in the slice of the first element of float4 unit `unit`.
  static __device__ void unit_origin(int unit, int& r, int& kk) {
    if (kKContig) {
      r = unit / (BK / 4);
      kk = unit % (BK / 4) * 4;
    } else {
      kk = unit / (ROWS / 4);
      r = unit % (ROWS / 4) * 4;
    }
  }

  __device__ void begin(const float* x, int64_t ld, int64_t rows, int64_t row0, int tid) {
    step = kKContig ? BK : BK * ld;
    MG_GEMM_UNROLL
    for (int u = 0; u < kUnits; ++u) {
      int r, kk;
      unit_origin(tid + u * kThreads, r, kk);
      const int64_t left = rows - (row0 + r);
      rows_left[u] = left <= 0 ? 0 : (left >= 4 ? 4 : static_cast<int>(left));
      next[u] = x + (kKContig ? (row0 + r) * ld + kk : kk * ld + row0 + r);
    }
  }

  // Loads the slice that starts at k index k0 (the one after the previous load).
  __device__ void load(int64_t k0, int64_t depth, int tid) {
    MG_GEMM_UNROLL
    for (int u = 0; u < kUnits; ++u) {
      int r, kk;
      unit_origin(tid + u * kThreads, r, kk);
      const int64_t k_left = depth - (k0 + kk);  // k indices from the unit's first on
      const float* p = next[u];
      if (kKContig) {  // four consecutive k of one row
        if (kVec && rows_left[u] > 0 && k_left >= 4) {
          regs[u] = load_vec4(p);
        } else {
          MG_GEMM_UNROLL
          for (int e = 0; e < 4; ++e) regs[u].v[e] = (rows_left[u] > 0 && e < k_left) ? p[e] : 0.0f;
        }
      } else {  // four consecutive rows at one k
        if (kVec && k_left > 0 && rows_left[u] == 4) {
          regs[u] = load_vec4(p);
        } else {
          MG_GEMM_UNROLL
          for (int e = 0; e < 4; ++e) regs[u].v[e] = (k_left > 0 && e < rows_left[u]) ? p[e] : 0.0f;
        }
      }
      next[u] = p + step;
    }
  }

  // Writes the registers into a k-major shared stage s[k][row] (row stride lds).
  __device__ void store(float* s, int lds, int tid) const {
    MG_GEMM_UNROLL
    for (int u = 0; u < kUnits; ++u) {
      int r, kk;
      unit_origin(tid + u * kThreads, r, kk);
      if (kKContig) {
        MG_GEMM_UNROLL
        for (int e = 0; e < 4; ++e) s[(kk + e) * lds + r] = regs[u].v[e];
      } else {
        store_vec4(s + kk * lds + r, regs[u]);
      }
    }
  }
};

template <class T, bool kTransA, bool kTransB, bool kVec>
__global__ void __launch_bounds__(T::kThreads, T::kMinBlocksPerSm)
    gemm_tiled(const float* a, const float* b, float* c, GemmDims d) {
  MG_SHARED_DYN(float, smem);  // two stages of {As [BK][kLdA], Bs [BK][kLdB]}
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK, TM = T::TM, TN = T::TN;
  constexpr int kRowQuadStep = BM / (TM / 4), kColQuadStep = BN / (TN / 4);
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % T::kThreadCols, ty = tid / T::kThreadCols;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.y) * BN;
  const int64_t k_slices = (d.k + BK - 1) / BK;
  // op(A) is [m, k]: k is contiguous unless A is stored transposed; op(B)^T is [n, k]: k is
  // contiguous only when B is stored transposed.
  SliceLoader<BM, BK, T::kThreads, !kTransA, kVec> load_a;
  SliceLoader<BN, BK, T::kThreads, kTransB, kVec> load_b;
  auto stage_a = [&](int s) { return smem + s * T::kStageFloats; };
  auto stage_b = [&](int s) { return smem + s * T::kStageFloats + BK * T::kLdA; };

  for (int64_t batch = blockIdx.z; batch < d.batch; batch += gridDim.z) {
    const float* ab = a + batch * d.stride_a;
    const float* bb = b + batch * d.stride_b;
    float* cb = c + batch * d.stride_c;
    float acc[TM][TN];
    MG_GEMM_UNROLL
    for (int i = 0; i < TM; ++i) MG_GEMM_UNROLL
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

    load_a.begin(ab, d.lda, d.m, m0, tid);
    load_b.begin(bb, d.ldb, d.n, n0, tid);
    if (k_slices > 0) {
      load_a.load(0, d.k, tid);
      load_b.load(0, d.k, tid);
      load_a.store(stage_a(0), T::kLdA, tid);
      load_b.store(stage_b(0), T::kLdB, tid);
      __syncthreads();
    }
    for (int64_t t = 0; t < k_slices; ++t) {
      const int cur = static_cast<int>(t & 1);
      const bool more = t + 1 < k_slices;
      if (more) {  // the next slice travels to registers while this one is multiplied
        load_a.load((t + 1) * BK, d.k, tid);
        load_b.load((t + 1) * BK, d.k, tid);
      }
      const float* sa = stage_a(cur);
      const float* sb = stage_b(cur);
      MG_GEMM_UNROLL
      for (int kk = 0; kk < BK; ++kk) {
        float av[TM], bv[TN];
        MG_GEMM_UNROLL
        for (int q = 0; q < TM / 4; ++q) {
          const Vec4 v = load_vec4(sa + kk * T::kLdA + q * kRowQuadStep + ty * 4);
          MG_GEMM_UNROLL
          for (int e = 0; e < 4; ++e) av[q * 4 + e] = v.v[e];
        }
        MG_GEMM_UNROLL
        for (int q = 0; q < TN / 4; ++q) {
          const Vec4 v = load_vec4(sb + kk * T::kLdB + q * kColQuadStep + tx * 4);
          MG_GEMM_UNROLL
          for (int e = 0; e < 4; ++e) bv[q * 4 + e] = v.v[e];
        }
        MG_GEMM_UNROLL
        for (int i = 0; i < TM; ++i) MG_GEMM_UNROLL
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
      if (more) {  // the other stage was last read in slice t-1, before the last barrier
        load_a.store(stage_a(cur ^ 1), T::kLdA, tid);
        load_b.store(stage_b(cur ^ 1), T::kLdB, tid);
      }
      __syncthreads();  // also protects stage 0 from the next batch entry's first store
    }

    // Epilogue: C = alpha * acc + beta * C, quads of 4 columns as one float4 when in range.
    MG_GEMM_UNROLL
    for (int i = 0; i < TM; ++i) {
      const int64_t row = m0 + (i / 4) * kRowQuadStep + ty * 4 + i % 4;
      if (row >= d.m) continue;
      float* crow = cb + row * d.ldc;
      MG_GEMM_UNROLL
      for (int q = 0; q < TN / 4; ++q) {
        const int64_t col = n0 + q * kColQuadStep + tx * 4;
        if (kVec && col + 3 < d.n) {
          Vec4 out{};
          if (d.beta != 0.0f) out = load_vec4(crow + col);
          MG_GEMM_UNROLL
          for (int e = 0; e < 4; ++e) {
            const float prior = d.beta != 0.0f ? d.beta * out.v[e] : 0.0f;
            out.v[e] = d.alpha * acc[i][q * 4 + e] + prior;
          }
          store_vec4(crow + col, out);
        } else {
          MG_GEMM_UNROLL
          for (int e = 0; e < 4; ++e) {  // no early exit: acc must stay in registers
            if (col + e >= d.n) continue;
            const float prior = d.beta != 0.0f ? d.beta * crow[col + e] : 0.0f;
            crow[col + e] = d.alpha * acc[i][q * 4 + e] + prior;
          }
        }
      }
    }
  }
}

template <class T, bool kTransA, bool kTransB>
void launch_tiled(const GemmParams& p, const GemmDims& d, bool vec, Stream stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div(p.m, T::BM)),
                  static_cast<unsigned>(ceil_div(p.n, T::BN)),
                  static_cast<unsigned>(p.batch < 65535 ? p.batch : 65535));
  if (vec) {
    MG_LAUNCH((gemm_tiled<T, kTransA, kTransB, true>), grid, T::kThreads, T::kSmemBytes, stream)
    (p.a, p.b, p.c, d);
  } else {
    MG_LAUNCH((gemm_tiled<T, kTransA, kTransB, false>), grid, T::kThreads, T::kSmemBytes, stream)
    (p.a, p.b, p.c, d);
  }
}

template <class T>
void launch_tile(const GemmParams& p, const GemmDims& d, bool vec, Stream stream) {
  const char* fn = "gemm";
  require_grid_x(fn, ceil_div(p.m, T::BM));
  if (ceil_div(p.n, T::BN) > 65535) {
    invalid_params(fn, "n = " + std::to_string(p.n) + " needs more than 65535 column tiles of " +
                           std::to_string(T::BN));
  }
  if (p.trans_a) {
    if (p.trans_b)
      launch_tiled<T, true, true>(p, d, vec, stream);
    else
      launch_tiled<T, true, false>(p, d, vec, stream);
  } else {
    if (p.trans_b)
      launch_tiled<T, false, true>(p, d, vec, stream);
    else
      launch_tiled<T, false, false>(p, d, vec, stream);
  }
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// float4 global accesses need 16-byte aligned rows in every batch entry of every operand.
bool vector_friendly(const GemmParams& p) {
  const bool ab = p.k == 0 || (aligned16(p.a) && aligned16(p.b) && p.lda % 4 == 0 &&
                               p.ldb % 4 == 0 && p.stride_a % 4 == 0 && p.stride_b % 4 == 0);
  return ab && aligned16(p.c) && p.ldc % 4 == 0 && p.stride_c % 4 == 0;
}

void gemm_melgrad(const GemmParams& p, Stream stream) {
  const GemmDims d{p.m,        p.n,        p.k,        p.lda,   p.ldb,   p.ldc,
                   p.stride_a, p.stride_b, p.stride_c, p.batch, p.alpha, p.beta};
  const bool vec = vector_friendly(p);
  int tile = p.tile;
  if (tile == 0) {  // large tiles only when they still fill the machine
    const int64_t big_tiles = ceil_div(p.m, Tile128::BM) * ceil_div(p.n, Tile128::BN) * p.batch;
    tile = (p.m >= 128 && p.n >= 128 && big_tiles >= device_sm_count()) ? 128 : 64;
  }
  if (tile == 128)
    launch_tile<Tile128>(p, d, vec, stream);
  else
    launch_tile<Tile64>(p, d, vec, stream);
  MG_CHECK_LAUNCH("gemm (melgrad kernel)");
}

void validate(const GemmParams& p) {
  const char* fn = "gemm";
  require_non_negative(fn, "m", p.m);
  require_non_negative(fn, "n", p.n);
  require_non_negative(fn, "k", p.k);
  require_non_negative(fn, "batch", p.batch);
  require_non_negative(fn, "stride_a", p.stride_a);
  require_non_negative(fn, "stride_b", p.stride_b);
  require_non_negative(fn, "stride_c", p.stride_c);
  auto require_ld = [&](const char* field, int64_t ld, int64_t cols, const char* layout) {
    const int64_t least = cols > 1 ? cols : 1;
    if (ld < least) {
      invalid_params(fn, std::string(field) + " = " + std::to_string(ld) + " is less than " +
                             std::to_string(least) + ", the row length of " + layout);
    }
  };
  require_ld("lda", p.lda, p.trans_a ? p.m : p.k, p.trans_a ? "A [k, m]" : "A [m, k]");
  require_ld("ldb", p.ldb, p.trans_b ? p.k : p.n, p.trans_b ? "B [n, k]" : "B [k, n]");
  require_ld("ldc", p.ldc, p.n, "C [m, n]");
  if (p.batch > 1 && p.m > 0 && p.n > 0 && p.stride_c < (p.m - 1) * p.ldc + p.n) {
    invalid_params(fn, "stride_c = " + std::to_string(p.stride_c) +
                           " makes the batch entries of C overlap (at least " +
                           std::to_string((p.m - 1) * p.ldc + p.n) + " needed)");
  }
  if (p.tile != 0 && p.tile != 64 && p.tile != 128) {
    invalid_params(fn, "tile must be 0, 64 or 128 (got " + std::to_string(p.tile) + ")");
  }
}

}  // namespace

GemmImpl parse_gemm_impl(std::string_view text) {
  if (text.empty() || text == "auto") return GemmImpl::automatic;
  if (text == "melgrad") return GemmImpl::melgrad;
  if (text == "cublas") return GemmImpl::cublas;
  if (text == "melgrad_tf32") return GemmImpl::melgrad_tf32;
  throw std::invalid_argument("MELGRAD_GEMM: unknown GEMM implementation '" + std::string(text) +
                              "' (expected melgrad, cublas or melgrad_tf32)");
}

const char* gemm_impl_name(GemmImpl impl) {
  switch (impl) {
    case GemmImpl::melgrad:
      return "melgrad";
    case GemmImpl::cublas:
      return "cublas";
    case GemmImpl::melgrad_tf32:
      return "melgrad_tf32";
    default:
      return "auto";
  }
}

GemmImpl default_gemm_impl() {
  static const GemmImpl impl = [] {
    const char* env = std::getenv("MELGRAD_GEMM");
    const GemmImpl chosen = parse_gemm_impl(env != nullptr ? env : "");
    if (chosen != GemmImpl::automatic) return chosen;
    return detail::cublas_built() ? GemmImpl::cublas : GemmImpl::melgrad;
  }();
  return impl;
}

std::vector<GemmImpl> available_gemm_impls() {
  if (detail::cublas_built()) return {GemmImpl::melgrad, GemmImpl::cublas};
  return {GemmImpl::melgrad};
}

void gemm(const GemmParams& p, Stream stream) {
  validate(p);
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  if (p.k > 0) {
    require_pointer("gemm", "a", p.a);
    require_pointer("gemm", "b", p.b);
  }
  require_pointer("gemm", "c", p.c);
  const GemmImpl impl = p.impl == GemmImpl::automatic ? default_gemm_impl() : p.impl;
  switch (impl) {
    case GemmImpl::melgrad:
      gemm_melgrad(p, stream);
      break;
    case GemmImpl::cublas:
      detail::gemm_cublas(p, stream);
      break;
    case GemmImpl::melgrad_tf32:
      detail::gemm_tf32(p, stream);
      break;
    default:
      invalid_params("gemm", "unknown impl " + std::to_string(static_cast<int>(impl)));
  }
}

// ---- CPU reference: the textbook triple loop, double accumulation ----
void gemm_reference(const GemmParams& p) {
  for (int64_t bi = 0; bi < p.batch; ++bi) {
    const float* a = p.a + bi * p.stride_a;
    const float* b = p.b + bi * p.stride_b;
    float* c = p.c + bi * p.stride_c;
    for (int64_t i = 0; i < p.m; ++i) {
      for (int64_t j = 0; j < p.n; ++j) {
        double sum = 0.0;
        for (int64_t l = 0; l < p.k; ++l) {
          const double av = p.trans_a ? a[l * p.lda + i] : a[i * p.lda + l];
          const double bv = p.trans_b ? b[j * p.ldb + l] : b[l * p.ldb + j];
          sum += av * bv;
        }
        float& out = c[i * p.ldc + j];
        out = static_cast<float>(p.alpha * sum + (p.beta != 0.0f ? double{p.beta} * out : 0.0));
      }
    }
  }
}

}  // namespace melgrad::kernels
