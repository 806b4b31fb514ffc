// Batch normalisation (kernels/batchnorm.h) over x viewed as [N, C, S]; channel c holds the
// M = N * S values x[n, c, :]. Every per-channel reduction is split over grid (splits, C)
// and finished by one thread per channel that merges the splits in order, so results do
// not depend on the schedule.
//   forward (batch statistics): stats_partial  per-thread Welford (count, mean, M2), merged
//                                              by Chan's formula over the block (a
//                                              shared-memory tree), written per split;
//                               stats_finalize mean, biased var, invstd, running-stat update;
//                               apply          y = x * scale[c] + shift[c] (fused scale/shift);
//   forward (running statistics): running_to_saved, apply.
//   backward: grad_partial (sum dy, sum dy (x - mean) per split), grad_finalize (dweight,
//             dbias, and the three per-channel coefficients of dx), grad_input (dx).
// clang-format off: the CUDA / emulator shim comes first
#include "kernels/emu/cuda_compat.h"
// clang-format on
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/cudnn_layers.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels {
namespace {

constexpr int kThreads = 256;

struct Geometry {
  int64_t N, C, S, M;  // M = N * S values per channel
  int splits;
  int64_t per_split;  // values of a channel per split (the last split may have fewer)
};

// Value e (0 <= e < M) of channel c.
__device__ inline int64_t channel_offset(int64_t e, int64_t c, int64_t C, int64_t S) {
  const int64_t n = e / S;
  return (n * C + c) * S + (e - n * S);
}

// Chan et al.: merges (nb, mb, m2b) into (na, ma, m2a).
__host__ __device__ inline void welford_merge(float& na, float& ma, float& m2a, float nb, float mb,
                                              float m2b) {
  const float n = na + nb;
  if (nb == 0.0f) return;
  const float delta = mb - ma, f = nb / n;
  ma += delta * f;
  m2a += m2b + delta * delta * na * f;
  na = n;
}

// grid (splits, C): partial[(c * splits + z) * 2 + {0, 1}] = mean, M2 of split z.
__global__ void __launch_bounds__(kThreads)
    stats_partial(const float* x, float* partial, Geometry g) {
  MG_SHARED_2D(float, tree, 3, kThreads);  // n, mean, M2 of each thread
  const int64_t c = blockIdx.y, z = blockIdx.x;
  const int64_t begin = z * g.per_split,
                end = begin + g.per_split < g.M ? begin + g.per_split : g.M;
  float n = 0.0f, mean = 0.0f, m2 = 0.0f;
  for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) {
    const float v = x[channel_offset(e, c, g.C, g.S)];
    n += 1.0f;
    const float d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  // Tree merge over the block in shared memory, in a fixed order (8 barriers).
  const int tid = static_cast<int>(threadIdx.x);
  tree[0][tid] = n, tree[1][tid] = mean, tree[2][tid] = m2;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (tid < width) {
      float na = tree[0][tid], ma = tree[1][tid], m2a = tree[2][tid];
      welford_merge(na, ma, m2a, tree[0][tid + width], tree[1][tid + width], tree[2][tid + width]);
      tree[0][tid] = na, tree[1][tid] = ma, tree[2][tid] = m2a;
    }
    __syncthreads();
  }
  if (tid != 0) return;
  const float bmean = tree[1][0], bm2 = tree[2][0];
  partial[(c * g.splits + z) * 2] = bmean;
  partial[(c * g.splits + z) * 2 + 1] = bm2;
}

// One thread per channel: merges the splits (in double), writes save_mean / save_invstd and
// updates the running statistics (unbiased variance) when given.
__global__ void stats_finalize(const float* partial, Geometry g, double momentum, double eps,
                               float* running_mean, float* running_var, float* save_mean,
                               float* save_invstd) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= g.C) return;
  double n = 0.0, mean = 0.0, m2 = 0.0;
  for (int z = 0; z < g.splits; ++z) {
    const int64_t left = g.M - z * g.per_split;
    const double nb = static_cast<double>(left < g.per_split ? left : g.per_split);
    const double mb = partial[(c * g.splits + z) * 2], m2b = partial[(c * g.splits + z) * 2 + 1];
    const double total = n + nb, delta = mb - mean;
    mean += delta * nb / total;
    m2 += m2b + delta * delta * n * nb / total;
    n = total;
  }
  const float var = static_cast<float>(m2 / n);  // biased, as the engine keeps it
  save_mean[c] = static_cast<float>(mean);
  save_invstd[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(var) + eps));
  if (running_mean != nullptr) {
    const double unbias = n > 1.0 ? n / (n - 1.0) : 1.0;
    running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] +
                                         momentum * static_cast<float>(mean));
    running_var[c] =
        static_cast<float>((1.0 - momentum) * running_var[c] + momentum * var * unbias);
  }
}

