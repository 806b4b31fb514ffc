// Basic layers: Linear, ReLU, Dropout, Flatten. Initialisation as PyTorch's defaults
// (Kaiming-uniform weights with a = sqrt(5), bias uniform(+-1/sqrt(fan_in))), drawn from
// an explicit Generator.
#pragma once

#include "engine/nn/module.h"

namespace melgrad::nn {

// y = x W^T + b; x [..., in] -> [..., out]. Parameters "weight" [out, in], "bias" [out].
class Linear : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
};

class ReLU : public Layer {
 public:
  Tensor forward(const Tensor& x) override;
};

// Inverted dropout in training mode, identity in eval mode. Draws mask seeds from its own
// generator (seeded at construction), so runs are reproducible.
class Dropout : public Layer {
 public:
  explicit Dropout(double p, uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;
  double p;

 private:
  Generator gen_;
};

// [N, d1, d2, ...] -> [N, d1 * d2 * ...].
class Flatten : public Layer {
 public:
  Tensor forward(const Tensor& x) override;
};

// Fan-based initialisers (PyTorch's formulas) filling `t` in place.
void kaiming_uniform_(Tensor& t, double a, Generator& gen);  // fan_in mode, leaky_relu gain
void xavier_uniform_(Tensor& t, Generator& gen);
void uniform_(Tensor& t, double lo, double hi, Generator& gen);
int64_t fan_in(const Tensor& weight);  // weight [out, in, k...]: in * prod(k)

}  // namespace melgrad::nn
