// Basic layers and PyTorch-default initialisers (see layers.h).
#include "engine/nn/layers.h"

#include <cmath>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/ops/dropout.h"
#include "engine/ops/ops.h"

namespace melgrad::nn {

int64_t fan_in(const Tensor& weight) {
  if (weight.dim() < 2)
    throw std::invalid_argument("fan_in: weight must have at least 2 dims, got " + weight.str());
  int64_t f = weight.size(1);
  for (int64_t d = 2; d < weight.dim(); ++d) f *= weight.size(d);
  return f;
}

void uniform_(Tensor& t, double lo, double hi, Generator& gen) {
  NoGradGuard no_grad;
  t.copy_(Tensor::uniform(t.shape(), lo, hi, gen, t.dtype()));
}

void kaiming_uniform_(Tensor& t, double a, Generator& gen) {
  const double gain = std::sqrt(2.0 / (1 + a * a));
  const double bound = gain * std::sqrt(3.0 / double(fan_in(t)));
  uniform_(t, -bound, bound, gen);
}

void xavier_uniform_(Tensor& t, Generator& gen) {
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  const double fan_out = double(t.size(0) * receptive);
  const double bound = std::sqrt(6.0 / (double(fan_in(t)) + fan_out));
  uniform_(t, -bound, bound, gen);
}

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool with_bias) {
  if (in_features <= 0 || out_features <= 0)
    throw std::invalid_argument("Linear: sizes must be positive, got " +
                                std::to_string(in_features) + " -> " +
                                std::to_string(out_features));
  weight = Tensor::empty({out_features, in_features});
  kaiming_uniform_(weight, std::sqrt(5.0), gen);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = Tensor::empty({out_features});
    const double bound = 1.0 / std::sqrt(double(in_features));
    uniform_(bias, -bound, bound, gen);
    register_parameter("bias", &bias);
  }
}

Tensor Linear::forward(const Tensor& x) {
  if (x.dim() < 1 || x.size(-1) != weight.size(1))
    throw std::invalid_argument("Linear: input " + shape_str(x.shape()) + " does not end in " +
                                std::to_string(weight.size(1)) + " features");
  Tensor y = matmul(x, weight.transpose(0, 1));
  return bias.defined() ? y + bias : y;
}

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Dropout::Dropout(double p_, uint64_t seed) : p(p_), gen_(seed) {
  if (!(p >= 0 && p < 1))
    throw std::invalid_argument("Dropout: probability must be in [0, 1), got " + std::to_string(p));
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), gen_); }

Tensor Flatten::forward(const Tensor& x) { return x.dim() <= 2 ? x : x.flatten(1); }

}  // namespace melgrad::nn
