// The LSTM launchers (kernels/lstm.h): parameter validation, the choice between the
// persistent kernel (lstm_persistent.cu) and the step-wise fallback (lstm_stepwise.cu), and
// the two small kernels both algorithms share:
//   lstm_zero_padded   zero output (forward) or grad_gates (backward) at steps t >= len,
//                      and h_n / c_n of empty sequences;
//   lstm_weight_grad   dW_hh(d) = sum over real steps of grad_gates^T h_prev and the bias
//                      gradient sum of grad_gates, as one tiled reduction over all N*T rows
//                      after the recurrence (off its critical path; deterministic order).
// Shapes: grad_gates [N, T, D*4H], output [N, T, D*H], dW_hh [4H, H], db [4H] per direction.
#include <algorithm>
#include <string>

#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"
#include "kernels/lstm_device.cuh"

namespace melgrad::kernels {
namespace lstm_detail {

ForwardArgs forward_args(const LstmForwardParams& p) {
  return ForwardArgs{p.lengths,
                     p.gates_x,
                     {p.w_hh[0], p.w_hh[1]},
                     {p.reverse[0] ? 1 : 0, p.reverse[1] ? 1 : 0},
                     p.output,
                     p.h_n,
                     p.c_n,
                     p.cells,
                     p.gates,
                     static_cast<int>(p.dims.batch),
                     static_cast<int>(p.dims.steps),
                     static_cast<int>(p.dims.hidden),
                     p.dims.directions};
}

BackwardArgs backward_args(const LstmBackwardParams& p) {
  return BackwardArgs{p.lengths,
                      {p.w_hh[0], p.w_hh[1]},
                      {p.reverse[0] ? 1 : 0, p.reverse[1] ? 1 : 0},
                      p.output,
                      p.gates,
                      p.cells,
                      p.grad_output,
                      p.grad_h_n,
                      p.grad_c_n,
                      p.grad_gates,
                      p.grad_h0,
                      p.grad_c0,
                      static_cast<int>(p.dims.batch),
                      static_cast<int>(p.dims.steps),
                      static_cast<int>(p.dims.hidden),
                      p.dims.directions};
}

namespace {

constexpr int kZeroThreads = 256;

// y [N, T, width]: zero at t >= len(n). states [D, N, H] (both, or null): zero for len = 0.
__global__ void __launch_bounds__(kZeroThreads)
    lstm_zero_padded(float* y, int width, const int64_t* lengths, int N, int T, float* state0,
                     float* state1, int D, int H) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t total = static_cast<int64_t>(N) * T * width;
  for (int64_t i = first; i < total; i += stride) {
    const int64_t row = i / width;
    const int n = static_cast<int>(row / T), t = static_cast<int>(row % T);
    if (t >= clamped_length(lengths, n, T)) y[i] = 0.0f;
  }
  if (state0 == nullptr) return;
  for (int64_t i = first; i < static_cast<int64_t>(D) * N * H; i += stride) {
    const int n = static_cast<int>(i / H % N);
    if (clamped_length(lengths, n, T) == 0) state0[i] = state1[i] = 0.0f;
  }
}

constexpr int kWgTile = 32;              // a 32 x 32 tile of dW_hh per block
constexpr int kWgThreads = kWgTile * 8;  // each thread: 4 rows of one column
constexpr int kWgRowsPerThread = kWgTile / 8;

// Block (x, y, z): dW_hh(z) rows [32y, 32y+32) x columns [32x, 32x+32), summed over the
// rows m = n*T + t of grad_gates in chunks of 32; blocks with x = 0 also sum the bias rows.
__global__ void __launch_bounds__(kWgThreads)
    lstm_weight_grad(BackwardArgs a, float* grad_w0, float* grad_w1, float* grad_b0,
                     float* grad_b1) {
  MG_SHARED_2D(float, g_t, kWgTile, kWgTile + 1);  // [row m][gate row r]
  MG_SHARED_2D(float, h_t, kWgTile, kWgTile + 1);  // [row m][k]: h at the previous step
  const int N = a.N, T = a.T, H = a.H, G = 4 * H, d = static_cast<int>(blockIdx.z);
  const int k0 = static_cast<int>(blockIdx.x) * kWgTile,
            r0 = static_cast<int>(blockIdx.y) * kWgTile;
  float* grad_w = d == 0 ? grad_w0 : grad_w1;
  float* grad_b = blockIdx.x == 0 ? (d == 0 ? grad_b0 : grad_b1) : nullptr;
  if (grad_w == nullptr && grad_b == nullptr) return;  // uniform over the block
  const bool rev = a.reverse[d] != 0;
  const int tid = static_cast<int>(threadIdx.x), tx = tid % kWgTile, ty = tid / kWgTile;
  const int64_t rows = static_cast<int64_t>(N) * T;
  float acc[kWgRowsPerThread] = {}, bias[kWgRowsPerThread] = {};
  for (int64_t m0 = 0; m0 < rows; m0 += kWgTile) {
    for (int i = tid; i < kWgTile * kWgTile; i += kWgThreads) {
      const int mm = i / kWgTile, c = i % kWgTile;
      const int64_t m = m0 + mm;
      const int r = r0 + c, k = k0 + c;
      float gv = 0.0f, hv = 0.0f;
      if (m < rows) {
        if (r < G) gv = a.grad_gates[m * a.D * G + static_cast<int64_t>(d) * G + r];
        const int n = static_cast<int>(m / T), t = static_cast<int>(m % T);
        const int len = clamped_length(a.lengths, n, T), tp = rev ? t + 1 : t - 1;
        if (k < H && t < len && tp >= 0 && tp < len) {  // not the sequence's first step
          hv = a.output[(static_cast<int64_t>(n) * T + tp) * a.D * H + static_cast<int64_t>(d) * H +
                        k];
        }
      }
      g_t[mm][c] = gv;
      h_t[mm][c] = hv;
    }
    __syncthreads();
    for (int mm = 0; mm < kWgTile; ++mm) {
      const float hv = h_t[mm][tx];
      for (int i = 0; i < kWgRowsPerThread; ++i) {
        const float gv = g_t[mm][ty + 8 * i];
        acc[i] += gv * hv;
        bias[i] += gv;
      }
    }
    __syncthreads();
  }
  for (int i = 0; i < kWgRowsPerThread; ++i) {
    const int r = r0 + ty + 8 * i;
    if (r >= G) continue;
    if (grad_w != nullptr && k0 + tx < H) grad_w[static_cast<int64_t>(r) * H + k0 + tx] = acc[i];
    if (grad_b != nullptr && tx == 0) grad_b[r] = bias[i];
  }
}

void zero_padded(float* y, int64_t width, const int64_t* lengths, const LstmDims& dims,
                 float* state0, float* state1, Stream stream) {
  const int64_t total = dims.batch * dims.steps * width;
  const int64_t blocks = std::min<int64_t>(ceil_div(total, kZeroThreads), 8 * device_sm_count());
  MG_LAUNCH(lstm_zero_padded, static_cast<unsigned>(std::max<int64_t>(blocks, 1)), kZeroThreads, 0,
            stream)
  (y, static_cast<int>(width), lengths, static_cast<int>(dims.batch), static_cast<int>(dims.steps),
   state0, state1, dims.directions, static_cast<int>(dims.hidden));
  MG_CHECK_LAUNCH("lstm (zero padded steps)");
}

// Checks the dimensions; false when there is nothing to do (N = 0 or T = 0).
bool validate_dims(const char* fn, const LstmDims& d) {
  require_non_negative(fn, "dims.batch", d.batch);
  require_non_negative(fn, "dims.steps", d.steps);
  if (d.hidden < 1)
    invalid_params(fn, "dims.hidden must be >= 1 (got " + std::to_string(d.hidden) + ")");
  if (d.directions != 1 && d.directions != 2) {
    invalid_params(fn, "dims.directions must be 1 or 2 (got " + std::to_string(d.directions) + ")");
  }
  // The kernels index rows of [N, T, D*4H] with int64 but sizes and steps with int.
  if (d.batch > 0x7fffffff / 2 || d.steps > 0x7fffffff / 2 || d.hidden > (1 << 24) ||
      d.batch * d.steps > 0x7fffffff) {
    invalid_params(fn, "dims N = " + std::to_string(d.batch) + ", T = " + std::to_string(d.steps) +
                           ", H = " + std::to_string(d.hidden) + " are too large (N*T < 2^31)");
  }
  return d.batch > 0 && d.steps > 0;
}

void require_weights(const char* fn, const LstmDims& d, const float* const w_hh[2]) {
  require_pointer(fn, "w_hh[0]", w_hh[0]);
  if (d.directions == 2) require_pointer(fn, "w_hh[1]", w_hh[1]);
}

// The algorithm to run: `requested`, or the persistent kernel when it fits; throws when the
// persistent kernel is requested but cannot run.
LstmAlgo resolve(const char* fn, LstmAlgo requested, const LstmDims& dims, bool backward, int units,
                 LstmPersistentPlan& plan) {
  if (requested == LstmAlgo::stepwise) return requested;
  plan = lstm_persistent_plan(dims, backward, units);
  if (plan.fits) return LstmAlgo::persistent;
  if (requested == LstmAlgo::persistent) {
    invalid_params(fn, "the persistent kernel cannot run N = " + std::to_string(dims.batch) +
                           ", H = " + std::to_string(dims.hidden) +
                           ", D = " + std::to_string(dims.directions) + ": " + plan.why_not);
  }
  return LstmAlgo::stepwise;
}

}  // namespace
}  // namespace lstm_detail

