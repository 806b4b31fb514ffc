// CPU kernels of the LSTM layer (the op, its checks and autograd glue are in
// engine/ops/lstm.cpp). One call runs D = 1 or 2 directions of one layer over a
// zero-padded, batch-first batch with per-sequence lengths (packed-sequence semantics):
//
//   x        [N, T, I]        contiguous
//   lengths  [N]              1 <= len <= T, any order
//   w_ih [4H, I], w_hh [4H, H], b_ih [4H], b_hh [4H] per direction, gates i, f, g, o
//   output   [N, T, D*H]      direction d in columns [d*H, (d+1)*H); zero at t >= len
//   h_n, c_n [D, N, H]        state after each sequence's own last processed step
//
// Forward: the input projection of all time steps is one GEMM per direction (both biases
// folded in); only the recurrent product h_{t-1} W_hh^T runs step by step, followed by a
// fused gate + cell update. Sequences are processed longest first, so the ones still
// running at step s are a prefix of the batch and each step is one small GEMM over them.
// With D = 2 each direction runs on its own thread (OpenMP, when two are allowed): its
// projection GEMM and step loop, with its own preallocated workspace (the step loops
// allocate nothing), and single-threaded GEMMs, so no thread ever waits inside a GEMM
// for the other (Eigen's own threading spins, which costs most when the cores are shared).
// Backward (BPTT): the same step loop in reverse yields the pre-activation gradients dG
// [N, T, D*4H] (zero at padded steps); each direction's thread then computes its weight
// and bias gradients as GEMMs over all steps at once, and the input gradient is split by
// rows over the two threads.
#pragma once

#include <cstdint>

namespace melgrad::cpu {

struct LstmDims {
  int64_t batch = 0;       // N
  int64_t steps = 0;       // T
  int64_t input = 0;       // I
  int64_t hidden = 0;      // H
  int64_t directions = 1;  // D: 1, or 2 (forward + reverse)
};

template <class T>
struct LstmDirectionParams {
  const T* w_ih = nullptr;  // [4H, I]
  const T* w_hh = nullptr;  // [4H, H]
  const T* b_ih = nullptr;  // [4H]
  const T* b_hh = nullptr;  // [4H]
  bool reverse = false;
};

template <class T>
struct LstmForwardParams {
  LstmDims dims;
  const T* x = nullptr;              // [N, T, I]
  const int64_t* lengths = nullptr;  // [N]
  LstmDirectionParams<T> dir[2];
  T* output = nullptr;  // [N, T, D*H], zero-filled by the caller
  T* h_n = nullptr;     // [D, N, H]
  T* c_n = nullptr;     // [D, N, H]
  // Workspace [N, T, D*4H]; on return it holds the activated gates (i, f, g, o) at every
  // real step, which the backward reads.
  T* gates = nullptr;
  // [N, T, D*H]: the cell state c_t at every real step (for the backward), or null.
  T* cells = nullptr;
};

template <class T>
struct LstmBackwardParams {
  LstmDims dims;
  const T* x = nullptr;
  const int64_t* lengths = nullptr;
  LstmDirectionParams<T> dir[2];
  const T* output = nullptr;       // [N, T, D*H]  from the forward
  const T* gates = nullptr;        // [N, T, D*4H] from the forward
  const T* cells = nullptr;        // [N, T, D*H]  from the forward
  const T* grad_output = nullptr;  // [N, T, D*H] (values at padded steps are ignored)
  const T* grad_h_n = nullptr;     // [D, N, H]
  const T* grad_c_n = nullptr;     // [D, N, H]
  // Results; a null pointer skips that gradient. The bias gradients of b_ih and b_hh are
  // equal (both enter the same sum).
  T* grad_x = nullptr;  // [N, T, I]
  T* grad_w_ih[2] = {nullptr, nullptr};
  T* grad_w_hh[2] = {nullptr, nullptr};
  T* grad_b_ih[2] = {nullptr, nullptr};
  T* grad_b_hh[2] = {nullptr, nullptr};
};

template <class T>
void lstm_forward(const LstmForwardParams<T>& p);
template <class T>
void lstm_backward(const LstmBackwardParams<T>& p);

extern template void lstm_forward<float>(const LstmForwardParams<float>&);
extern template void lstm_forward<double>(const LstmForwardParams<double>&);
extern template void lstm_backward<float>(const LstmBackwardParams<float>&);
extern template void lstm_backward<double>(const LstmBackwardParams<double>&);

}  // namespace melgrad::cpu
