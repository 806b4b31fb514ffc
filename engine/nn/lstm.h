// nn::LSTM: PyTorch's nn.LSTM(input_size, hidden_size, num_layers, bidirectional=...,
// dropout=..., batch_first=True) run on zero-padded batches with lengths (packed-sequence
// semantics; see engine/ops/lstm.h). Parameters are named as PyTorch names them, in its
// order: weight_ih_l{k} [4H, I_k], weight_hh_l{k} [4H, H], bias_ih_l{k} [4H],
// bias_hh_l{k} [4H], then the same with the suffix _reverse when bidirectional
// (I_0 = input_size, I_k = D*H above), so state dicts move between melgrad and PyTorch.
//
//   x [N, T, input_size], lengths int64 [N] -> output [N, T, D*H], h_n/c_n [L*D, N, H]
#pragma once

#include <vector>

#include "engine/nn/module.h"
#include "engine/ops/lstm.h"

namespace melgrad::nn {

class LSTM : public Module {
 public:
  // All parameters uniform(-1/sqrt(H), 1/sqrt(H)) from `gen`, in parameter order (PyTorch's
  // init). The dropout generator is split from `gen` after the parameters are drawn.
  LSTM(int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bidirectional,
       double dropout, Generator& gen);

  // Dropout between layers only in training mode (Module::train / eval).
  LstmResult forward(const Tensor& x, const Tensor& lengths);
  LstmResult operator()(const Tensor& x, const Tensor& lengths) { return forward(x, lengths); }

  // Restarts the dropout masks' random stream (for reproducible runs).
  void reseed_dropout(uint64_t seed) { dropout_gen_.reseed(seed); }

  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  int64_t num_layers() const { return num_layers_; }
  bool bidirectional() const { return bidirectional_; }
  double dropout() const { return dropout_; }
  // layers()[l * D + d]: layer l, direction d (the parameters themselves).
  const std::vector<LstmWeights>& layers() const { return weights_; }

 private:
  int64_t input_size_, hidden_size_, num_layers_;
  bool bidirectional_;
  double dropout_;
  std::vector<LstmWeights> weights_;  // sized once: registered by address
  Generator dropout_gen_;
};

}  // namespace melgrad::nn
