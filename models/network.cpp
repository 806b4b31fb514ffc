// ReseedableDropout and seed derivation (see network.h).
#include "models/network.h"

#include <stdexcept>

#include "engine/ops/dropout.h"

namespace melgrad::models {

ReseedableDropout::ReseedableDropout(double p_) : p(p_), gen_(0) {
  if (!(p >= 0 && p < 1))
    throw std::invalid_argument("Dropout: probability must be in [0, 1), got " + std::to_string(p));
}

Tensor ReseedableDropout::forward(const Tensor& x) { return dropout(x, p, is_training(), gen_); }

uint64_t derive_seed(uint64_t seed, uint64_t k) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (k + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace melgrad::models
