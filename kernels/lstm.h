// The recurrent part of one LSTM layer, both directions in one launch, on the device: the
// gates and cell update fused with the recurrent product h_{t-1} W_hh^T, forward and BPTT
// backward, over zero-padded batches with per-sequence lengths. The math is PyTorch's
// nn.LSTM (engine/ops/lstm.h): gate order i, f, g, o, c' = f c + i g, h' = o tanh(c'),
// h_0 = c_0 = 0, packed-sequence semantics (padded steps t >= len neither change the state
// nor receive gradient; the reverse direction starts at each sequence's own t = len-1).
//
// The input projection is not here: the caller computes it for all steps and both
// directions as one GEMM,  gates_x [N, T, D*4H] = x [N*T, I] · [W_ih(d=0); W_ih(d=1)]^T
// + (b_ih + b_hh) per direction,  and after the backward turns grad_gates [N, T, D*4H]
// into dx = grad_gates · W_ih (summed over directions) and dW_ih(d) = grad_gates(d)^T · x.
//
// Layouts (float32, contiguous; direction d = 0, 1 of D):
//   lengths           int64 [N], device memory, 1 <= len <= T, any order
//   gates_x, gates    [N, T, D*4H]: direction d in columns [d*4H, (d+1)*4H), gates i,f,g,o
//   output, cells     [N, T, D*H]:  direction d in columns [d*H, (d+1)*H)
//   w_hh(d)           [4H, H]          h_n, c_n, grad_h_n, grad_c_n, grad_h0, grad_c0  [D, N, H]
//
// Algorithms (LstmAlgo):
//   persistent  one cooperative launch for the whole sequence: each block keeps a slice of
//               W_hh (all four gates of U hidden units) in shared memory for every step;
//               blocks [0, B) run direction 0 and [B, 2B) direction 1 concurrently; after
//               each step a grid barrier makes every block's h_t visible to all. Needs the
//               grid co-resident and the slice + one step's state in shared memory (the
//               study's hidden 100-200 at batch 32 fit; hidden 600 does not).
//   stepwise    the fallback: one launch per step, a tiled product reading W_hh from global
//               memory (L2) with the gate and cell update fused into its epilogue.
//   automatic   persistent when it fits on this device, else stepwise.
// Both write the same results up to float rounding order. The backward runs the same way
// and ends with one launch that reduces dW_hh and the bias gradient over all steps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/runtime.h"

namespace melgrad::kernels {

enum class LstmAlgo : uint8_t { automatic, persistent, stepwise };
const char* lstm_algo_name(LstmAlgo a);

struct LstmDims {
  int64_t batch = 0;   // N
  int64_t steps = 0;   // T
  int64_t hidden = 0;  // H
  int directions = 1;  // D: 1 or 2
};

struct LstmForwardParams {
  LstmDims dims;
  const int64_t* lengths = nullptr;           // [N]
  const float* gates_x = nullptr;             // [N, T, D*4H] input projection + both biases
  const float* w_hh[2] = {nullptr, nullptr};  // [4H, H] per direction
  bool reverse[2] = {false, true};            // direction d runs from t = len-1 down to 0
  float* output = nullptr;                    // [N, T, D*H], written everywhere (zero at t >= len)
  float* h_n = nullptr;    // [D, N, H]: h after each sequence's own last processed step
  float* c_n = nullptr;    // [D, N, H]
  float* cells = nullptr;  // [N, T, D*H]: c_t at every real step (backward, step-wise path)
  // [N, T, D*4H]: the activated gates i, f, g, o at every real step, for the backward; null
  // skips them (inference). May be gates_x itself (overwritten in place).
  float* gates = nullptr;
  LstmAlgo algo = LstmAlgo::automatic;
  int units_per_block = 0;  // persistent: hidden units per block; 0 chooses
};

struct LstmBackwardParams {
  LstmDims dims;
  const int64_t* lengths = nullptr;           // [N]
  const float* w_hh[2] = {nullptr, nullptr};  // [4H, H]
  bool reverse[2] = {false, true};
  const float* output = nullptr;       // [N, T, D*H]   from the forward
  const float* gates = nullptr;        // [N, T, D*4H]  activated gates from the forward
  const float* cells = nullptr;        // [N, T, D*H]   from the forward
  const float* grad_output = nullptr;  // [N, T, D*H]   values at t >= len are ignored
  const float* grad_h_n = nullptr;     // [D, N, H] or null (zero)
  const float* grad_c_n = nullptr;     // [D, N, H] or null (zero)
  // [N, T, D*4H]: the gradient of the pre-activation gates, i.e. of gates_x; zero at
  // t >= len. May be `gates` itself (each entry is read before it is overwritten).
  float* grad_gates = nullptr;
  // Written, not accumulated; null skips. grad_bias is the gradient of b_ih and of b_hh
  // (both enter the same sum).
  float* grad_w_hh[2] = {nullptr, nullptr};  // [4H, H]
  float* grad_bias[2] = {nullptr, nullptr};  // [4H]
  float* grad_h0 = nullptr;  // [D, N, H] gradient w.r.t. the (zero) initial h, or null
  float* grad_c0 = nullptr;  // [D, N, H] gradient w.r.t. the (zero) initial c, or null
  // lstm_backward_workspace_bytes(dims) bytes of device memory (the step-wise path carries
  // dc there between launches).
  void* workspace = nullptr;
  LstmAlgo algo = LstmAlgo::automatic;
  int units_per_block = 0;
};

void lstm_forward(const LstmForwardParams& p, Stream stream = nullptr);
void lstm_backward(const LstmBackwardParams& p, Stream stream = nullptr);
std::size_t lstm_backward_workspace_bytes(const LstmDims& dims);

// How the persistent kernel would run these dims on this device, or why it cannot.
struct LstmPersistentPlan {
  bool fits = false;
  std::string why_not;      // when !fits
  int units_per_block = 0;  // U
  int blocks = 0;           // D * ceil(H / U)
  int threads = 0;          // per block
  int split = 0;            // threads sharing one (sequence, unit) dot product
  std::size_t smem_bytes = 0;
};
LstmPersistentPlan lstm_persistent_plan(const LstmDims& dims, bool backward,
                                        int units_per_block = 0);
// The algorithm `automatic` resolves to.
LstmAlgo lstm_choose_algo(const LstmDims& dims, bool backward, int units_per_block = 0);

// CPU references with the same parameters, on host memory (lengths too): plain loops with
// double accumulation; `algo`, `units_per_block` and `workspace` are ignored. The forward
// reference requires `gates` (or leaves it null to skip) and `cells` like the launcher.
void lstm_forward_reference(const LstmForwardParams& p);
void lstm_backward_reference(const LstmBackwardParams& p);

}  // namespace melgrad::kernels
