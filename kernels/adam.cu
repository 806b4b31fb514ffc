// Fused multi-tensor Adam / AdamW (see adam.h) and its CPU reference.
// Each launch carries an AdamTable by value (kernel arguments, < 4 KB): the pointers and
// sizes of up to 36 tensors and, per block, which tensor and which kAdamChunk-element
// chunk of it the block updates. A block's 256 threads stride through their chunk (one
// element per thread per iteration, coalesced); the math is the CPU loop's, in float.
#include <cmath>
#include <string>

#include "kernels/adam.h"
#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels {
namespace {

constexpr int kThreads = 256;

// The step's scalars, as the CPU optimiser rounds them to float.
struct AdamScalars {
  float beta1, beta2, weight_decay, eps;
  float step_size;  // lr / (1 - beta1^t)
  float bc2_sqrt;   // sqrt(1 - beta2^t)
  float decay;      // 1 - lr * weight_decay
  int decoupled;
  int64_t chunk;  // elements per block
};

struct AdamTable {
  float* param[kAdamMaxTensorsPerLaunch];
  const float* grad[kAdamMaxTensorsPerLaunch];
  float* exp_avg[kAdamMaxTensorsPerLaunch];
  float* exp_avg_sq[kAdamMaxTensorsPerLaunch];
  int64_t numel[kAdamMaxTensorsPerLaunch];
  int32_t block_chunk[kAdamMaxBlocksPerLaunch];
  uint8_t block_tensor[kAdamMaxBlocksPerLaunch];
};
static_assert(sizeof(AdamTable) + sizeof(AdamScalars) <= 4000,
              "kernel arguments must stay under CUDA's 4 KB limit");
static_assert(kAdamMaxTensorsPerLaunch <= 256, "block_tensor is a uint8_t");

__device__ inline void adam_element(float& p, float g, float& m, float& v, const AdamScalars& s) {
  if (s.decoupled) {
    p *= s.decay;
  } else {
    g += s.weight_decay * p;
  }
  m = s.beta1 * m + (1.0f - s.beta1) * g;
  v = s.beta2 * v + (1.0f - s.beta2) * g * g;
  p -= s.step_size * m / (sqrtf(v) / s.bc2_sqrt + s.eps);
}

__global__ void __launch_bounds__(kThreads) adam_multi_tensor(AdamTable table, AdamScalars s) {
  const int t = table.block_tensor[blockIdx.x];
  const int64_t begin = static_cast<int64_t>(table.block_chunk[blockIdx.x]) * s.chunk;
  const int64_t left = table.numel[t] - begin;
  const int64_t end = begin + (left < s.chunk ? left : s.chunk);
  float* param = table.param[t];
  const float* grad = table.grad[t];
  float* m = table.exp_avg[t];
  float* v = table.exp_avg_sq[t];
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    float pi = param[i], mi = m[i], vi = v[i];
    adam_element(pi, grad[i], mi, vi, s);
    param[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

AdamScalars make_scalars(const AdamParams& p) {
  const char* fn = "adam_step";
  if (!(p.lr >= 0)) invalid_params(fn, "lr must be >= 0 (got " + std::to_string(p.lr) + ")");
  if (!(p.beta1 >= 0 && p.beta1 < 1 && p.beta2 >= 0 && p.beta2 < 1)) {
    invalid_params(fn, "betas must be in [0, 1) (got " + std::to_string(p.beta1) + ", " +
                           std::to_string(p.beta2) + ")");
  }
  if (!(p.eps >= 0)) invalid_params(fn, "eps must be >= 0 (got " + std::to_string(p.eps) + ")");
  if (!(p.weight_decay >= 0)) {
    invalid_params(fn, "weight_decay must be >= 0 (got " + std::to_string(p.weight_decay) + ")");
  }
  if (p.step < 1) invalid_params(fn, "step must be >= 1 (got " + std::to_string(p.step) + ")");
  AdamScalars s{};
  s.beta1 = static_cast<float>(p.beta1);
  s.beta2 = static_cast<float>(p.beta2);
  s.weight_decay = static_cast<float>(p.weight_decay);
  s.eps = static_cast<float>(p.eps);
  s.step_size = static_cast<float>(p.lr / (1 - std::pow(p.beta1, static_cast<double>(p.step))));
  s.bc2_sqrt = static_cast<float>(std::sqrt(1 - std::pow(p.beta2, static_cast<double>(p.step))));
  s.decay = static_cast<float>(1 - p.lr * p.weight_decay);
  s.decoupled = p.decoupled_weight_decay ? 1 : 0;
  if (p.chunk < 1) invalid_params(fn, "chunk must be >= 1 (got " + std::to_string(p.chunk) + ")");
  s.chunk = p.chunk;
  return s;
}

void validate_tensors(const AdamParams& p) {
  const char* fn = "adam_step";
  require_non_negative(fn, "count", p.count);
  if (p.count > 0) require_host_pointer(fn, "tensors", p.tensors);
  for (int64_t i = 0; i < p.count; ++i) {
    const AdamTensor& t = p.tensors[i];
    const std::string at = "tensors[" + std::to_string(i) + "].";
    require_non_negative(fn, (at + "numel").c_str(), t.numel);
    if (t.numel == 0) continue;
    require_pointer(fn, (at + "param").c_str(), t.param);
    require_pointer(fn, (at + "grad").c_str(), t.grad);
    require_pointer(fn, (at + "exp_avg").c_str(), t.exp_avg);
    require_pointer(fn, (at + "exp_avg_sq").c_str(), t.exp_avg_sq);
    if (ceil_div(t.numel, p.chunk) > INT32_MAX) {
      invalid_params(fn, at + "numel = " + std::to_string(t.numel) + " has too many chunks");
    }
  }
}

}  // namespace

void adam_step(const AdamParams& p, Stream stream) {
  const AdamScalars s = make_scalars(p);
  validate_tensors(p);
  AdamTable table{};
  int tensors = 0, blocks = 0;
  auto flush = [&] {
    if (blocks > 0) {
      MG_LAUNCH(adam_multi_tensor, blocks, kThreads, 0, stream)(table, s);
      MG_CHECK_LAUNCH("adam_step");
    }
    tensors = 0;
    blocks = 0;
  };
  for (int64_t i = 0; i < p.count; ++i) {
    const AdamTensor& t = p.tensors[i];
    const int64_t chunks = ceil_div(t.numel, p.chunk);
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      if (chunk == 0 || blocks == 0) {  // the tensor enters the table (again, after a flush)
        if (tensors == kAdamMaxTensorsPerLaunch) flush();
        table.param[tensors] = t.param;
        table.grad[tensors] = t.grad;
        table.exp_avg[tensors] = t.exp_avg;
        table.exp_avg_sq[tensors] = t.exp_avg_sq;
        table.numel[tensors] = t.numel;
        ++tensors;
      }
      table.block_tensor[blocks] = static_cast<uint8_t>(tensors - 1);
      table.block_chunk[blocks] = static_cast<int32_t>(chunk);
      if (++blocks == kAdamMaxBlocksPerLaunch) flush();
    }
  }
  flush();
}

// ---- CPU reference: engine/optim/optim.cpp's loop ----
void adam_step_reference(const AdamParams& p) {
  const AdamScalars s = make_scalars(p);
  for (int64_t k = 0; k < p.count; ++k) {
    const AdamTensor& t = p.tensors[k];
    for (int64_t i = 0; i < t.numel; ++i) {
      float gi = t.grad[i];
      float& pi = t.param[i];
      if (s.decoupled) {
        pi *= s.decay;
      } else {
        gi += s.weight_decay * pi;
      }
      t.exp_avg[i] = s.beta1 * t.exp_avg[i] + (1 - s.beta1) * gi;
      t.exp_avg_sq[i] = s.beta2 * t.exp_avg_sq[i] + (1 - s.beta2) * gi * gi;
      pi -= s.step_size * t.exp_avg[i] / (std::sqrt(t.exp_avg_sq[i]) / s.bc2_sqrt + s.eps);
    }
  }
}

}  // namespace melgrad::kernels
