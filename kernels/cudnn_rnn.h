// cuDNN's RNN API for one LSTM layer (both directions), as the reference and the fast path
// the melgrad LSTM kernels (kernels/lstm.h) are measured against. Unlike lstm_forward it
// takes x and does the input projection itself (cuDNN's LINEAR_INPUT), with PyTorch's
// parameters and the same padded, batch-major layout and packed-sequence semantics
// (cuDNN's BATCH_MAJOR_UNPACKED data with per-sequence lengths, any order):
//   x [N, T, I], output [N, T, D*H] (zero at t >= len), h_n, c_n [D, N, H], zero h_0/c_0;
//   w_ih [4H, I], w_hh [4H, H], b_ih [4H], b_hh [4H] per direction, gates i, f, g, o.
// cuDNN keeps the parameters packed in its own weight space: set_weights() copies them in
// (device to device) and backward() copies the gradients out. forward(training) keeps the
// reserve space that backward() needs, so calls pair up on one CudnnLstmLayer.
// Every cuDNN and CUDA call is checked; a failure throws std::runtime_error naming the call,
// the file and the line. Only the nvcc build linked with cuDNN has it
// (cudnn_rnn_available()); elsewhere constructing a CudnnLstmLayer throws.
//
// Which implementation the engine runs: lstm_impl() reads MELGRAD_LSTM = melgrad | cudnn
// (default melgrad) and answers melgrad where cuDNN is not available (the emulator build).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/runtime.h"

namespace melgrad::kernels {

enum class LstmImpl : uint8_t { melgrad, cudnn };
bool cudnn_rnn_available();
// MELGRAD_LSTM: "melgrad" (or unset) or "cudnn"; anything else throws std::invalid_argument.
LstmImpl lstm_impl();

struct CudnnLstmDims {
  int64_t batch = 0;        // N
  int64_t steps = 0;        // T
  int64_t input = 0;        // I
  int64_t hidden = 0;       // H
  int directions = 1;       // D: 1, or 2 (direction 1 runs in reverse)
  bool allow_tf32 = false;  // let cuDNN use TF32 tensor cores (PyTorch's default on Ampere+)
};

struct CudnnLstmForwardParams {
  const float* x = nullptr;               // [N, T, I]
  const int64_t* lengths_host = nullptr;  // [N] on the host: cuDNN's descriptors need them
  float* output = nullptr;                // [N, T, D*H]
  float* h_n = nullptr;                   // [D, N, H] or null
  float* c_n = nullptr;                   // [D, N, H] or null
  bool training = true;                   // keep the reserve space for backward()
};

struct CudnnLstmBackwardParams {
  // The forward's x and output and the same lengths (the last training forward's).
  const float* x = nullptr;
  const float* output = nullptr;
  const float* grad_output = nullptr;  // [N, T, D*H]
  const float* grad_h_n = nullptr;     // [D, N, H] or null (zero)
  const float* grad_c_n = nullptr;     // [D, N, H] or null (zero)
  float* grad_x = nullptr;             // [N, T, I]
  // Written, not accumulated; null skips that copy. grad_b_ih and grad_b_hh are equal.
  float* grad_w_ih[2] = {nullptr, nullptr};
  float* grad_w_hh[2] = {nullptr, nullptr};
  float* grad_b_ih[2] = {nullptr, nullptr};
  float* grad_b_hh[2] = {nullptr, nullptr};
};

class CudnnLstmLayer {
 public:
  explicit CudnnLstmLayer(const CudnnLstmDims& dims);
  ~CudnnLstmLayer();
  CudnnLstmLayer(const CudnnLstmLayer&) = delete;
  CudnnLstmLayer& operator=(const CudnnLstmLayer&) = delete;

  const CudnnLstmDims& dims() const { return dims_; }
  // Parameters per direction (index d < D), in PyTorch's layout, device memory.
  void set_weights(const float* const w_ih[2], const float* const w_hh[2],
                   const float* const b_ih[2], const float* const b_hh[2], Stream stream = nullptr);
  void forward(const CudnnLstmForwardParams& p, Stream stream = nullptr);
  void backward(const CudnnLstmBackwardParams& p, Stream stream = nullptr);
  std::size_t weight_space_bytes() const;

 private:
  struct State;
  CudnnLstmDims dims_;
  std::unique_ptr<State> state_;
};

}  // namespace melgrad::kernels
