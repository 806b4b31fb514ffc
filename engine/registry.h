// The op registry: every op is declared once, in the file that holds its forward and
// backward, with the float64 cases its gradient is checked on. Which devices run it, in
// which dtypes, is each device's backend's answer (Backend::supports).
//
//   static const OpInfo& kExp = register_op({
//       .name = "exp", .family = "elementwise",
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
  std::function<GradCases(Generator&)> gradcheck;  // empty only when !differentiable
  bool differentiable = true;
};

const OpInfo& register_op(OpInfo info);
const OpInfo* find_op(const std::string& name);
std::vector<const OpInfo*> all_ops();

// Throws an error naming the op when the tensors are on different devices, or when their
// device's backend does not support the op in one of their dtypes (Backend::supports), e.g.
// "op 'exp': float64 is not supported on cuda:0 (got float64[3] cuda:0); the cuda backend
// has no float64 kernel for it, convert with .to(DType::f32)".
void check_device(const OpInfo& op, const TensorList& tensors);

// The devices of this build (cpu, and cuda:0 when a CUDA backend is linked) whose backend
// supports `op` in `dtype`: the device lists of the registry-walking tests.
std::vector<Device> devices_supporting(const std::string& op, DType dtype);

}  // namespace melgrad
