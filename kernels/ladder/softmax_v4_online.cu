// Rung 4 of the softmax ladder (softmax_ladder.h): rung 3's warp per row, plus
//  - the online softmax (Milakov & Gimelshein, 2018): each lane keeps a running max m and
//    a running sum d of exp(x - m); when a larger value arrives the sum is rescaled,
//        d <- d exp(m_old - m_new) + exp(x - m_new),
//    so max and sum come out of ONE pass over x, and the lanes' (m, d) pairs combine the
//    same way in the shuffle tree. x is read twice (statistics, write) instead of three
//    times: a third less memory traffic for a memory-bound kernel;
//  - float4 loads and stores (a warp request moves 512 bytes) when cols % 4 == 0 and the
//    pointers are 16-byte aligned (template flag kVec); scalar otherwise.
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/ladder/ladder_common.cuh"
#include "kernels/ladder/softmax_ladder.h"

namespace melgrad::kernels::ladder {
namespace {

constexpr int kWarps = 4;

// Running (max, sum of exp(x - max)) of a stream of values; -inf values add nothing.
struct Online {
  float m = -INFINITY, d = 0.0f;

  __device__ void add(float x) {
    if (x > m) {
      d = d * expf(m - x) + 1.0f;  // m = -inf: expf(-inf) = 0
      m = x;
    } else if (m != -INFINITY) {
      d += expf(x - m);  // a NaN x makes d NaN: the row's output is NaN, as it should be
    }
  }
  __device__ void merge(float m2, float d2) {
    const float mn = fmaxf(m, m2);
    if (mn == -INFINITY) return;
    d = (m == -INFINITY ? 0.0f : d * expf(m - mn)) + (m2 == -INFINITY ? 0.0f : d2 * expf(m2 - mn));
    m = mn;
  }
};

template <bool kVec>
__global__ void __launch_bounds__(kWarps * 32)
    softmax_online(int rows, int cols, const float* x, float* y) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int row = static_cast<int>(blockIdx.x) * kWarps + static_cast<int>(threadIdx.x) / 32;
  if (MG_BRANCH(row >= rows)) return;
  const float* xr = x + static_cast<int64_t>(row) * cols;
  float* yr = y + static_cast<int64_t>(row) * cols;
  Online s;
  if (kVec) {
    for (int u = lane; u < cols / 4; u += 32) {
      const F4 q = load_f4<Mem::global>(xr + 4 * u);
      for (int e = 0; e < 4; ++e) s.add(q.v[e]);
    }
  } else {
    for (int j = lane; j < cols; j += 32) s.add(MG_LDG(&xr[j]));
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    const float m2 = __shfl_xor_sync(0xffffffffu, s.m, offset);
    const float d2 = __shfl_xor_sync(0xffffffffu, s.d, offset);
    s.merge(m2, d2);
  }
  const float inv = 1.0f / s.d;
  if (kVec) {
    for (int u = lane; u < cols / 4; u += 32) {
      F4 q = load_f4<Mem::global>(xr + 4 * u);
      for (int e = 0; e < 4; ++e) q.v[e] = expf(q.v[e] - s.m) * inv;
      store_f4<Mem::global>(yr + 4 * u, q);
    }
  } else {
    for (int j = lane; j < cols; j += 32) MG_STG(&yr[j], expf(MG_LDG(&xr[j]) - s.m) * inv);
  }
}

}  // namespace

void softmax_v4_online(const LadderSoftmaxParams& p, Stream stream) {
  const unsigned blocks = ceil_div(p.rows, kWarps);
  const int rows = static_cast<int>(p.rows), cols = static_cast<int>(p.cols);
  auto aligned = [](const void* q) { return reinterpret_cast<std::uintptr_t>(q) % 16 == 0; };
  if (p.cols % 4 == 0 && aligned(p.x) && aligned(p.y))
    MG_LAUNCH(softmax_online<true>, blocks, kWarps * 32, 0, stream)(rows, cols, p.x, p.y);
  else
    MG_LAUNCH(softmax_online<false>, blocks, kWarps * 32, 0, stream)(rows, cols, p.x, p.y);
  MG_CHECK_LAUNCH("ladder softmax v4 online");
}

}  // namespace melgrad::kernels::ladder
