// nn::LSTM (see lstm.h): PyTorch's parameter names, order and initialisation around the
// lstm() op stack.
#include "engine/nn/lstm.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace melgrad::nn {

LSTM::LSTM(int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bidirectional,
           double dropout, Generator& gen)
    : input_size_(input_size),
      hidden_size_(hidden_size),
      num_layers_(num_layers),
      bidirectional_(bidirectional),
      dropout_(dropout) {
  if (input_size < 1 || hidden_size < 1 || num_layers < 1)
    throw std::invalid_argument("LSTM: input_size, hidden_size and num_layers must be >= 1, got " +
                                std::to_string(input_size) + ", " + std::to_string(hidden_size) +
                                ", " + std::to_string(num_layers));
  if (!(dropout >= 0 && dropout < 1))
    throw std::invalid_argument("LSTM: dropout must be in [0, 1), got " + std::to_string(dropout));
  const int64_t D = bidirectional ? 2 : 1, H = hidden_size, G = 4 * H;
  const double bound = 1.0 / std::sqrt(static_cast<double>(H));
  weights_.resize(num_layers * D);
  for (int64_t l = 0; l < num_layers; ++l) {
    const int64_t in = l == 0 ? input_size : D * H;
    for (int64_t d = 0; d < D; ++d) {
      LstmWeights& w = weights_[l * D + d];
      const std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      w.w_ih = Tensor::uniform({G, in}, -bound, bound, gen);
      w.w_hh = Tensor::uniform({G, H}, -bound, bound, gen);
      w.b_ih = Tensor::uniform({G}, -bound, bound, gen);
      w.b_hh = Tensor::uniform({G}, -bound, bound, gen);
      register_parameter("weight_ih" + suffix, &w.w_ih);
      register_parameter("weight_hh" + suffix, &w.w_hh);
      register_parameter("bias_ih" + suffix, &w.b_ih);
      register_parameter("bias_hh" + suffix, &w.b_hh);
    }
  }
  dropout_gen_ = gen.split();
}

LstmResult LSTM::forward(const Tensor& x, const Tensor& lengths) {
  if (x.dim() != 3 || x.size(2) != input_size_)
    throw std::invalid_argument("LSTM: input must be [N, T, " + std::to_string(input_size_) +
                                "], got " + x.str());
  return lstm(x, lengths, weights_, num_layers_, bidirectional_, dropout_, is_training(),
              dropout_gen_);
}

}  // namespace melgrad::nn
