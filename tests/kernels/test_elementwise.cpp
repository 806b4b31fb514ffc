// Elementwise kernels (kernels/elementwise.cu) against their CPU references: every unary op
// (with its scalar parameters) and every binary op, comparisons included, with every fused
// activation, on odd sizes (not multiples of the block or warp), broadcast operands,
// transposed (strided) inputs and outputs, scalars and empty tensors. The references evaluate
// common/elementwise_ops.h's functions in double, so this checks indexing and float rounding.
// Tolerance: float32 CUDA/libm functions are within 2-4 ulp of the float64 evaluation and
// a * x + b may fuse into one rounding (FMA), so 4e-6 relative plus 1e-6 absolute (for results
// near zero, e.g. gelu of negative inputs). Ops that select or compare values (sign, clamp,
// step, eq..le) must match exactly.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/elementwise.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad;
using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;

namespace {

constexpr double kAtol = 1e-6, kRtol = 4e-6;

bool needs_positive(UnaryOp op) {
  return op == UnaryOp::log || op == UnaryOp::sqrt || op == UnaryOp::rsqrt ||
         op == UnaryOp::pow_scalar;
}

// The activations a binary kernel fuses in the engine and the layers.
constexpr UnaryOp kActivations[] = {UnaryOp::identity, UnaryOp::relu, UnaryOp::sigmoid,
                                    UnaryOp::tanh,     UnaryOp::gelu, UnaryOp::silu};

// Runs the unary kernel and the reference on one layout; `storage` elements back x and y.
void check_unary(const UnaryParams& layout, std::size_t storage, uint64_t seed, double rtol = kRtol,
                 double atol = kAtol) {
  const bool pos = needs_positive(layout.op);
  const auto x = random_floats(storage, seed, pos ? 0.05f : -4.0f, 4.0f);
  std::vector<float> expected(storage, -7.0f);  // untouched slots must stay -7 on both sides
  UnaryParams ref = layout;
  ref.x = x.data();
  ref.y = expected.data();
  elementwise_unary_reference(ref);
  for_each_schedule([&] {
    DeviceBuffer<float> dx(x), dy(std::vector<float>(storage, -7.0f));
    UnaryParams p = layout;
    p.x = dx.data();
    p.y = dy.data();
    elementwise_unary(p);
    check_close(dy.to_host(), expected, atol, rtol);
  });
}

void check_binary(const BinaryParams& layout, std::size_t a_n, std::size_t b_n, std::size_t y_n,
                  uint64_t seed) {
  const bool pow = layout.op == BinaryOp::pow;
  const auto a = random_floats(a_n, seed, pow ? 0.1f : -3.0f, 3.0f);
  auto b = random_floats(b_n, seed + 1, pow ? -2.0f : -3.0f, 3.0f);
  if (layout.op == BinaryOp::div) {
    for (float& v : b) v = v < 0 ? v - 0.25f : v + 0.25f;  // keep away from 0
  }
  std::vector<float> expected(y_n, -7.0f);
  BinaryParams ref = layout;
  ref.a = a.data();
  ref.b = b.data();
  ref.y = expected.data();
  elementwise_binary_reference(ref);
  for_each_schedule([&] {
    DeviceBuffer<float> da(a), db(b), dy(std::vector<float>(y_n, -7.0f));
    BinaryParams p = layout;
    p.a = da.data();
    p.b = db.data();
    p.y = dy.data();
    elementwise_binary(p);
    check_close(dy.to_host(), expected, kAtol, kRtol);
  });
}

}  // namespace

TEST_CASE("elementwise_unary: every op, contiguous, odd size, with its parameters") {
  for (int op = 0; op < kUnaryOpCount; ++op) {
    CAPTURE(op);
    UnaryParams p;
    p.shape = Shape{3, 337};  // 1011 elements: not a multiple of 32 or 256
    p.x_strides = p.y_strides = contiguous_strides(p.shape);
    p.op = static_cast<UnaryOp>(op);
    p.a = 0.75f;  // x^0.75, clamp to [0.75, 1.25], 0.75 x + 1.25, x > 0.75
    p.b = 1.25f;
    check_unary(p, 1011, 100 + static_cast<uint64_t>(op));
  }
}

