// Inverted dropout (see dropout.h): forward (mask and/or y = x * mask) and backward
// (dx = dy * mask, the mask regenerated from the seed), with the CPU references.
// One thread per Philox block: a block yields the uniforms of 4 consecutive global indices
// 4c .. 4c+3, so a thread handles the (up to) 4 elements of one counter c; a grid-stride
// loop covers the counters of [offset, offset + n). 256 threads, at most 8 blocks per SM.
#include <cmath>
#include <string>

#include "common/random.h"
#include "kernels/dropout.h"
#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;

// The counters of the call, and the mask's two values.
struct DropoutStream {
  uint64_t seed;
  const uint64_t* seed_on_device;  // when set, the seed is read from here
  uint64_t offset;                 // global index of element 0
  uint64_t first;                  // first counter: offset / 4
  int64_t counters;                // counters touched by [offset, offset + n)
  int64_t n;
  float threshold;  // float(p): kept iff uniform >= threshold
  float keep;       // float(1 / (1 - p))
};

// Calls f(i, m) for the elements i of counter `c` inside the call, m their mask value.
template <class F>
__device__ void for_each_masked(const DropoutStream& s, uint64_t c, F f) {
  const PhiloxBlock r = philox4x32_10(c, s.seed_on_device != nullptr ? *s.seed_on_device : s.seed);
  for (int lane = 0; lane < 4; ++lane) {
    const uint64_t global = 4 * c + static_cast<uint64_t>(lane);
    if (global < s.offset) continue;
    const int64_t i = static_cast<int64_t>(global - s.offset);
    if (i >= s.n) break;
    f(i, philox_to_unit(r[lane]) >= s.threshold ? s.keep : 0.0f);
  }
}

__global__ void __launch_bounds__(kThreads)
    dropout_forward_kernel(const float* x, float* y, float* mask, DropoutStream s) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < s.counters;
       t += step) {
    for_each_masked(s, s.first + static_cast<uint64_t>(t), [&](int64_t i, float m) {
      if (mask != nullptr) mask[i] = m;
      if (x != nullptr) y[i] = x[i] * m;
    });
  }
}

__global__ void __launch_bounds__(kThreads)
    dropout_backward_kernel(const float* dy, float* dx, DropoutStream s) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < s.counters;
       t += step) {
    for_each_masked(s, s.first + static_cast<uint64_t>(t),
                    [&](int64_t i, float m) { dx[i] = dy[i] * m; });
  }
}

DropoutStream make_stream(const char* fn, int64_t n, double p, uint64_t seed, uint64_t offset,
                          const uint64_t* seed_on_device) {
  require_non_negative(fn, "n", n);
  if (!(p >= 0.0 && p < 1.0)) {
    invalid_params(fn, "p must be in [0, 1) (got " + std::to_string(p) + ")");
  }
  if (offset > UINT64_MAX - static_cast<uint64_t>(n)) {
    invalid_params(fn, "offset + n overflows 64 bits");
  }
  require_optional_pointer(fn, "seed_on_device", seed_on_device);  // kernel argument struct
  DropoutStream s{};
  s.seed = seed;
  s.seed_on_device = seed_on_device;
  s.offset = offset;
  s.first = offset / 4;
  s.n = n;
  s.counters =
      n == 0 ? 0 : static_cast<int64_t>((offset + static_cast<uint64_t>(n) - 1) / 4 - s.first + 1);
  s.threshold = static_cast<float>(p);
  s.keep = static_cast<float>(1.0 / (1.0 - p));
  return s;
}

dim3 grid_for(int64_t counters) {
  const int64_t cap = static_cast<int64_t>(device_sm_count()) * kBlocksPerSm;
  const int64_t blocks = ceil_div(counters, kThreads);
  return dim3(static_cast<unsigned>(blocks < cap ? blocks : cap));
}

}  // namespace

void dropout_forward(const DropoutParams& p, Stream stream) {
  const char* fn = "dropout_forward";
  const DropoutStream s = make_stream(fn, p.n, p.p, p.seed, p.offset, p.seed_on_device);
  if (p.x == nullptr && p.mask == nullptr) invalid_params(fn, "neither x nor mask is given");
  if (p.n == 0) return;
  if (p.x != nullptr) require_pointer(fn, "y (required with x)", p.y);
  MG_LAUNCH(dropout_forward_kernel, grid_for(s.counters), kThreads, 0, stream)(p.x, p.y, p.mask, s);
  MG_CHECK_LAUNCH(fn);
}

void dropout_backward(const DropoutBackwardParams& p, Stream stream) {
  const char* fn = "dropout_backward";
  const DropoutStream s = make_stream(fn, p.n, p.p, p.seed, p.offset, p.seed_on_device);
  if (p.n == 0) return;
  require_pointer(fn, "dy", p.dy);
  require_pointer(fn, "dx", p.dx);
  MG_LAUNCH(dropout_backward_kernel, grid_for(s.counters), kThreads, 0, stream)(p.dy, p.dx, s);
  MG_CHECK_LAUNCH(fn);
}

// ---- CPU references: element by element, as engine/ops/dropout.cpp draws the mask ----
namespace {
float reference_mask(double p, uint64_t seed, uint64_t index) {
  const float keep = static_cast<float>(1.0 / (1.0 - p));
  return philox_uniform_at(seed, index) >= static_cast<float>(p) ? keep : 0.0f;
}
}  // namespace

void dropout_forward_reference(const DropoutParams& p) {
  for (int64_t i = 0; i < p.n; ++i) {
    const float m = reference_mask(p.p, p.seed, p.offset + static_cast<uint64_t>(i));
    if (p.mask != nullptr) p.mask[i] = m;
    if (p.x != nullptr) p.y[i] = p.x[i] * m;
  }
}

void dropout_backward_reference(const DropoutBackwardParams& p) {
  for (int64_t i = 0; i < p.n; ++i) {
    p.dx[i] = p.dy[i] * reference_mask(p.p, p.seed, p.offset + static_cast<uint64_t>(i));
  }
}

}  // namespace melgrad::kernels
