// The LSTM as PyTorch's nn.LSTM computes it (batch_first, gate order i, f, g, o, two bias
// vectors), on zero-padded batches with per-sequence lengths and packed-sequence
// semantics: padded steps (t >= len) neither change the state nor receive gradient, and
// the reverse direction starts at each sequence's own last real step.
//
//   x        [N, T, I]     lengths int64 [N], 1 <= len <= T, any order (no sorting needed)
//   w_ih     [4H, I]       w_hh [4H, H]     b_ih [4H]     b_hh [4H]
//   cell     i = σ(W_ii x + b_ii + W_hi h + b_hi), f = σ(..), g = tanh(..), o = σ(..)
//            c' = f c + i g,  h' = o tanh(c'),  h_0 = c_0 = 0
//
// lstm_layer / lstm_bidirectional_layer are fused ops whose forward and BPTT are the
// device backend's (Backend::lstm_forward/backward: engine/cpu/lstm.*, kernels/lstm.h);
// lstm_layer_reference is the same math from primitive ops, the slow reference the tests
// compare the fused ops with.
#pragma once

#include <array>
#include <vector>

#include "engine/generator.h"
#include "engine/tensor.h"

namespace melgrad {

// One layer, one direction. Returns {output [N, T, H] (zero at t >= len), h_n [N, H],
// c_n [N, H]}: h_n/c_n are the state after each sequence's own last processed step (t =
// len-1 forward, t = 0 reverse).
std::array<Tensor, 3> lstm_layer(const Tensor& x, const Tensor& lengths, const Tensor& w_ih,
                                 const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                                 bool reverse);
// The same from primitive ops (matmul, sigmoid, tanh, slice, where, stack): slow, for tests.
std::array<Tensor, 3> lstm_layer_reference(const Tensor& x, const Tensor& lengths,
                                           const Tensor& w_ih, const Tensor& w_hh,
                                           const Tensor& b_ih, const Tensor& b_hh, bool reverse);

struct LstmWeights {
  Tensor w_ih, w_hh, b_ih, b_hh;
};

// Both directions of one layer as one op, the two directions on two threads. Returns
// {output [N, T, 2H] (forward in [:, :, 0:H], reverse in [:, :, H:2H]), h_n [2, N, H],
// c_n [2, N, H]}. Equal to two lstm_layer calls (reverse = false, true), concatenated.
std::array<Tensor, 3> lstm_bidirectional_layer(const Tensor& x, const Tensor& lengths,
                                               const LstmWeights& forward,
                                               const LstmWeights& reverse);

struct LstmResult {
  Tensor output;    // [N, T, D*H], zero at t >= len
  Tensor h_n, c_n;  // [L*D, N, H], PyTorch's order: layer0 fwd, layer0 bwd, layer1 fwd, ...
};

// A stack of num_layers layers (D = 2 when bidirectional); layers[l * D + d] holds layer
// l, direction d. Layer l > 0 reads layer l-1's output [N, T, D*H]. Dropout (p =
// dropout_p, drawn from gen) on each layer's output except the last, in training only.
LstmResult lstm(const Tensor& x, const Tensor& lengths, const std::vector<LstmWeights>& layers,
                int64_t num_layers, bool bidirectional, double dropout_p, bool training,
                Generator& gen);

// The study's readout: output [N, T, 2H] -> [N, 2H] = forward half at t = len-1 ++
// backward half at t = 0 (unidirectional: [N, T, H] -> [N, H] at t = len-1).
// Differentiable (gather, slice, concat).
Tensor lstm_readout(const Tensor& output, const Tensor& lengths, bool bidirectional);

}  // namespace melgrad
