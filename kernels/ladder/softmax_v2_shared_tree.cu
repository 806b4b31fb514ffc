// Rung 2 of the softmax ladder (softmax_ladder.h): one block of 256 threads per row. Each
// thread folds the columns j = t, t + 256, ... (neighbouring lanes read neighbouring
// floats: coalesced), then the 256 partials are combined by a tree in shared memory:
// at each level the first half adds the second half's values, then everyone waits at a
// barrier — log2(256) = 8 levels, 8 barriers, twice (max, then sum). In the last five
// levels fewer than 32 threads work, so the warp's `if` diverges.
#include "kernels/emu/cuda_compat.h"
#include "kernels/emu/emu_counters.h"
#include "kernels/ladder/softmax_ladder.h"

namespace melgrad::kernels::ladder {
namespace {

constexpr int kThreads = 256;

enum class Fold { max, sum };

// The block's fold of every thread's `v` (all threads get the result).
template <Fold kFold>
__device__ float block_tree(float* partial, float v) {
  const int t = static_cast<int>(threadIdx.x);
  MG_STS(&partial[t], v);
  MG_BARRIER();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (MG_BRANCH(t < half)) {
      const float a = MG_LDS(&partial[t]), b = MG_LDS(&partial[t + half]);
      MG_STS(&partial[t], kFold == Fold::max ? fmaxf(a, b) : a + b);
    }
    MG_BARRIER();
  }
  const float result = MG_LDS(&partial[0]);
  MG_BARRIER();  // partial is reused by the next fold
  return result;
}

__global__ void __launch_bounds__(kThreads)
    softmax_shared_tree(int cols, const float* x, float* y) {
  MG_SHARED(float, partial, kThreads);
  const int t = static_cast<int>(threadIdx.x);
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * cols;
  float* yr = y + static_cast<int64_t>(blockIdx.x) * cols;
  float m = -INFINITY;
  for (int j = t; j < cols; j += kThreads) m = fmaxf(m, MG_LDG(&xr[j]));
  m = block_tree<Fold::max>(partial, m);
  float sum = 0.0f;
  for (int j = t; j < cols; j += kThreads) sum += expf(MG_LDG(&xr[j]) - m);
  sum = block_tree<Fold::sum>(partial, sum);
  for (int j = t; j < cols; j += kThreads) MG_STG(&yr[j], expf(MG_LDG(&xr[j]) - m) / sum);
}

}  // namespace

void softmax_v2_shared_tree(const LadderSoftmaxParams& p, Stream stream) {
  MG_LAUNCH(softmax_shared_tree, static_cast<unsigned>(p.rows), kThreads, 0, stream)
  (static_cast<int>(p.cols), p.x, p.y);
  MG_CHECK_LAUNCH("ladder softmax v2 shared_tree");
}

}  // namespace melgrad::kernels::ladder
