// Op semantics in float32 and float64: values against hand-computed results, broadcasting
// shapes, reductions with keepdim, softmax identities, matmul against a naive loop.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/ops.h"

using namespace melgrad;

static Tensor vec(std::vector<double> v) {
  Shape s{static_cast<int64_t>(v.size())};
  return Tensor::from_vector(v, s);
}

TEST_CASE("broadcasting binary ops give NumPy shapes and values") {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = vec({10, 20, 30});
  Tensor col = Tensor::from_vector(std::vector<double>{100, 200}, {2, 1});
  CHECK((a + row).to_vector() == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK((a * col).to_vector() == std::vector<double>{100, 200, 300, 800, 1000, 1200});
  CHECK((row + col).shape() == Shape{2, 3});
  CHECK((a - 1.0).to_vector() == std::vector<double>{0, 1, 2, 3, 4, 5});
  CHECK((1.0 - a).to_vector()[5] == -5);
  CHECK((12.0 / a).to_vector()[3] == 3);
  CHECK(pow(vec({2, 3}), vec({3, 2})).to_vector() == std::vector<double>{8, 9});
}

TEST_CASE("unary ops match the C library in float32 and float64") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = vec({-1.5, -0.25, 0.5, 2.0}).to(dt);
    double tol = dt == DType::f32 ? 1e-6 : 1e-14;
    std::vector<double> xs = x.to_vector();
    auto check = [&](Tensor y, double (*f)(double)) {
      std::vector<double> v = y.to_vector();
      for (size_t i = 0; i < xs.size(); ++i) CHECK(v[i] == doctest::Approx(f(xs[i])).epsilon(tol));
    };
    check(exp(x), [](double v) { return std::exp(v); });
    check(tanh(x), [](double v) { return std::tanh(v); });
    check(sigmoid(x), [](double v) { return 1 / (1 + std::exp(-v)); });
    check(relu(x), [](double v) { return v > 0 ? v : 0; });
    check(abs(x), [](double v) { return std::abs(v); });
    check(neg(x), [](double v) { return -v; });
    check(clamp(x, -1, 1), [](double v) { return std::min(std::max(v, -1.0), 1.0); });
    check(log(abs(x)), [](double v) { return std::log(std::abs(v)); });
    check(sqrt(abs(x)), [](double v) { return std::sqrt(std::abs(v)); });
    check(pow(x, 3.0), [](double v) { return v * v * v; });
  }
}

// PyTorch 2.15's values (float64) of y = f(x) and dy/dx, printed by
//   x = torch.tensor([-4, -1.5, -0.25, 0, 0.5, 2, 3.5], dtype=torch.float64, requires_grad=True)
//   y = torch.nn.functional.gelu(x); y.sum().backward(); print(y.tolist(), x.grad.tolist())
// (and likewise for silu). Tolerance (doctest's Approx: |a - b| < tol * (1 + max(|a|, |b|))):
// float64 1e-14, a few ulp for libm's erf/exp, which may differ from PyTorch's by one ulp;
// float32 1e-6: a few float ulp of values up to 3.5 (and 1 + erf(x) near x = -4 turns erf's
// absolute rounding, 6e-8, into the result's).
static void check_against_torch(Tensor (*f)(const Tensor&), const std::vector<double>& y_torch,
                                const std::vector<double>& dy_torch) {
  for (DType dt : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dt));
    const double tol = dt == DType::f32 ? 1e-6 : 1e-14;
    Tensor x = vec({-4, -1.5, -0.25, 0, 0.5, 2, 3.5}).to(dt).detach();
    x.requires_grad_();
    Tensor y = f(x);
    sum(y).backward();
    const std::vector<double> got_y = y.to_vector(), got_dy = x.grad().to_vector();
    for (size_t i = 0; i < y_torch.size(); ++i) {
      CAPTURE(i);
      CHECK(got_y[i] == doctest::Approx(y_torch[i]).epsilon(tol));
      CHECK(got_dy[i] == doctest::Approx(dy_torch[i]).epsilon(tol));
    }
  }
}

TEST_CASE("gelu (erf form) and its gradient match PyTorch") {
  check_against_torch(gelu,
                      {-0.00012668496733247991, -0.10021080190328704, -0.10032341857926907, 0.0,
                       0.34573123063700656, 1.9544997361036416, 3.4991857982233756},
                      {-0.0005036496612264215, -0.1274691922299796, 0.304626645116364, 0.5,
                       0.8674951246561629, 1.085231801078197, 1.0028217603536247});
}

TEST_CASE("silu and its gradient match PyTorch") {
  check_against_torch(silu,
                      {-0.07194483984836623, -0.2736382857095345, -0.10945587477855048, 0.0,
                       0.3112296656009273, 1.7615941559557646, 3.3974071923702525},
                      {-0.05266461489107291, -0.041294154299142946, 0.37628997842980233, 0.5,
                       0.7399611873026519, 1.0907842487848955, 1.0702733528277182});
}

