// ReseedableDropout and seed derivation (see network.h).
#include "models/network.h"

#include <stdexcept>

#include "common/random.h"
#include "engine/ops/dropout.h"

namespace melgrad::models {

ReseedableDropout::ReseedableDropout(double p_) : p(p_), gen_(0) {
  if (!(p >= 0 && p < 1))
    throw std::invalid_argument("Dropout: probability must be in [0, 1), got " + std::to_string(p));
}

Tensor ReseedableDropout::forward(const Tensor& x) { return dropout(x, p, is_training(), gen_); }

// The (k + 1)-th splitmix64 output from state `seed`.
uint64_t derive_seed(uint64_t seed, uint64_t k) {
  return splitmix64_mix(seed + kSplitmix64Gamma * (k + 1));
}

}  // namespace melgrad::models