__global__ void running_to_saved(const float* running_mean, const float* running_var, double eps,
                                 int64_t C, float* save_mean, float* save_invstd) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  save_mean[c] = running_mean[c];
  save_invstd[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(running_var[c]) + eps));
}

__global__ void __launch_bounds__(kThreads)
    apply(const float* x, float* y, const float* weight, const float* bias, const float* mean,
          const float* invstd, int64_t total, int64_t C, int64_t S) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += stride) {
    const int64_t c = (e / S) % C;
    const float scale = (weight != nullptr ? weight[c] : 1.0f) * invstd[c];
    const float shift = (bias != nullptr ? bias[c] : 0.0f) - mean[c] * scale;
    y[e] = x[e] * scale + shift;
  }
}

// grid (splits, C): partial[(c * splits + z) * 2 + {0, 1}] = sum dy, sum dy (x - mean).
__global__ void __launch_bounds__(kThreads)
    grad_partial(const float* x, const float* dy, const float* mean, float* partial, Geometry g) {
  MG_SHARED_2D(float, tree, 2, kThreads);
  const int64_t c = blockIdx.y, z = blockIdx.x;
  const int64_t begin = z * g.per_split,
                end = begin + g.per_split < g.M ? begin + g.per_split : g.M;
  const float m = mean[c];
  float s1 = 0.0f, s2 = 0.0f;
  for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) {
    const int64_t o = channel_offset(e, c, g.C, g.S);
    s1 += dy[o];
    s2 += dy[o] * (x[o] - m);
  }
  // Tree sum over the block in shared memory, in a fixed order (8 barriers).
  const int tid = static_cast<int>(threadIdx.x);
  tree[0][tid] = s1, tree[1][tid] = s2;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (tid < width) {
      tree[0][tid] += tree[0][tid + width];
      tree[1][tid] += tree[1][tid + width];
    }
    __syncthreads();
  }
  if (tid == 0) {
    partial[(c * g.splits + z) * 2] = tree[0][0];
    partial[(c * g.splits + z) * 2 + 1] = tree[1][0];
  }
}

// One thread per channel: dbias, dweight and coef[c] = {k, a, b} of dx = k (dy - a - (x - m) b).
__global__ void grad_finalize(const float* partial, Geometry g, const float* weight,
                              const float* invstd, bool batch_stats, float* dweight, float* dbias,
                              float* coef) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= g.C) return;
  double sum_dy = 0.0, sum_dy_xmu = 0.0;
  for (int z = 0; z < g.splits; ++z) {
    sum_dy += partial[(c * g.splits + z) * 2];
    sum_dy_xmu += partial[(c * g.splits + z) * 2 + 1];
  }
  const float is = invstd[c];
  if (dbias != nullptr) dbias[c] = static_cast<float>(sum_dy);
  if (dweight != nullptr) dweight[c] = static_cast<float>(sum_dy_xmu * is);
  const double count = static_cast<double>(g.M);
  coef[c * 3] = (weight != nullptr ? weight[c] : 1.0f) * is;
  coef[c * 3 + 1] = batch_stats ? static_cast<float>(sum_dy / count) : 0.0f;
  coef[c * 3 + 2] = batch_stats ? static_cast<float>(sum_dy_xmu / count * is * is) : 0.0f;
}

