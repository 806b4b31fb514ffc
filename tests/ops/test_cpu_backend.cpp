// The CPU backend's composite ops (engine/cpu/fused.cpp) give, bit for bit, what the same
// formulas composed of primitive ops give (forward and gradient): the CPU path of the
// study before these ops moved into the backend. Exact equality, no tolerance: both run
// the same primitive kernels in the same order. Also the CPU's capability answers (no
// step graphs) and its range checks, which throw at once naming the op and the value.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/backend.h"
#include "engine/ops/dropout.h"
#include "engine/ops/loss.h"
#include "engine/ops/ops.h"

using namespace melgrad;

namespace {

// A leaf copy of x that requires grad.
Tensor leaf(const Tensor& x) {
  Tensor t = x.clone().detach();
  t.requires_grad_();
  return t;
}

void check_identical(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape() == want.shape());
  CHECK(got.to_vector() == want.to_vector());
}

}  // namespace

TEST_CASE("cpu softmax and log_softmax equal their primitive-op compositions bit for bit") {
  Generator gen(5);
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor x = Tensor::uniform({4, 7}, -3, 3, gen, dt);
    const Tensor g = Tensor::uniform({4, 7}, -1, 1, gen, dt);
    for (int64_t dim : {0, 1}) {
      CAPTURE(dim);
      Tensor a = leaf(x), b = leaf(x);
      const Tensor s = softmax(a, dim);
      const Tensor e = exp(x - max(x, {dim}, true));
      check_identical(s, e / sum(e, {dim}, true));
      s.backward(g);  // dx = g * y - y * sum(g * y)
      const Tensor gy = g * s.detach();
      check_identical(a.grad(), gy - s.detach() * sum(gy, {dim}, true));

      const Tensor l = log_softmax(b, dim);
      const Tensor shifted = x - max(x, {dim}, true);
      check_identical(l, shifted - log(sum(exp(shifted), {dim}, true)));
      l.backward(g);  // dx = g - exp(y) * sum(g)
      check_identical(b.grad(), g - exp(l.detach()) * sum(g, {dim}, true));
    }
  }
}

TEST_CASE("cpu cross_entropy equals -mean(gather(log_softmax)) bit for bit, weighted too") {
  Generator gen(6);
  const Tensor targets = Tensor::from_vector(std::vector<int64_t>{2, 0, 3, 1, 2}, {5});
  const Tensor index = targets.reshape({5, 1});
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor x = Tensor::uniform({5, 4}, -2, 2, gen, dt);
    const Tensor class_weights = Tensor::uniform({4}, 0.5, 2, gen, dt);
    for (bool weighted : {false, true}) {
      CAPTURE(weighted);
      Tensor a = leaf(x), b = leaf(x);
      const Tensor cw = weighted ? class_weights : Tensor();
      const Tensor loss = cross_entropy(a, targets, cw);
      const Tensor picked = gather(log_softmax(b, 1), 1, index).reshape({5});
      const Tensor loss_ref =
          weighted ? -sum(picked * index_select(cw, 0, targets)) / sum(index_select(cw, 0, targets))
                   : -mean(picked);
      check_identical(loss, loss_ref);
      (loss * 1.7).backward();
      (loss_ref * 1.7).backward();
      check_identical(a.grad(), b.grad());
    }
  }
}

TEST_CASE("cpu dropout is x times the Philox mask, and its backward the same mask") {
  Generator gen(7);
  const double p = 0.4;
  const uint64_t seed = 1234;
  // 70 000 values: more than one thread's chunk, so the split cannot show.
  const Tensor x = Tensor::uniform({70000}, -1, 1, gen);
  Tensor a = leaf(x);
  const Tensor y = dropout_with_seed(a, p, seed);
  std::vector<float> mask(x.numel());
  for (int64_t i = 0; i < x.numel(); ++i)
    mask[i] = philox_uniform(seed, uint64_t(i)) >= float(p) ? float(1.0 / (1.0 - p)) : 0.0f;
  const Tensor m = Tensor::from_vector(mask, {x.numel()});
  check_identical(y, x * m);
  const Tensor g = Tensor::uniform({x.numel()}, -1, 1, gen);
  y.backward(g);
  check_identical(a.grad(), g * m);
}

TEST_CASE("the cpu backend runs no step graphs and says why") {
  Backend& cpu = backend_for(Device::cpu());
  std::string why_not;
  bool ran = false;
  CHECK(cpu.capture_step([&] { ran = true; }, why_not) == nullptr);
  CHECK_FALSE(ran);
  CHECK(why_not == "the cpu backend has no step graphs");
  Generator gen(1);
  CHECK(cpu.recording_dropout_seed(gen, 42) == nullptr);  // nothing is being recorded
}

TEST_CASE("cpu range checks throw at once, naming the op and the value") {
  Backend& cpu = backend_for(Device::cpu());
  const Tensor values = Tensor::from_vector(std::vector<int64_t>{1, 3, 7}, {3});
  CHECK_NOTHROW(cpu.check_range(values, 1, 7, RangeCheck::sequence_length, "lstm_layer"));
  CHECK_THROWS_WITH_AS(cpu.check_range(values, 1, 5, RangeCheck::sequence_length, "lstm_layer"),
                       "lstm_layer: length 7 is outside [1, T = 5]", std::invalid_argument);
  CHECK_THROWS_WITH_AS(cpu.check_range(values, 0, 2, RangeCheck::class_target, "cross_entropy"),
                       "cross_entropy: target class 3 out of range for 3 classes",
                       std::invalid_argument);
  CHECK_THROWS_WITH(cpu.check_range(Tensor::zeros({2}), 0, 2, RangeCheck::class_target, "op"),
                    "op: expected int64 values to check, got float32[2] cpu");
}