const char* lstm_algo_name(LstmAlgo a) {
  switch (a) {
    case LstmAlgo::automatic:
      return "automatic";
    case LstmAlgo::persistent:
      return "persistent";
    case LstmAlgo::stepwise:
      return "stepwise";
  }
  return "?";
}

LstmAlgo lstm_choose_algo(const LstmDims& dims, bool backward, int units_per_block) {
  return lstm_persistent_plan(dims, backward, units_per_block).fits ? LstmAlgo::persistent
                                                                    : LstmAlgo::stepwise;
}

std::size_t lstm_backward_workspace_bytes(const LstmDims& dims) {
  return sizeof(float) *
         static_cast<std::size_t>(std::max<int64_t>(0, dims.directions * dims.batch * dims.hidden));
}

void lstm_forward(const LstmForwardParams& p, Stream stream) {
  using namespace lstm_detail;
  const char* fn = "lstm_forward";
  if (!validate_dims(fn, p.dims)) return;
  require_pointer(fn, "lengths", p.lengths);
  require_pointer(fn, "gates_x", p.gates_x);
  require_weights(fn, p.dims, p.w_hh);
  require_pointer(fn, "output", p.output);
  require_pointer(fn, "h_n", p.h_n);
  require_pointer(fn, "c_n", p.c_n);
  require_pointer(fn, "cells", p.cells);
  require_optional_pointer(fn, "gates", p.gates);
  LstmPersistentPlan plan;
  const LstmAlgo algo = resolve(fn, p.algo, p.dims, false, p.units_per_block, plan);
  zero_padded(p.output, p.dims.directions * p.dims.hidden, p.lengths, p.dims, p.h_n, p.c_n, stream);
  if (algo == LstmAlgo::persistent) {
    persistent_forward(p, plan, stream);
  } else {
    stepwise_forward(p, stream);
  }
}

