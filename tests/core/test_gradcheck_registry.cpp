// Walks the op registry: every differentiable op must carry float64 gradient-check cases,
// and each case must pass the central-difference check on every device whose backend
// supports the op in float64 (devices_supporting; the CPU always). A new op without cases
// fails here.
#include <doctest/doctest.h>

#include <algorithm>

#include "engine/backend.h"
#include "engine/gradcheck.h"
#include "engine/ops/ops.h"
#include "engine/registry.h"

using namespace melgrad;

TEST_CASE("the registry holds the core ops") {
  for (const char* name :
       {"add",   "sub",     "mul",     "div",          "pow",     "neg",         "exp",
        "log",   "sqrt",    "abs",     "clamp",        "relu",    "sigmoid",     "tanh",
        "where", "sum",     "max",     "matmul",       "softmax", "log_softmax", "concat",
        "slice", "reshape", "permute", "index_select", "gather"})
    CHECK_MESSAGE(find_op(name) != nullptr, "missing op ", name);
}

TEST_CASE("every differentiable op passes its float64 gradient check") {
  int checked = 0;
  for (const OpInfo* op : all_ops()) {
    if (!op->differentiable) continue;
    CAPTURE(op->name);
    REQUIRE_MESSAGE(op->gradcheck, "op '", op->name, "' has no gradient-check cases");
    Generator gen(42);
    GradCases cases = op->gradcheck(gen);
    REQUIRE_MESSAGE(!cases.empty(), "op '", op->name, "' has no gradient-check cases");
    const std::vector<Device> devices = devices_supporting(op->name, DType::f64);
    CHECK_MESSAGE(std::count(devices.begin(), devices.end(), Device::cpu()) == 1,
                  "the cpu backend does not support '", op->name, "' in float64");
    for (const Device& device : devices)
      for (const GradCheckCase& c : cases) {
        CAPTURE(device.str());
        GradCheckResult r = gradcheck(c, device);
        CHECK_MESSAGE(r.ok, op->name, ": ", r.message);
        ++checked;
      }
  }
  CHECK(checked >= 40);
}

TEST_CASE("the cpu backend supports every registered op in float32 and float64") {
  const Backend& cpu = backend_for(Device::cpu());
  for (const OpInfo* op : all_ops()) {
    CAPTURE(op->name);
    CHECK(cpu.supports(op->name, DType::f32));
    CHECK(cpu.supports(op->name, DType::f64));
  }
}

TEST_CASE("gradcheck catches a wrong backward") {
  // A deliberately wrong gradient (d/dx x^2 taken as x) must fail the check.
  static const OpInfo& bad = register_op(
      {.name = "test_wrong_square", .family = "test", .gradcheck = {}, .differentiable = false});
  GradCheckCase c{"wrong", {}, [](const TensorList& in) {
                    Tensor y = in[0] * in[0];
                    Tensor out = y.detach();
                    return record(bad, {in[0]}, out, [x = in[0].detach()](const TensorList& g) {
                      return TensorList{g[0] * x};
                    });
                  }};
  Generator gen(1);
  Tensor x = Tensor::uniform({4}, 0.5, 1, gen, DType::f64);
  x.requires_grad_();
  c.inputs = {x};
  GradCheckResult r = gradcheck(c);
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("analytic") != std::string::npos);
}
