// The cross-backend harness: walks the op registry and runs every gradient-check case of
// every op that the cuda backend supports in float32 (devices_supporting) on the CPU and on
// cuda (through the kernel emulator in CI), in float32, from the same inputs; outputs and
// the gradients of sum(f(x) * w) must agree.
//
// Tolerance: values are O(1) and float32's epsilon is 1.2e-7. The backends round the same
// formulas differently (Eigen's vectorised exp/log/tanh vs CUDA's, fused multiply-adds) and
// sum in different orders (sequential vs warp trees) over at most ~24 terms here, so results
// differ by up to a few tens of ulp of the magnitudes involved, which after cancellation is
// an absolute error: |cuda - cpu| <= 1e-5 + 1e-5 |cpu|.
// Expected per build: the same bound and the same float64 refusal message (the engine's
// check_device) for the emulator and a GPU.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>

#include "engine/backend.h"
#include "engine/gradcheck.h"
#include "engine/ops/ops.h"
#include "engine/registry.h"

using namespace melgrad;

namespace {

constexpr double kRtol = 1e-5, kAtol = 1e-5;

// Cases that, by design, cannot run on cuda: they compute in float64 inside the case.
bool computes_in_float64(const std::string& op, const std::string& label) {
  return op == "to_dtype" && label == "f64 -> f32 -> f64";
}

// The case's inputs in float32 (indices stay int64), as leaves on `device`.
TensorList inputs_on(const GradCheckCase& c, Device device) {
  TensorList out;
  for (const Tensor& t : c.inputs) {
    Tensor x = t.detach();
    if (is_floating(x.dtype())) x = x.to(DType::f32);
    x = x.to(device).detach();
    if (t.requires_grad()) x.requires_grad_();
    out.push_back(x);
  }
  return out;
}

std::string describe(const Tensor& got, const Tensor& want) {
  std::ostringstream s;
  s << "max |cuda - cpu| = " << max_abs_diff(got, want) << " for " << want.str();
  return s.str();
}

}  // namespace

TEST_CASE("every op with CUDA kernels matches the CPU in float32, forward and backward") {
  Generator gen(2024);
  int cases_run = 0;
  std::set<std::string> ops_run, cpu_only;
  for (const OpInfo* op : all_ops()) {
    const std::vector<Device> devices = devices_supporting(op->name, DType::f32);
    if (std::count(devices.begin(), devices.end(), Device::cuda()) == 0) {
      cpu_only.insert(op->name);
      continue;
    }
    if (!op->gradcheck) continue;  // comparisons, argmax: tests/cuda/test_cuda_ops.cpp
    for (const GradCheckCase& c : op->gradcheck(gen)) {
      const std::string where = op->name + " / " + c.label;
      CAPTURE(where);
      TensorList on_cpu = inputs_on(c, Device::cpu()), on_cuda = inputs_on(c, Device::cuda());
      if (computes_in_float64(op->name, c.label)) {
        CHECK_THROWS_WITH(c.fn(on_cuda), doctest::Contains("float64 is not supported on cuda:0"));
        continue;
      }
      const Tensor y_cpu = c.fn(on_cpu);
      const Tensor y_cuda = c.fn(on_cuda);
      if (op->name != "to_device") CHECK(y_cuda.device() == Device::cuda());
      const Tensor y_back = y_cuda.to(Device::cpu());
      CHECK_MESSAGE(allclose(y_back, y_cpu, kRtol, kAtol), "output: " << describe(y_back, y_cpu));

      const Tensor w = Tensor::uniform(y_cpu.shape(), -1, 1, gen);
      sum(y_cpu * w).backward();
      sum(y_cuda * w.to(y_cuda.device())).backward();
      for (std::size_t i = 0; i < on_cpu.size(); ++i) {
        if (!on_cpu[i].requires_grad()) continue;
        CAPTURE(i);
        REQUIRE(on_cpu[i].grad().defined());
        REQUIRE(on_cuda[i].grad().defined());
        CHECK(on_cuda[i].grad().device() == Device::cuda());
        const Tensor g = on_cuda[i].grad().to(Device::cpu());
        CHECK_MESSAGE(allclose(g, on_cpu[i].grad(), kRtol, kAtol),
                      "gradient: " << describe(g, on_cpu[i].grad()));
      }
      ++cases_run;
      ops_run.insert(op->name);
    }
  }
  std::string skipped;
  for (const std::string& n : cpu_only) skipped += " " + n;
  MESSAGE("ran " << cases_run << " cases of " << ops_run.size()
                 << " ops on cuda; CPU-only ops:" << skipped);
  // Every family, the CNN and LSTM layers included: no op is CPU-only.
  CHECK(ops_run.size() >= 41);
  CHECK_MESSAGE(cpu_only.empty(), "CPU-only ops:" << skipped);
  // The same answer from the backend for every op: float32 (and int64 operands), never
  // float64, whose refusal names the op, the device and the dtype to convert to.
  for (const OpInfo* op : all_ops()) {
    CAPTURE(op->name);
    CHECK(backend_for(Device::cuda()).supports(op->name, DType::f32));
    CHECK(backend_for(Device::cuda()).supports(op->name, DType::i64));
    CHECK_FALSE(backend_for(Device::cuda()).supports(op->name, DType::f64));
    CHECK(devices_supporting(op->name, DType::f64) == std::vector<Device>{Device::cpu()});
  }
  for (const char* must :
       {"add", "matmul", "softmax", "log_softmax", "sum", "max", "gather", "index_select", "where",
        "concat", "slice", "dropout", "cross_entropy", "conv2d", "conv2d_relu", "max_pool2d",
        "batch_norm", "lstm_layer", "lstm_bidirectional_layer"})
    CHECK_MESSAGE(ops_run.count(must) == 1, must << " did not run on cuda");
}

TEST_CASE("a float64 gradient check on cuda runs on copies there and is refused by check_device") {
  // gradcheck moves the case's inputs to its device; cuda supports no op in float64, so
  // the registry-walking check never lists it, and forcing it fails naming op and dtype.
  Generator gen(3);
  const OpInfo* op = find_op("exp");
  REQUIRE(op != nullptr);
  const GradCheckCase c = op->gradcheck(gen).at(0);
  CHECK_THROWS_WITH(gradcheck(c, Device::cuda()),
                    doctest::Contains("op 'exp': float64 is not supported on cuda:0"));
  CHECK(gradcheck(c, Device::cpu()).ok);
}