TEST_CASE("elementwise_unary: sign, pow, clamp, step exactly, on a transposed input with 0, NaN") {
  const int64_t r = 9, c = 41;
  struct Case {
    UnaryOp op;
    float a, b;
    double rtol;  // pow goes through powf, within a few ulp of the float64 reference
  };
  for (Case k : {Case{UnaryOp::sign, 0, 0, 0}, Case{UnaryOp::pow_scalar, 2.0f, 0, 0},
                 Case{UnaryOp::pow_scalar, -1.5f, 0, 2e-6}, Case{UnaryOp::clamp, -0.5f, 0.75f, 0},
                 Case{UnaryOp::step, 0.25f, 0, 0}}) {
    CAPTURE(static_cast<int>(k.op));
    CAPTURE(k.a);
    UnaryParams p;
    p.op = k.op;
    p.a = k.a;
    p.b = k.b;
    p.shape = Shape{r, c};
    p.x_strides = Strides{{1, r}};  // x stored as [c, r], read transposed
    p.y_strides = contiguous_strides(p.shape);
    check_unary(p, static_cast<std::size_t>(r * c), 9, k.rtol, 0);
  }
  // 0 and NaN: sign(0) = sign(NaN) = 0, clamp and relu keep NaN, step(NaN) = 0.
  const std::vector<float> x = {0.0f, std::nanf(""), -0.0f};
  for (UnaryOp op : {UnaryOp::sign, UnaryOp::clamp, UnaryOp::relu, UnaryOp::step}) {
    CAPTURE(static_cast<int>(op));
    DeviceBuffer<float> dx(x), dy(std::vector<float>(3, -7.0f));
    UnaryParams p;
    p.op = op;
    p.a = -0.5f;
    p.b = 0.5f;
    p.shape = Shape{3};
    p.x_strides = p.y_strides = contiguous_strides(p.shape);
    p.x = dx.data();
    p.y = dy.data();
    elementwise_unary(p);
    const std::vector<float> y = dy.to_host();
    const bool keeps_nan = op == UnaryOp::clamp || op == UnaryOp::relu;
    CHECK(y[0] == (op == UnaryOp::step ? 1.0f : 0.0f));  // step: 0 > -0.5
    CHECK(keeps_nan ? std::isnan(y[1]) : y[1] == 0.0f);
  }
}

TEST_CASE("elementwise_unary: transposed input and output, and large grid-stride sizes") {
  UnaryParams p;
  p.shape = Shape{37, 41};
  p.x_strides = Strides{{1, 37}};  // x stored as [41, 37], read transposed
  p.y_strides = contiguous_strides(p.shape);
  p.op = UnaryOp::tanh;
  check_unary(p, 37 * 41, 1);
  p.x_strides = contiguous_strides(p.shape);
  p.y_strides = Strides{{1, 37}};  // y written transposed
  p.op = UnaryOp::gelu;
  check_unary(p, 37 * 41, 2);
  // More elements than the grid has threads: every thread loops.
  UnaryParams big;
  big.shape = Shape{70001};
  big.x_strides = big.y_strides = contiguous_strides(big.shape);
  big.op = UnaryOp::sigmoid;
  check_unary(big, 70001, 3);
}

TEST_CASE("elementwise_unary: a strided output leaves the gaps alone; scalars; empty") {
  UnaryParams p;
  p.shape = Shape{5, 7};
  p.x_strides = contiguous_strides(p.shape);
  p.y_strides = Strides{{16, 2}};  // every other element of rows padded to 16
  p.op = UnaryOp::square;
  check_unary(p, 5 * 16, 4);  // check_unary compares the whole storage, gaps included
  UnaryParams s;              // ndim 0: one element
  s.op = UnaryOp::exp;
  check_unary(s, 1, 5);
  UnaryParams e;
  e.shape = Shape{4, 0, 3};
  elementwise_unary(e);  // nothing to do; null pointers are fine
}

TEST_CASE("elementwise_binary: every op with every fused activation, contiguous") {
  for (int op = 0; op < kBinaryOpCount; ++op) {
    for (UnaryOp act : kActivations) {
      CAPTURE(op);
      CAPTURE(static_cast<int>(act));
      BinaryParams p;
      p.shape = Shape{1, 613};
      p.a_strides = p.b_strides = p.y_strides = contiguous_strides(p.shape);
      p.op = static_cast<BinaryOp>(op);
      p.act = act;
      check_binary(p, 613, 613, 613, 10 * static_cast<uint64_t>(op) + static_cast<uint64_t>(act));
    }
  }
}

