// Float64 central-difference gradient checks (as PyTorch's gradcheck): compares the
// autograd gradient of sum(f(inputs) * w), w a fixed random weight, with
// (L(x + eps) - L(x - eps)) / (2 eps) for every element of every input that requires grad.
// The case runs on `device`: on the CPU on its inputs themselves, elsewhere on copies made
// as fresh leaves for every evaluation (the registry-walking test takes the devices from
// devices_supporting(op, float64)).
#pragma once

#include <string>

#include "engine/registry.h"

namespace melgrad {

struct GradCheckResult {
  bool ok = true;
  double max_error = 0;  // largest |analytic - numeric| seen
  std::string message;   // first failure: input, element, both values
};

GradCheckResult gradcheck(const GradCheckCase& c, Device device = Device::cpu());

}  // namespace melgrad