__global__ void __launch_bounds__(kThreads)
    grad_input(const float* x, const float* dy, const float* mean, const float* coef, float* dx,
               int64_t total, int64_t C, int64_t S) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += stride) {
    const int64_t c = (e / S) % C;
    dx[e] = coef[c * 3] * (dy[e] - coef[c * 3 + 1] - (x[e] - mean[c]) * coef[c * 3 + 2]);
  }
}

// ---- host side ----

Geometry geometry(int64_t N, int64_t C, int64_t S) {
  Geometry g{N, C, S, N * S, 1, N * S};
  const int64_t target_blocks = 8 * int64_t{device_sm_count()};
  int64_t splits =
      std::min(ceil_div(target_blocks, std::max<int64_t>(C, 1)), ceil_div(g.M, 4 * kThreads));
  splits = std::max(splits, ceil_div(g.M, int64_t{1} << 22));  // float counts stay exact per split
  g.splits = static_cast<int>(std::clamp<int64_t>(splits, 1, 65535));
  g.per_split = std::max<int64_t>(ceil_div(g.M, g.splits), 1);
  g.splits = static_cast<int>(std::max<int64_t>(ceil_div(g.M, g.per_split), 1));
  return g;
}

void validate_sizes(const char* fn, int64_t N, int64_t C, int64_t S) {
  require_non_negative(fn, "N", N);
  require_non_negative(fn, "C", C);
  require_non_negative(fn, "S", S);
  if (C > 65535) invalid_params(fn, "C = " + std::to_string(C) + " exceeds 65535 channels");
}

unsigned grid_for(int64_t total) {
  return static_cast<unsigned>(
      std::clamp<int64_t>(ceil_div(total, kThreads), 1, int64_t{32} * device_sm_count()));
}

unsigned channel_blocks(int64_t C) {
  return static_cast<unsigned>(std::max<int64_t>(ceil_div(C, 128), 1));
}

// The caller's workspace when big enough, else an owned one.
float* scratch(const char* fn, float* given, std::size_t given_bytes, std::size_t need,
               DeviceBuffer<float>& owned) {
  if (need == 0) return nullptr;
  if (given != nullptr) {
    if (given_bytes < need) {
      invalid_params(fn, "workspace_bytes = " + std::to_string(given_bytes) + " is less than the " +
                             std::to_string(need) + " bytes needed");
    }
    return given;
  }
  owned = DeviceBuffer<float>(need / sizeof(float));
  return owned.data();
}

bool forward_batch_stats(const BatchNormForwardParams& p) {
  return p.training || p.running_mean == nullptr;
}

// CUDNN_BN_MIN_EPSILON.
constexpr double kCudnnMinEps = 1e-5;

}  // namespace

DnnImpl default_batch_norm_impl() {
  static const DnnImpl impl = detail::dnn_impl_from_env("MELGRAD_BATCHNORM");
  return impl;
}

std::size_t batch_norm_forward_workspace_bytes(const BatchNormForwardParams& p) {
  if (!forward_batch_stats(p) || p.N * p.S == 0) return 0;
  return sizeof(float) * 2 * static_cast<std::size_t>(p.C * geometry(p.N, p.C, p.S).splits);
}

std::size_t batch_norm_backward_workspace_bytes(const BatchNormBackwardParams& p) {
  return sizeof(float) * static_cast<std::size_t>(p.C * (2 * geometry(p.N, p.C, p.S).splits + 3));
}