TEST_CASE("where, masked_fill and comparisons") {
  Tensor a = vec({1, 2, 3}), b = vec({3, 2, 1});
  CHECK(gt(a, b).to_vector() == std::vector<double>{0, 0, 1});
  CHECK(eq(a, b).to_vector() == std::vector<double>{0, 1, 0});
  CHECK(where(lt(a, b), a, b).to_vector() == std::vector<double>{1, 2, 1});
  CHECK(masked_fill(a, ge(a, b), -1).to_vector() == std::vector<double>{1, -1, -1});
}

TEST_CASE("reductions: dims, keepdim, negative dims") {
  Tensor x = Tensor::arange(24, DType::f64).reshape({2, 3, 4});
  CHECK(sum(x).item() == 276);
  CHECK(sum(x, {1}).shape() == Shape{2, 4});
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1, 4});
  CHECK(sum(x, {0, 2}).to_vector() == std::vector<double>{60, 92, 124});
  CHECK(sum(x, {-1}).to_vector()[0] == 6);
  CHECK(mean(x, {2}).to_vector()[1] == 5.5);
  CHECK(max(x, {1}).to_vector() == std::vector<double>{8, 9, 10, 11, 20, 21, 22, 23});
  CHECK(min(x.transpose(0, 2), {-1}).to_vector()[5] == 9);  // [i=1, j=2]: min_k 12k+4j+i
  CHECK(argmax(vec({1, 5, 5, 2}), 0).item() == 1);          // first maximum
  CHECK(argmax(Tensor::from_vector(std::vector<float>{1, 9, 3, 4, 0, 7}, {2, 3}), 1).to_vector() ==
        std::vector<double>{1, 2});
}

TEST_CASE("max shares the gradient among ties") {
  Tensor x = vec({1, 3, 3, 2});
  x.requires_grad_();
  max(x).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{0, 0.5, 0.5, 0});
}

TEST_CASE("softmax rows sum to one; log_softmax is stable for large inputs") {
  Tensor x = Tensor::from_vector(std::vector<float>{1000, 1001, 1002, -5, 0, 5}, {2, 3});
  Tensor p = softmax(x, 1);
  std::vector<double> s = sum(p, {1}).to_vector();
  CHECK(s[0] == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(s[1] == doctest::Approx(1.0).epsilon(1e-6));
  std::vector<double> ls = log_softmax(x, 1).to_vector();
  double expected = -std::log(1 + std::exp(1.0) + std::exp(2.0));  // first row, first entry
  CHECK(ls[0] == doctest::Approx(expected).epsilon(1e-6));
  for (double v : ls) CHECK(std::isfinite(v));
}

TEST_CASE("matmul agrees with a naive loop, including transposed and batched operands") {
  Generator g(3);
  Tensor a = Tensor::normal({2, 5, 7}, 0, 1, g, DType::f64);
  Tensor b = Tensor::normal({7, 3}, 0, 1, g, DType::f64);
  Tensor c = matmul(a, b);
  CHECK(c.shape() == Shape{2, 5, 3});
  std::vector<double> va = a.to_vector(), vb = b.to_vector(), vc = c.to_vector();
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 3; ++j) {
        double s = 0;
        for (int k = 0; k < 7; ++k) s += va[(n * 5 + i) * 7 + k] * vb[k * 3 + j];
        CHECK(vc[(n * 5 + i) * 3 + j] == doctest::Approx(s).epsilon(1e-12));
      }
  Tensor bt = b.transpose(0, 1).contiguous();
  CHECK(allclose(matmul(a, bt.transpose(0, 1)), c, 1e-12, 1e-12));
  Tensor af = a.to(DType::f32), bf = b.to(DType::f32);
  CHECK(allclose(matmul(af, bf).to(DType::f64), c, 1e-5, 1e-5));
}

TEST_CASE("a tiny MLP learns XOR with plain gradient descent") {
  Generator g(0);
  Tensor x = Tensor::from_vector(std::vector<float>{0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
  Tensor y = Tensor::from_vector(std::vector<float>{0, 1, 1, 0}, {4, 1});
  Tensor w1 = Tensor::normal({2, 8}, 0, 1, g).requires_grad_();
  Tensor b1 = Tensor::zeros({8}).requires_grad_();
  Tensor w2 = Tensor::normal({8, 1}, 0, 1, g).requires_grad_();
  Tensor b2 = Tensor::zeros({1}).requires_grad_();
  double first = 0, last = 0;
  for (int step = 0; step < 2000; ++step) {
    Tensor h = tanh(matmul(x, w1) + b1);
    Tensor loss = mean(pow(sigmoid(matmul(h, w2) + b2) - y, 2.0));
    if (step == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor* p : {&w1, &b1, &w2, &b2}) {
      p->copy_(*p - p->grad() * 2.0);
      p->zero_grad();
    }
  }
  CHECK(first > 0.2);
  CHECK(last < 0.01);
}
