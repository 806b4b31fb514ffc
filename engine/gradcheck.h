// Float64 central-difference gradient checks (as PyTorch's gradcheck): compares the
// autograd gradient of sum(f(inputs) * w), w a fixed random weight, with
// (L(x + eps) - L(x - eps)) / (2 eps) for every element of every input that requires grad.
#pragma once

#include <string>

#include "engine/registry.h"

namespace melgrad {

struct GradCheckResult {
  bool ok = true;
  double max_error = 0;  // largest |analytic - numeric| seen
  std::string message;   // first failure: input, element, both values
};

GradCheckResult gradcheck(const GradCheckCase& c);

}  // namespace melgrad
