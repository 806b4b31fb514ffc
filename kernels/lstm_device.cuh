// Internals shared by the LSTM sources (lstm.cu, lstm_persistent.cu, lstm_stepwise.cu): the
// kernel argument structs, the algorithms' host entry points, the time index of a step,
// and the fused per-(sequence, unit) cell updates of the forward and the backward, which
// both algorithms call once the recurrent sums of a step are known. Layouts as in kernels/lstm.h:
// gates [N, T, D*4H], output and cells [N, T, D*H], states [D, N, H]; row (n, t) of a [N, T, ...]
// array is n*T + t.
#pragma once

#include <cstdint>

#include "kernels/emu/cuda_compat.h"
#include "kernels/lstm.h"

namespace melgrad::kernels::lstm_detail {

// Kernel arguments, by value (plain ints: the kernels index with int64 where products of
// sizes can pass 2^31).
struct ForwardArgs {
  const int64_t* lengths;
  const float* gates_x;
  const float* w_hh[2];
  int reverse[2];
  float* output;
  float* h_n;
  float* c_n;
  float* cells;
  float* gates;  // or null
  int N, T, H, D;
};

struct BackwardArgs {
  const int64_t* lengths;
  const float* w_hh[2];
  int reverse[2];
  const float* output;
  const float* gates;
  const float* cells;
  const float* grad_output;
  const float* grad_h_n;  // or null
  const float* grad_c_n;  // or null
  float* grad_gates;
  float* grad_h0;  // or null
  float* grad_c0;  // or null
  int N, T, H, D;
};

ForwardArgs forward_args(const LstmForwardParams& p);
BackwardArgs backward_args(const LstmBackwardParams& p);

// The two algorithms' host sides (lstm_persistent.cu, lstm_stepwise.cu), called by the
// launchers in lstm.cu after validation and after the padded steps have been zeroed.
void persistent_forward(const LstmForwardParams& p, const LstmPersistentPlan& plan, Stream s);
void persistent_backward(const LstmBackwardParams& p, const LstmPersistentPlan& plan, Stream s);
void stepwise_forward(const LstmForwardParams& p, Stream s);
void stepwise_backward(const LstmBackwardParams& p, Stream s);

// A sequence's length clamped to [0, T] (the launchers document 1..T; a stray value must
// not index outside the arrays).
__device__ __forceinline__ int clamped_length(const int64_t* lengths, int n, int T) {
  const int64_t len = lengths[n];
  return len < 0 ? 0 : (len > T ? T : static_cast<int>(len));
}

// The time index of a sequence's step s: s forward, len-1-s in reverse.
__device__ __forceinline__ int time_of(int s, int len, bool reverse) {
  return reverse ? len - 1 - s : s;
}

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// Forward of hidden unit j of sequence n at its step s (s < len): pre-activations =
// gates_x + rec (the recurrent sums h_{t-1} W_hh^T of the four gates), then the cell
// update; c holds c_{t-1} and receives c_t. Writes output and cells at t, the activated
// gates when saved, and h_n/c_n at the sequence's last step.
__device__ __forceinline__ void cell_forward(const ForwardArgs& a, int d, int n, int j, int s,
                                             int len, const float rec[4], float& c) {
  const int H = a.H;
  const int t = time_of(s, len, a.reverse[d] != 0);
  const int64_t row = static_cast<int64_t>(n) * a.T + t;
  const int64_t g_at = row * a.D * 4 * H + static_cast<int64_t>(d) * 4 * H + j;
  const float* gx = a.gates_x + g_at;
  const float i = sigmoid(gx[0] + rec[0]);
  const float f = sigmoid(gx[H] + rec[1]);
  const float g = tanhf(gx[2 * H] + rec[2]);
  const float o = sigmoid(gx[3 * H] + rec[3]);
  c = f * c + i * g;
  const float h = o * tanhf(c);
  const int64_t o_at = row * a.D * H + static_cast<int64_t>(d) * H + j;
  a.output[o_at] = h;
  a.cells[o_at] = c;
  if (a.gates != nullptr) {
    a.gates[g_at] = i;
    a.gates[g_at + H] = f;
    a.gates[g_at + 2 * H] = g;
    a.gates[g_at + 3 * H] = o;
  }
  if (s == len - 1) {
    const int64_t st = (static_cast<int64_t>(d) * a.N + n) * H + j;
    a.h_n[st] = h;
    a.c_n[st] = c;
  }
}

// BPTT of hidden unit j of sequence n at its step s, -1 <= s < len. has_next: the sequence
// also ran step s+1, whose gate gradients gave rec = (dG_{s+1} W_hh)[j]; otherwise dh, dc
// start from grad_h_n, grad_c_n. dc_carry holds dc flowing back from step s+1 and receives
// the one flowing to step s-1. At s = -1 only the gradients of the initial state are
// written. Writes the four pre-activation gradients of step s into grad_gates.
__device__ __forceinline__ void cell_backward(const BackwardArgs& a, int d, int n, int j, int s,
                                              int len, bool has_next, float rec, float& dc_carry) {
  const int H = a.H;
  const int64_t st = (static_cast<int64_t>(d) * a.N + n) * H + j;
  float dh = has_next ? rec : (a.grad_h_n != nullptr ? a.grad_h_n[st] : 0.0f);
  float dc = has_next ? dc_carry : (a.grad_c_n != nullptr ? a.grad_c_n[st] : 0.0f);
  if (s < 0) {
    if (a.grad_h0 != nullptr) a.grad_h0[st] = dh;
    if (a.grad_c0 != nullptr) a.grad_c0[st] = dc;
    return;
  }
  const bool rev = a.reverse[d] != 0;
  const int t = time_of(s, len, rev);
  const int64_t row = static_cast<int64_t>(n) * a.T + t;
  const int64_t o_at = row * a.D * H + static_cast<int64_t>(d) * H + j;
  const int64_t g_at = row * a.D * 4 * H + static_cast<int64_t>(d) * 4 * H + j;
  dh += a.grad_output[o_at];
  const float* gp = a.gates + g_at;
  const float i = gp[0], f = gp[H], g = gp[2 * H], o = gp[3 * H];
  const float c = a.cells[o_at];
  float c_prev = 0.0f;
  if (s > 0) {
    const int64_t prev = static_cast<int64_t>(n) * a.T + time_of(s - 1, len, rev);
    c_prev = a.cells[prev * a.D * H + static_cast<int64_t>(d) * H + j];
  }
  const float tc = tanhf(c);
  dc += dh * o * (1.0f - tc * tc);
  float* dg = a.grad_gates + g_at;  // may alias a.gates: all four were read above
  dg[0] = dc * g * i * (1.0f - i);
  dg[H] = dc * c_prev * f * (1.0f - f);
  dg[2 * H] = dc * i * (1.0f - g * g);
  dg[3 * H] = dh * tc * o * (1.0f - o);
  dc_carry = dc * f;
}

}  // namespace melgrad::kernels::lstm_detail
