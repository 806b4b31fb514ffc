// Inverted dropout with the counter-based Philox mask of common/random.h, bit for
// bit the mask of the engine's CPU dropout (engine/ops/dropout.cpp) for the same seed:
//   element i (global index g = offset + i) is kept iff uniform(seed, g) >= float(p);
//   mask[i] = kept ? float(1 / (1 - p)) : 0,   y[i] = x[i] * mask[i]   (x, y, mask: [n])
// `offset` lets a caller draw a sub-range of one stream (the engine's calls use 0).
// The backward regenerates the mask from (seed, offset) instead of storing it:
//   dx[i] = dy[i] * mask[i]
// With `seed_on_device` set, the kernel reads the seed from that device word when it runs
// (`seed` is ignored): a CUDA graph then replays the same launch with a new seed. The
// references always use `seed`.
// Launchers validate (std::invalid_argument) and launch on `stream`; the references are
// plain C++ loops on host memory.
#pragma once

#include <cstdint>

#include "kernels/runtime.h"

namespace melgrad::kernels {

struct DropoutParams {
  const float* x = nullptr;  // optional: without x only the mask is written
  float* y = nullptr;        // y = x * mask; required with x; may alias x
  float* mask = nullptr;     // optional: the scaled mask
  int64_t n = 0;
  double p = 0.0;  // drop probability, in [0, 1)
  uint64_t seed = 0;
  uint64_t offset = 0;
  const uint64_t* seed_on_device = nullptr;  // optional: read at run time instead of seed
};

struct DropoutBackwardParams {
  const float* dy = nullptr;
  float* dx = nullptr;  // may alias dy
  int64_t n = 0;
  double p = 0.0;
  uint64_t seed = 0;
  uint64_t offset = 0;
  const uint64_t* seed_on_device = nullptr;
};

void dropout_forward(const DropoutParams& p, Stream stream = nullptr);
void dropout_backward(const DropoutBackwardParams& p, Stream stream = nullptr);
void dropout_forward_reference(const DropoutParams& p);
void dropout_backward_reference(const DropoutBackwardParams& p);

}  // namespace melgrad::kernels