void batch_norm_forward(const BatchNormForwardParams& p, Stream stream) {
  const char* fn = "batch_norm_forward";
  validate_sizes(fn, p.N, p.C, p.S);
  if (p.C == 0) return;
  require_pointer(fn, "save_mean", p.save_mean);
  require_pointer(fn, "save_invstd", p.save_invstd);
  if ((p.running_mean == nullptr) != (p.running_var == nullptr)) {
    invalid_params(fn, "running_mean and running_var must be given together (or both null)");
  }
  if (!(p.eps > 0) || p.momentum < 0 || p.momentum > 1) {
    invalid_params(fn, "eps " + std::to_string(p.eps) + " must be > 0 and momentum " +
                           std::to_string(p.momentum) + " in [0, 1]");
  }
  const bool batch_stats = forward_batch_stats(p);
  if (batch_stats && p.N * p.S <= 1) {
    invalid_params(fn, "expected more than 1 value per channel when using batch statistics (N " +
                           std::to_string(p.N) + ", S " + std::to_string(p.S) + ")");
  }
  if (p.N * p.S == 0) return;
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "y", p.y);
  const bool cudnn_ok = p.weight != nullptr && p.bias != nullptr && p.eps >= kCudnnMinEps;
  const DnnImpl impl =
      detail::resolve_dnn_impl(fn, p.impl, default_batch_norm_impl(), cudnn_ok,
                               "it needs weight and bias (affine) and eps >= 1e-5");
  if (impl == DnnImpl::cudnn) {
    if (!batch_stats) {  // cuDNN's inference call does not report the statistics it used
      MG_LAUNCH(running_to_saved, channel_blocks(p.C), 128, 0, stream)
      (p.running_mean, p.running_var, p.eps, p.C, p.save_mean, p.save_invstd);
      MG_CHECK_LAUNCH(fn);
    }
    detail::cudnn_batch_norm_forward(p, stream);
    return;
  }
  const int64_t total = p.N * p.C * p.S;
  DeviceBuffer<float> owned;
  if (batch_stats) {
    const Geometry g = geometry(p.N, p.C, p.S);
    float* partial =
        scratch(fn, p.workspace, p.workspace_bytes, batch_norm_forward_workspace_bytes(p), owned);
    MG_LAUNCH(stats_partial, dim3(static_cast<unsigned>(g.splits), static_cast<unsigned>(p.C)),
              kThreads, 0, stream)
    (p.x, partial, g);
    MG_LAUNCH(stats_finalize, channel_blocks(p.C), 128, 0, stream)
    (partial, g, p.momentum, p.eps, p.running_mean, p.running_var, p.save_mean, p.save_invstd);
  } else {
    MG_LAUNCH(running_to_saved, channel_blocks(p.C), 128, 0, stream)
    (p.running_mean, p.running_var, p.eps, p.C, p.save_mean, p.save_invstd);
  }
  MG_LAUNCH(apply, grid_for(total), kThreads, 0, stream)
  (p.x, p.y, p.weight, p.bias, p.save_mean, p.save_invstd, total, p.C, p.S);
  MG_CHECK_LAUNCH(fn);
}

void batch_norm_backward(const BatchNormBackwardParams& p, Stream stream) {
  const char* fn = "batch_norm_backward";
  validate_sizes(fn, p.N, p.C, p.S);
  if (p.C == 0 || (p.dx == nullptr && p.dweight == nullptr && p.dbias == nullptr)) return;
  require_pointer(fn, "dy", p.dy);
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "save_mean", p.save_mean);
  require_pointer(fn, "save_invstd", p.save_invstd);
  const bool cudnn_ok = p.batch_stats && p.weight != nullptr && p.dx != nullptr &&
                        p.dweight != nullptr && p.dbias != nullptr && p.eps >= kCudnnMinEps;
  const DnnImpl impl = detail::resolve_dnn_impl(
      fn, p.impl, default_batch_norm_impl(), cudnn_ok,
      "it needs batch statistics, weight, all three gradients and eps >= 1e-5");
  if (impl == DnnImpl::cudnn) {
    detail::cudnn_batch_norm_backward(p, stream);
    return;
  }
  const Geometry g = geometry(p.N, p.C, p.S);
  DeviceBuffer<float> owned;
  float* partial =
      scratch(fn, p.workspace, p.workspace_bytes, batch_norm_backward_workspace_bytes(p), owned);
  float* coef = partial + 2 * p.C * g.splits;
  if (p.N * p.S > 0) {
    MG_LAUNCH(grad_partial, dim3(static_cast<unsigned>(g.splits), static_cast<unsigned>(p.C)),
              kThreads, 0, stream)
    (p.x, p.dy, p.save_mean, partial, g);
  }
  Geometry fg = g;
  if (p.N * p.S == 0) fg.splits = 0;  // empty batch: zero sums
  MG_LAUNCH(grad_finalize, channel_blocks(p.C), 128, 0, stream)
  (partial, fg, p.weight, p.save_invstd, p.batch_stats, p.dweight, p.dbias, coef);
  const int64_t total = p.N * p.C * p.S;
  if (p.dx != nullptr && total > 0) {
    MG_LAUNCH(grad_input, grid_for(total), kThreads, 0, stream)
    (p.x, p.dy, p.save_mean, coef, p.dx, total, p.C, p.S);
  }
  MG_CHECK_LAUNCH(fn);
}

