// Autograd graph behaviour: shared subexpressions, accumulation across backward calls,
// no-grad, detach, freed graphs, non-scalar roots, multi-use leaves.
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/ops/ops.h"

using namespace melgrad;

static Tensor leaf(std::vector<double> v, Shape s) {
  Tensor t = Tensor::from_vector(v, s);
  t.requires_grad_();
  return t;
}

TEST_CASE("shared subexpression: gradients from both uses add up") {
  Tensor x = leaf({2.0}, {});
  Tensor y = x * x;      // used twice below
  Tensor z = y * y + y;  // z = x^4 + x^2, dz/dx = 4x^3 + 2x = 36
  z.backward();
  CHECK(x.grad().item() == doctest::Approx(36.0));
}

TEST_CASE("a leaf used twice in one op gets both contributions") {
  Tensor x = leaf({3.0, -1.0}, {2});
  sum(x * x).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{6.0, -2.0});
}

TEST_CASE("gradients accumulate across backward calls until zeroed") {
  Tensor x = leaf({1.0, 2.0}, {2});
  sum(x * 3.0).backward();
  sum(x * 3.0).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{6.0, 6.0});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{1.0, 1.0});
}

TEST_CASE("a leaf's grad does not alias another leaf's grad") {
  Tensor a = leaf({1.0}, {1}), b = leaf({1.0}, {1});
  (a + b).backward();  // add passes the same gradient tensor to both inputs
  sum(a * 5.0).backward();
  CHECK(a.grad().item() == 6.0);
  CHECK(b.grad().item() == 1.0);
}

TEST_CASE("no-grad guard records nothing") {
  Tensor x = leaf({1.0}, {1});
  Tensor y;
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    y = x * 2.0;
  }
  CHECK(grad_enabled());
  CHECK_FALSE(y.requires_grad());
  CHECK(y.grad_fn() == nullptr);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("does not require grad"), std::logic_error);
}

TEST_CASE("detach cuts the graph but shares storage") {
  Tensor x = leaf({1.0, 2.0}, {2});
  Tensor d = (x * 2.0).detach();
  CHECK_FALSE(d.requires_grad());
  Tensor z = sum(x * d);  // d is a constant here
  z.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{2.0, 4.0});
}

TEST_CASE("backward through a freed graph is an error; retain_graph keeps it") {
  Tensor x = leaf({1.0}, {1});
  Tensor y = sum(exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(2 * std::exp(1.0)));
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("already freed"), std::logic_error);
}

TEST_CASE("a non-scalar root needs an explicit gradient") {
  Tensor x = leaf({1.0, 2.0}, {2});
  Tensor y = x * x;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("one-element tensor"),
                       std::invalid_argument);
  y.backward(Tensor::from_vector(std::vector<double>{1.0, 10.0}, {2}));
  CHECK(x.grad().to_vector() == std::vector<double>{2.0, 40.0});
}

TEST_CASE("requires_grad propagates; leaves and non-leaves") {
  Tensor x = leaf({1.0}, {1});
  Tensor c = Tensor::ones({1}, DType::f64);
  Tensor y = x + c;
  CHECK(y.requires_grad());
  CHECK_FALSE(y.is_leaf());
  CHECK_FALSE((c + c).requires_grad());
  CHECK_THROWS_AS(y.requires_grad_(), std::logic_error);
  CHECK_THROWS_AS(Tensor::zeros({1}, DType::i64).requires_grad_(), std::invalid_argument);
}

TEST_CASE("a long chain backpropagates without recursion") {
  Tensor x = leaf({1.0}, {1});
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = y * 1.0;
  sum(y).backward();
  CHECK(x.grad().item() == 1.0);
}

TEST_CASE("view gradients reach the base through slices and reshapes") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = sum(x.narrow(1, 1, 2).reshape({4}) * 2.0) + sum(x.transpose(0, 1).narrow(0, 0, 1));
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{1, 2, 2, 1, 2, 2});
}

TEST_CASE("the leaf-ready hook fires once per leaf, after its last gradient arrived") {
  // w is used twice (two edges into the leaf): the hook must wait for both; b once; x is a
  // leaf without requires_grad (no edge). The values the hook sees are the final ones.
  Tensor w = Tensor::from_vector(std::vector<float>{2.0f, -1.0f}, {2}).requires_grad_();
  Tensor b = Tensor::from_vector(std::vector<float>{0.5f, 0.25f}, {2}).requires_grad_();
  Tensor x = Tensor::from_vector(std::vector<float>{3.0f, 4.0f}, {2});
  std::vector<std::pair<TensorImpl*, std::vector<double>>> seen;
  {
    LeafGradReadyGuard hook(
        [&](TensorImpl& leaf) { seen.emplace_back(&leaf, Tensor(leaf.grad).to_vector()); });
    sum(w * x + w * w + b).backward();
  }
  REQUIRE(seen.size() == 2);
  for (const auto& [leaf, grad] : seen) {
    if (leaf == &w.impl())
      CHECK(grad == std::vector<double>{3.0 + 4.0, 4.0 - 2.0});  // x + 2w
    else
      CHECK(leaf == &b.impl());
  }
  // Outside the guard no hook runs.
  w.zero_grad();
  sum(w * x).backward();
  CHECK(seen.size() == 2);
}