TEST_CASE("elementwise_binary: comparisons exactly, broadcast row, with ties and NaN") {
  auto a = random_floats(5 * 7, 4, -2.0f, 2.0f);
  auto b = random_floats(7, 5, -2.0f, 2.0f);
  a[3] = b[3];  // a tie in row 0
  a[8] = NAN;
  for (BinaryOp op : {BinaryOp::eq, BinaryOp::gt, BinaryOp::ge, BinaryOp::lt, BinaryOp::le}) {
    CAPTURE(static_cast<int>(op));
    BinaryParams p;
    p.op = op;
    p.shape = Shape{5, 7};
    p.a_strides = p.y_strides = contiguous_strides(p.shape);
    p.b_strides = broadcast_strides(p.shape, Shape{7});
    std::vector<float> expected(35);
    p.a = a.data();
    p.b = b.data();
    p.y = expected.data();
    elementwise_binary_reference(p);
    CHECK(expected[3] == (op == BinaryOp::eq || op == BinaryOp::ge || op == BinaryOp::le));
    CHECK(expected[8] == 0.0f);  // every comparison with NaN is false
    for_each_schedule([&] {
      DeviceBuffer<float> da(a), db(b), dy(35);
      p.a = da.data();
      p.b = db.data();
      p.y = dy.data();
      elementwise_binary(p);
      check_close(dy.to_host(), expected, 0, 0);
    });
  }
}

TEST_CASE("elementwise_binary: NumPy broadcasting through strides") {
  // a: [3, 1, 7] and b: [5, 1] broadcast to [3, 5, 7]; bias add + relu, the Linear epilogue.
  const Shape out{3, 5, 7}, a_shape{3, 1, 7}, b_shape{5, 1};
  BinaryParams p;
  p.shape = out;
  p.a_strides = broadcast_strides(out, a_shape);
  p.b_strides = broadcast_strides(out, b_shape);
  p.y_strides = contiguous_strides(out);
  CHECK(p.a_strides.v[0] == 7);
  CHECK(p.a_strides.v[1] == 0);
  CHECK(p.a_strides.v[2] == 1);
  CHECK(p.b_strides.v[0] == 0);
  CHECK(p.b_strides.v[1] == 1);
  CHECK(p.b_strides.v[2] == 0);
  p.op = BinaryOp::add;
  p.act = UnaryOp::relu;
  check_binary(p, 21, 5, 105, 7);
  // A scalar b (ndim 0) against a 4-D a, with mul and sigmoid.
  const Shape out4{2, 3, 5, 9};
  BinaryParams q;
  q.shape = out4;
  q.a_strides = q.y_strides = contiguous_strides(out4);
  q.b_strides = broadcast_strides(out4, Shape{});
  q.op = BinaryOp::mul;
  q.act = UnaryOp::sigmoid;
  check_binary(q, 270, 1, 270, 8);
  CHECK_THROWS_AS(broadcast_strides(out, Shape{4, 7}), std::invalid_argument);
}

TEST_CASE("elementwise_binary: in place (y aliases a) and NaN propagation") {
  std::vector<float> a = {1.0f, std::nanf(""), -2.0f, 3.0f, 0.5f};
  std::vector<float> b = {2.0f, 1.0f, std::nanf(""), -1.0f, 0.5f};
  DeviceBuffer<float> da(a), db(b);
  BinaryParams p;
  p.a = da.data();
  p.b = db.data();
  p.y = da.data();
  p.shape = Shape{5};
  p.a_strides = p.b_strides = p.y_strides = contiguous_strides(p.shape);
  p.op = BinaryOp::max;
  elementwise_binary(p);
  const std::vector<float> y = da.to_host();
  CHECK(y[0] == 2.0f);
  CHECK(std::isnan(y[1]));
  CHECK(std::isnan(y[2]));
  CHECK(y[3] == 3.0f);
  CHECK(y[4] == 0.5f);
}

TEST_CASE("elementwise launchers validate their parameters") {
  UnaryParams p;
  p.shape.ndim = 7;
  CHECK_THROWS_WITH_AS(elementwise_unary(p), "elementwise_unary: ndim must be in 0..6 (got 7)",
                       std::invalid_argument);
  p.shape = Shape{3, -1};
  CHECK_THROWS_WITH_AS(elementwise_unary(p),
                       "elementwise_unary: shape.sizes[1] must be >= 0 (got -1)",
                       std::invalid_argument);
  p.shape = Shape{3};
  CHECK_THROWS_WITH_AS(elementwise_unary(p), "elementwise_unary: x is null", std::invalid_argument);
  BinaryParams q;
  q.shape = Shape{2};
  q.act = static_cast<UnaryOp>(42);
  CHECK_THROWS_WITH_AS(elementwise_binary(q), "elementwise_binary: unknown activation 42",
                       std::invalid_argument);
}