// ---- CPU references: engine/cpu/norm.cpp's formulas, double sums ----

void batch_norm_forward_reference(const BatchNormForwardParams& p) {
  const bool batch_stats = forward_batch_stats(p);
  const double count = static_cast<double>(p.N * p.S);
  for (int64_t c = 0; c < p.C; ++c) {
    double mean, var;
    if (batch_stats) {
      double s1 = 0, s2 = 0;
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t s = 0; s < p.S; ++s) s1 += p.x[(n * p.C + c) * p.S + s];
      mean = s1 / count;
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t s = 0; s < p.S; ++s) {
          const double d = p.x[(n * p.C + c) * p.S + s] - mean;
          s2 += d * d;
        }
      var = static_cast<float>(s2 / count);
      if (p.running_mean != nullptr) {
        const double unbias = count > 1 ? count / (count - 1) : 1.0;
        p.running_mean[c] = static_cast<float>((1 - p.momentum) * p.running_mean[c] +
                                               p.momentum * static_cast<float>(mean));
        p.running_var[c] =
            static_cast<float>((1 - p.momentum) * p.running_var[c] + p.momentum * var * unbias);
      }
    } else {
      mean = p.running_mean[c];
      var = p.running_var[c];
    }
    const float invstd = static_cast<float>(1.0 / std::sqrt(var + p.eps));
    p.save_mean[c] = static_cast<float>(mean);
    p.save_invstd[c] = invstd;
    const double scale = (p.weight != nullptr ? p.weight[c] : 1.0) * invstd;
    const double shift = (p.bias != nullptr ? p.bias[c] : 0.0) - static_cast<float>(mean) * scale;
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t s = 0; s < p.S; ++s) {
        const int64_t o = (n * p.C + c) * p.S + s;
        p.y[o] = static_cast<float>(p.x[o] * scale + shift);
      }
  }
}

void batch_norm_backward_reference(const BatchNormBackwardParams& p) {
  const double count = static_cast<double>(p.N * p.S);
  for (int64_t c = 0; c < p.C; ++c) {
    const double m = p.save_mean[c], is = p.save_invstd[c];
    double sum_dy = 0, sum_dy_xmu = 0;
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t s = 0; s < p.S; ++s) {
        const int64_t o = (n * p.C + c) * p.S + s;
        sum_dy += p.dy[o];
        sum_dy_xmu += double{p.dy[o]} * (p.x[o] - m);
      }
    if (p.dbias != nullptr) p.dbias[c] = static_cast<float>(sum_dy);
    if (p.dweight != nullptr) p.dweight[c] = static_cast<float>(sum_dy_xmu * is);
    if (p.dx == nullptr) continue;
    const double k = (p.weight != nullptr ? p.weight[c] : 1.0) * is;
    const double a = p.batch_stats ? sum_dy / count : 0.0;
    const double b = p.batch_stats ? sum_dy_xmu / count * is * is : 0.0;
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t s = 0; s < p.S; ++s) {
        const int64_t o = (n * p.C + c) * p.S + s;
        p.dx[o] = static_cast<float>(k * (p.dy[o] - a - (p.x[o] - m) * b));
      }
  }
}

}  // namespace melgrad::kernels