void lstm_backward(const LstmBackwardParams& p, Stream stream) {
  using namespace lstm_detail;
  const char* fn = "lstm_backward";
  if (!validate_dims(fn, p.dims)) return;
  require_pointer(fn, "lengths", p.lengths);
  require_weights(fn, p.dims, p.w_hh);
  require_pointer(fn, "output", p.output);
  require_pointer(fn, "gates", p.gates);
  require_pointer(fn, "cells", p.cells);
  require_pointer(fn, "grad_output", p.grad_output);
  require_pointer(fn, "grad_gates", p.grad_gates);
  require_optional_pointer(fn, "grad_h_n", p.grad_h_n);
  require_optional_pointer(fn, "grad_c_n", p.grad_c_n);
  require_optional_pointer(fn, "grad_h0", p.grad_h0);
  require_optional_pointer(fn, "grad_c0", p.grad_c0);
  LstmPersistentPlan plan;
  const LstmAlgo algo = resolve(fn, p.algo, p.dims, true, p.units_per_block, plan);
  if (algo == LstmAlgo::stepwise) require_pointer(fn, "workspace", p.workspace);
  zero_padded(p.grad_gates, p.dims.directions * 4 * p.dims.hidden, p.lengths, p.dims, nullptr,
              nullptr, stream);
  if (algo == LstmAlgo::persistent) {
    persistent_backward(p, plan, stream);
  } else {
    stepwise_backward(p, stream);
  }
  const bool weights =
      p.grad_w_hh[0] != nullptr || p.grad_bias[0] != nullptr ||
      (p.dims.directions == 2 && (p.grad_w_hh[1] != nullptr || p.grad_bias[1] != nullptr));
  if (!weights) return;
  const int64_t H = p.dims.hidden;
  const dim3 grid(static_cast<unsigned>(ceil_div(H, kWgTile)),
                  static_cast<unsigned>(ceil_div(4 * H, kWgTile)),
                  static_cast<unsigned>(p.dims.directions));
  MG_LAUNCH(lstm_weight_grad, grid, kWgThreads, 0, stream)
  (backward_args(p), p.grad_w_hh[0], p.dims.directions == 2 ? p.grad_w_hh[1] : nullptr,
   p.grad_bias[0], p.dims.directions == 2 ? p.grad_bias[1] : nullptr);
  MG_CHECK_LAUNCH("lstm_backward (weight gradients)");
}

}  // namespace melgrad::kernels
