// Cross-entropy forward and backward from logits (see cross_entropy.h), with the CPU
// references. Three kernels:
//   ce_lse_{warp,block}_rows: lse_i of each row, one warp per row (c <= 1024, 8 rows per
//       block) or one block per row, max-shifted as softmax.cu (block_reduce.cuh groups);
//   ce_reduce:   one block sums w_{t_i} (lse_i - x_{i,t_i}) and w_{t_i} over the rows in a
//                fixed order (deterministic, no atomics), writes loss and W;
//   ce_backward: one thread per logit (grid-stride), dx_ij from lse_i, t_i and g.
#include <cmath>
#include <string>

#include "kernels/block_reduce.cuh"
#include "kernels/cross_entropy.h"
#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels {
namespace {

using device::BlockGroup;
constexpr int kThreads = 256;  // warp-rows kernel: 8 rows per block
constexpr int kWarpRowsPerBlock = kThreads / device::kWarpSize;
constexpr int kReduceThreads = 1024;
constexpr int kBlocksPerSm = 8;

template <class Group>
__device__ void row_lse(const float* x, int64_t c, float* lse, Group g) {
  float m = -INFINITY;
  for (int64_t j = g.rank; j < c; j += g.size()) m = device::nan_max(m, x[j]);
  m = g.reduce(m, device::MaxOp{}, -INFINITY);
  float s = 0.0f;
  for (int64_t j = g.rank; j < c; j += g.size()) s += expf(x[j] - m);
  s = g.reduce(s, device::SumOp{}, 0.0f);
  if (g.rank == 0) *lse = m + logf(s);
}

__global__ void __launch_bounds__(kThreads)
    ce_lse_warp_rows(const float* x, float* lse, int64_t n, int64_t c) {
  const int64_t row = device::warp_row();
  if (row >= n) return;  // whole warps leave together; there is no block barrier
  row_lse(x + row * c, c, lse + row, device::this_warp());
}

__global__ void __launch_bounds__(1024) ce_lse_block_rows(const float* x, float* lse, int64_t c) {
  const int64_t row = blockIdx.x;
  row_lse(x + row * c, c, lse + row,
          BlockGroup{static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x)});
}

// w_{t_i} (1 without weights), NaN when the target is out of range.
__device__ inline float target_weight(const float* weight, int64_t t, int64_t c) {
  if (t < 0 || t >= c) return NAN;
  return weight != nullptr ? weight[t] : 1.0f;
}

__global__ void __launch_bounds__(kReduceThreads)
    ce_reduce(const float* x, const int64_t* targets, const float* weight, const float* lse,
              float* loss, float* weight_sum, int64_t n, int64_t c) {
  float num = 0.0f, den = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const int64_t t = targets[i];
    const float w = target_weight(weight, t, c);
    const float picked = (t >= 0 && t < c) ? x[i * c + t] : NAN;
    num += w * (lse[i] - picked);
    den += w;
  }
  const BlockGroup g{static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x)};
  num = g.reduce(num, device::SumOp{}, 0.0f);
  den = g.reduce(den, device::SumOp{}, 0.0f);
  if (threadIdx.x == 0) {
    *loss = num / den;
    if (weight_sum != nullptr) *weight_sum = den;
  }
}

__global__ void __launch_bounds__(kThreads)
    ce_backward(const float* x, const int64_t* targets, const float* weight, const float* lse,
                const float* weight_sum, const float* grad_loss, float* dx, int64_t n, int64_t c) {
  const float scale = *grad_loss / (weight_sum != nullptr ? *weight_sum : static_cast<float>(n));
  const int64_t total = n * c;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total;
       k += step) {
    const int64_t i = k / c, j = k % c;
    const int64_t t = targets[i];
    const float w = target_weight(weight, t, c);
    const float prob = expf(x[k] - lse[i]);
    dx[k] = scale * w * (j == t ? prob - 1.0f : prob);
  }
}

dim3 grid_for(int64_t work) {
  const int64_t cap = static_cast<int64_t>(device_sm_count()) * kBlocksPerSm;
  const int64_t blocks = ceil_div(work, kThreads);
  return dim3(static_cast<unsigned>(blocks < cap ? blocks : cap));
}

bool validate(const char* fn, int64_t n, int64_t c) {
  require_non_negative(fn, "n", n);
  require_non_negative(fn, "c", c);
  if (n > 0 && c == 0) invalid_params(fn, "c must be > 0 when there are rows (got c = 0)");
  require_grid_x(fn, c <= kCrossEntropyWarpRowMaxClasses ? ceil_div(n, kWarpRowsPerBlock) : n);
  return n > 0;
}

}  // namespace

