// What the network tests share: parameter names in order, and a random feature batch.
#pragma once

#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace melgrad::models::testing {

// The names of named parameters or buffers, in order.
inline std::vector<std::string> names_of(const nn::NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& [n, t] : named) out.push_back(n);
  return out;
}

// A batch of n clips of t frames x f bands, standard normal from `seed`.
inline Tensor random_batch(int64_t n, int64_t t, int64_t f, uint64_t seed) {
  Generator gen(seed);
  return Tensor::normal({n, t, f}, 0, 1, gen);
}

}  // namespace melgrad::models::testing
