// Tensor basics: factories, views sharing storage, strides, printing, tolerance equality,
// seeded random generators.
#include <doctest/doctest.h>

#include <sstream>

#include "engine/ops/ops.h"

using namespace melgrad;

TEST_CASE("factories fill and report shape, dtype, device") {
  Tensor z = Tensor::zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.dtype() == DType::f32);
  CHECK(z.device().is_cpu());
  CHECK(z.is_contiguous());
  for (double v : z.to_vector()) CHECK(v == 0.0);
  Tensor f = Tensor::full({4}, 2.5, DType::f64);
  CHECK(f.to_vector() == std::vector<double>{2.5, 2.5, 2.5, 2.5});
  CHECK(Tensor::arange(4, DType::i64).to_vector() == std::vector<double>{0, 1, 2, 3});
  CHECK(Tensor::scalar(3.0).item() == 3.0);
  CHECK_THROWS_WITH_AS(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}),
                       doctest::Contains("do not fill shape [2, 2]"), std::invalid_argument);
}

TEST_CASE("views share storage; strides follow permute and slice") {
  Tensor x = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = x.transpose(0, 1);
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.strides() == Shape{1, 3});
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.to_vector() == std::vector<double>{0, 3, 1, 4, 2, 5});
  Tensor row = x.narrow(0, 1, 1);
  CHECK(row.offset() == 3);
  row.fill_(9);  // writes through the view
  CHECK(x.to_vector() == std::vector<double>{0, 1, 2, 9, 9, 9});
  Tensor every2 = slice(Tensor::arange(7, DType::f64), 0, 0, 7, 2);
  CHECK(every2.to_vector() == std::vector<double>{0, 2, 4, 6});
  Tensor c = t.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.to_vector() == t.to_vector());
}

TEST_CASE("reshape copies only when it must") {
  Tensor x = Tensor::arange(12, DType::f64);
  Tensor r = x.reshape({3, -1});
  CHECK(r.shape() == Shape{3, 4});
  CHECK(r.impl().storage == x.impl().storage);
  Tensor t = r.transpose(0, 1).reshape({12});
  CHECK(t.impl().storage != x.impl().storage);
  CHECK(t.to_vector()[1] == 4.0);
  CHECK_THROWS_WITH_AS(x.reshape({5, -1}), doctest::Contains("cannot view"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.transpose(0, 1).view({12}), doctest::Contains("not contiguous"),
                       std::invalid_argument);
}

TEST_CASE("concat, stack, index_select and gather") {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector(std::vector<double>{5, 6}, {2, 1});
  CHECK(concat({a, b}, 1).to_vector() == std::vector<double>{1, 2, 5, 3, 4, 6});
  CHECK(stack({a, a}, 0).shape() == Shape{2, 2, 2});
  CHECK_THROWS_WITH_AS(concat({a, b}, 0), doctest::Contains("does not match"),
                       std::invalid_argument);
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{1, 1, 0}, {3});
  CHECK(index_select(a, 0, idx).to_vector() == std::vector<double>{3, 4, 3, 4, 1, 2});
  Tensor gi = Tensor::from_vector(std::vector<int64_t>{1, 0}, {2, 1});
  CHECK(gather(a, 1, gi).to_vector() == std::vector<double>{2, 3});
  Tensor bad = Tensor::from_vector(std::vector<int64_t>{2}, {1});
  CHECK_THROWS_WITH_AS(index_select(a, 0, bad), doctest::Contains("out of range"),
                       std::out_of_range);
}

TEST_CASE("dtype conversion and item") {
  Tensor x = Tensor::from_vector(std::vector<double>{1.5, -2.25}, {2});
  Tensor f = x.to(DType::f32);
  CHECK(f.dtype() == DType::f32);
  CHECK(f.to_vector() == std::vector<double>{1.5, -2.25});
  CHECK_THROWS_WITH_AS(x.item(), doctest::Contains("has 2 elements"), std::invalid_argument);
  CHECK_THROWS_AS(x.data<float>(), std::invalid_argument);
}

TEST_CASE("printing shows values, dtype and grad flag") {
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  x.requires_grad_();
  std::ostringstream s;
  s << x;
  CHECK(s.str() == "tensor([[1, 2],\n        [3, 4]], dtype=float32, requires_grad)");
  std::ostringstream big;
  big << Tensor::arange(100, DType::f64);
  CHECK(big.str().find("...") != std::string::npos);
}

TEST_CASE("allclose and max_abs_diff") {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2}, {2});
  Tensor b = Tensor::from_vector(std::vector<double>{1, 2 + 1e-7}, {2});
  CHECK(allclose(a, b, 1e-6, 0));
  CHECK_FALSE(allclose(a, b, 1e-9, 0));
  CHECK(max_abs_diff(a, b) == doctest::Approx(1e-7));
  CHECK_FALSE(allclose(a, Tensor::zeros({3}, DType::f64)));
}

TEST_CASE("generators are deterministic per seed and have the right moments") {
  Generator g1(7), g2(7), g3(8);
  Tensor a = Tensor::normal({10000}, 0, 1, g1, DType::f64);
  Tensor b = Tensor::normal({10000}, 0, 1, g2, DType::f64);
  Tensor c = Tensor::normal({10000}, 0, 1, g3, DType::f64);
  CHECK(allclose(a, b, 0, 0));
  CHECK_FALSE(allclose(a, c));
  double m = mean(a).item(), v = mean(a * a).item() - m * m;
  CHECK(std::abs(m) < 0.05);  // 5 standard errors at n = 10^4
  CHECK(std::abs(v - 1) < 0.07);
  Tensor u = Tensor::uniform({10000}, -2, 3, g1, DType::f64);
  CHECK(min(u).item() >= -2);
  CHECK(max(u).item() < 3);
  CHECK(mean(u).item() == doctest::Approx(0.5).epsilon(0.05));
}

TEST_CASE("errors name the op and both shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(add(a, b), "add: shapes [2, 3] and [4] cannot be broadcast together",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(a, Tensor::zeros({2, 3})),
                       doctest::Contains("matmul: shapes [2, 3] and [2, 3] do not multiply"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mul(a, Tensor::zeros({2, 3}, DType::f64)),
                       doctest::Contains("mul: dtype mismatch"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(sum(a, {2}), doctest::Contains("dim 2 out of range"), std::invalid_argument);
  // mean is built on sum, but its errors name mean.
  CHECK_THROWS_WITH_AS(mean(a, {5}), doctest::Contains("mean: dim 5 out of range"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mean(a, {1, -1}), "mean: a dim appears twice", std::invalid_argument);
  CHECK_THROWS_WITH_AS(mean(Tensor::zeros({0, 3}), {1}), doctest::Contains("mean: empty tensor"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mean(Tensor::from_vector(std::vector<int64_t>{1, 2}, {2})),
                       doctest::Contains("mean: expected a floating-point tensor"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}, DType::f32, Device::cuda()),
                       doctest::Contains("cuda:0 is not available"), std::runtime_error);
}