void cross_entropy_forward(const CrossEntropyParams& p, Stream stream) {
  const char* fn = "cross_entropy_forward";
  require_pointer(fn, "loss", p.loss);
  if (validate(fn, p.n, p.c)) {
    require_pointer(fn, "logits", p.logits);
    require_pointer(fn, "targets", p.targets);
    require_pointer(fn, "lse", p.lse);
    if (p.c <= kCrossEntropyWarpRowMaxClasses) {
      const dim3 grid(static_cast<unsigned>(ceil_div(p.n, kWarpRowsPerBlock)));
      MG_LAUNCH(ce_lse_warp_rows, grid, kThreads, 0, stream)(p.logits, p.lse, p.n, p.c);
    } else {
      const int threads = p.c >= 8192 ? 1024 : kThreads;
      MG_LAUNCH(ce_lse_block_rows, dim3(static_cast<unsigned>(p.n)), threads, 0, stream)
      (p.logits, p.lse, p.c);
    }
    MG_CHECK_LAUNCH(fn);
  }
  // Also for n == 0: the mean over no rows is 0 / 0 = NaN, as in PyTorch.
  const int reduce_threads =
      p.n <= 4096 ? 256 : kReduceThreads;  // small batches: less barrier work
  MG_LAUNCH(ce_reduce, 1, reduce_threads, 0, stream)
  (p.logits, p.targets, p.weight, p.lse, p.loss, p.weight_sum, p.n, p.c);
  MG_CHECK_LAUNCH(fn);
}

void cross_entropy_backward(const CrossEntropyBackwardParams& p, Stream stream) {
  const char* fn = "cross_entropy_backward";
  if (!validate(fn, p.n, p.c)) return;
  require_pointer(fn, "logits", p.logits);
  require_pointer(fn, "targets", p.targets);
  require_pointer(fn, "lse", p.lse);
  require_pointer(fn, "grad_loss", p.grad_loss);
  require_pointer(fn, "dlogits", p.dlogits);
  if (p.weight != nullptr && p.weight_sum == nullptr) {
    invalid_params(fn, "weight_sum is null but class weights are given (W is not n)");
  }
  MG_LAUNCH(ce_backward, grid_for(p.n * p.c), kThreads, 0, stream)
  (p.logits, p.targets, p.weight, p.lse, p.weight_sum, p.grad_loss, p.dlogits, p.n, p.c);
  MG_CHECK_LAUNCH(fn);
}

// ---- CPU references: double accumulation, the textbook formulas ----
namespace {
double reference_lse(const float* x, int64_t c) {
  double m = -INFINITY;
  for (int64_t j = 0; j < c; ++j) m = (x[j] > m || std::isnan(x[j])) ? x[j] : m;
  double s = 0.0;
  for (int64_t j = 0; j < c; ++j) s += std::exp(x[j] - m);
  return m + std::log(s);
}
double reference_weight(const float* weight, int64_t t, int64_t c) {
  if (t < 0 || t >= c) return NAN;
  return weight != nullptr ? weight[t] : 1.0;
}
}  // namespace

void cross_entropy_forward_reference(const CrossEntropyParams& p) {
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < p.n; ++i) {
    const float* x = p.logits + i * p.c;
    const double lse = reference_lse(x, p.c);
    if (p.lse != nullptr) p.lse[i] = static_cast<float>(lse);
    const int64_t t = p.targets[i];
    const double w = reference_weight(p.weight, t, p.c);
    num += w * (lse - ((t >= 0 && t < p.c) ? double{x[t]} : NAN));
    den += w;
  }
  *p.loss = static_cast<float>(num / den);
  if (p.weight_sum != nullptr) *p.weight_sum = static_cast<float>(den);
}

void cross_entropy_backward_reference(const CrossEntropyBackwardParams& p) {
  const double scale =
      double{*p.grad_loss} / (p.weight_sum != nullptr ? double{*p.weight_sum} : double(p.n));
  for (int64_t i = 0; i < p.n; ++i) {
    const int64_t t = p.targets[i];
    const double w = reference_weight(p.weight, t, p.c);
    for (int64_t j = 0; j < p.c; ++j) {
      const double prob = std::exp(double{p.logits[i * p.c + j]} - p.lse[i]);
      p.dlogits[i * p.c + j] = static_cast<float>(scale * w * (j == t ? prob - 1.0 : prob));
    }
  }
}

}  // namespace melgrad::kernels
