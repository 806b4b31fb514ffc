// Internal helpers shared by the op families: argument checks with op-naming messages,
// broadcast views, and the float64 inputs the gradient checks use.
#pragma once

#include <string>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops/ops.h"
#include "engine/registry.h"

namespace melgrad::detail {

// Throws "op: expected a floating-point tensor, got int64[3] cpu".
void check_floating(const OpInfo& op, const Tensor& x);
// Throws "op: dtype mismatch, float32[2] cpu and float64[2] cpu".
void check_same_dtype(const OpInfo& op, const Tensor& a, const Tensor& b);
void check_index(const OpInfo& op, const Tensor& index);

// A scalar tensor with x's dtype and device.
Tensor scalar_like(const Tensor& x, double value);

// Gradient-check inputs: float64, requires_grad, uniform in [lo, hi).
Tensor gc_input(const Shape& shape, Generator& gen, double lo = -1.0, double hi = 1.0);
// Same, but with |value| in [lo, hi) and random sign (keeps away from kinks at 0).
Tensor gc_input_away_from_zero(const Shape& shape, Generator& gen, double lo = 0.2,
                               double hi = 1.0);

}  // namespace melgrad::detail
