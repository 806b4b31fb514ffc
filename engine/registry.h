// The op registry: every op is declared once, in the file that holds its forward and
// backward, with the devices it runs on and the float64 cases its gradient is checked on.
//
//   static const OpInfo& kExp = register_op({
//       .name = "exp", .family = "elementwise", .devices = {DeviceType::cpu},
//       .gradcheck = [](Generator& g) { return GradCases{unary_case("exp", g)}; }});
//
// Tests walk the registry: an op without gradient-check cases fails the suite, and an op
// that is not registered cannot record a graph node (record() takes its OpInfo).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/tensor.h"

namespace melgrad {

struct GradCheckCase {
  std::string label;
  TensorList inputs;  // float64; those with requires_grad are checked
  std::function<Tensor(const TensorList&)> fn;
  // Central-difference step and tolerances (|analytic - numeric| <= atol + rtol * |numeric|).
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
};
using GradCases = std::vector<GradCheckCase>;

struct OpInfo {
  std::string name;
  std::string family;
  std::vector<DeviceType> devices;
  std::function<GradCases(Generator&)> gradcheck;  // empty only when !differentiable
  bool differentiable = true;

  bool supports(DeviceType d) const;
};

const OpInfo& register_op(OpInfo info);
const OpInfo* find_op(const std::string& name);
std::vector<const OpInfo*> all_ops();

// Throws an error naming the op when the tensors are on different devices, the op has no
// kernel for their device, or a float64 tensor is on a CUDA device (float32 only there).
void check_device(const OpInfo& op, const TensorList& tensors);

}  // namespace melgrad
