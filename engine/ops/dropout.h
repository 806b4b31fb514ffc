// Dropout with a counter-based random mask (Philox4x32-10): element i of a call with
// seed s is kept iff philox(s, i) >= p, so the CPU and the CUDA backend draw the very same
// mask from the same seed. Kept values are scaled by 1 / (1 - p) (inverted dropout).
#pragma once

#include <cstdint>

#include "engine/generator.h"
#include "engine/tensor.h"

namespace melgrad {

// Identity when !training or p == 0. The seed of the mask is drawn from `gen`.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);
// The same with an explicit mask seed (for tests and for CPU/GPU parity).
Tensor dropout_with_seed(const Tensor& x, double p, uint64_t seed);

// Philox4x32-10 uniform in [0, 1) for counter `index` under key `seed`.
float philox_uniform(uint64_t seed, uint64_t index);

}  // namespace melgrad
