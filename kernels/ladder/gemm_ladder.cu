// The GEMM ladder's front door (gemm_ladder.h): the list of rungs, the variant parser, the
// launcher that validates and dispatches, and the CPU reference. Rungs 8 (tiled), 9 (tf32)
// and cublas go through kernels/gemm.h, whose GemmParams describe the same row-major
// product (no transposes, alpha 1, beta 0).
#include <stdexcept>
#include <string>

#include "kernels/emu/cuda_compat.h"
#include "kernels/gemm.h"
#include "kernels/gemm_cublas.h"
#include "kernels/ladder/gemm_ladder.h"

namespace melgrad::kernels {
namespace {

GemmParams as_gemm_params(const LadderGemmParams& p, GemmImpl impl) {
  GemmParams g;
  g.m = p.m, g.n = p.n, g.k = p.k;
  g.a = p.a, g.lda = p.k > 0 ? p.k : 1;
  g.b = p.b, g.ldb = p.n > 0 ? p.n : 1;
  g.c = p.c, g.ldc = p.n > 0 ? p.n : 1;
  g.impl = impl;
  return g;
}

using Launcher = void (*)(const LadderGemmParams&, Stream);
const Launcher kOwnRungs[] = {ladder::gemm_v1_naive,        ladder::gemm_v2_coalesced,
                              ladder::gemm_v3_shared,       ladder::gemm_v4_blocktile_1d,
                              ladder::gemm_v5_blocktile_2d, ladder::gemm_v6_vectorized,
                              ladder::gemm_v7_warptile};
constexpr int kOwnCount = sizeof(kOwnRungs) / sizeof(kOwnRungs[0]);

}  // namespace

const std::vector<LadderRung>& ladder_gemm_rungs() {
  static const std::vector<LadderRung> rungs = [] {
    std::vector<LadderRung> r{
        {"naive", "one thread per element of C; a warp's lanes walk down a column", true},
        {"coalesced", "lanes walk along a row of C: B and C accesses coalesce", true},
        {"shared", "32x32 tiles of A and B staged in shared memory", true},
        {"blocktile_1d", "8 results per thread in registers (a column strip)", true},
        {"blocktile_2d", "4x4 results per thread in registers (an outer product)", true},
        {"vectorized", "float4 global and shared accesses, A transposed in shared", true},
        {"warptile", "32x32 warp tiles, two shared stages (double buffering)", true},
        {"tiled", "the production kernel of kernels/gemm.cu (GemmImpl::melgrad)", true},
        {"tf32", "tensor cores, TF32 inputs (kernels/gemm_tf32.cu; GPU sm_80+ only)", false}};
    if (detail::cublas_built()) r.push_back({"cublas", "cuBLAS, the yardstick (GPU build)", true});
    return r;
  }();
  return rungs;
}

int ladder_gemm_find(std::string_view variant) {
  const auto& rungs = ladder_gemm_rungs();
  std::string names;
  for (int i = 0; i < static_cast<int>(rungs.size()); ++i) {
    const std::string number = std::to_string(i + 1);
    if (variant == rungs[i].name || variant == number || variant == "v" + number) return i;
    names += (i ? ", v" : "v") + number + " " + rungs[i].name;
  }
  throw std::invalid_argument("gemm ladder: unknown variant '" + std::string(variant) +
                              "' (expected one of: " + names + ")");
}

void ladder_gemm(int rung, const LadderGemmParams& p, Stream stream) {
  const auto& rungs = ladder_gemm_rungs();
  if (rung < 0 || rung >= static_cast<int>(rungs.size()))
    throw std::invalid_argument("gemm ladder: rung " + std::to_string(rung) + " out of range 0.." +
                                std::to_string(rungs.size() - 1));
  if (p.m < 0 || p.n < 0 || p.k < 0)
    throw std::invalid_argument("gemm ladder: negative size m=" + std::to_string(p.m) +
                                " n=" + std::to_string(p.n) + " k=" + std::to_string(p.k));
  // The hand-written rungs index with int, as the tutorials they follow do.
  const int64_t kIntMax = 2147483647;
  if (p.m * p.k > kIntMax || p.k * p.n > kIntMax || p.m * p.n > kIntMax)
    throw std::invalid_argument("gemm ladder: matrices over 2^31 elements are not supported");
  if (p.m == 0 || p.n == 0) return;
  if ((p.k > 0 && (p.a == nullptr || p.b == nullptr)) || p.c == nullptr)
    throw std::invalid_argument("gemm ladder: a, b and c must be device pointers (one is null)");
  if (rung < kOwnCount) return kOwnRungs[rung](p, stream);
  const std::string& name = rungs[rung].name;
  const GemmImpl impl = name == "tiled"  ? GemmImpl::melgrad
                        : name == "tf32" ? GemmImpl::melgrad_tf32
                                         : GemmImpl::cublas;
  gemm(as_gemm_params(p, impl), stream);
}

void ladder_gemm_reference(const LadderGemmParams& p) {
  if (p.m == 0 || p.n == 0) return;
  GemmParams g = as_gemm_params(p, GemmImpl::automatic);
  g.c = p.c;
  gemm_reference(g);
}

}  // namespace melgrad::kernels
