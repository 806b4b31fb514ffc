// Elementwise ops: forward through the backend's unary/binary kernels, backward beside
// each forward. Binary ops broadcast (NumPy rules); their backward sums the gradient
// back to each operand's shape (sum_to).
#include <stdexcept>

#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

namespace {

Tensor unary_forward(const OpInfo& op, UnaryOp kind, const Tensor& x, double a = 0, double b = 0) {
  check_device(op, {x});
  check_floating(op, x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).unary(kind, x, y, a, b);
  return y;
}

Tensor binary_forward(const OpInfo& op, BinaryOp kind, const Tensor& a, const Tensor& b) {
  check_device(op, {a, b});
  check_floating(op, a);
  check_same_dtype(op, a, b);
  Shape s = broadcast_shapes(a.shape(), b.shape(), op.name.c_str());
  Tensor out = Tensor::empty(s, a.dtype(), a.device());
  backend_for(a.device()).binary(kind, broadcast_view(a, s), broadcast_view(b, s), out);
  return out;
}

std::function<GradCases(Generator&)> make_unary_cases(Tensor (*f)(const Tensor&), double lo,
                                                      double hi, bool away_from_zero = false) {
  return [=](Generator& g) {
    auto draw = [&](const Shape& s) {
      return away_from_zero ? gc_input_away_from_zero(s, g, lo, hi) : gc_input(s, g, lo, hi);
    };
    auto apply = [f](const TensorList& in) { return f(in[0]); };
    return GradCases{{"vector", {draw({7})}, apply},
                     {"matrix", {draw({3, 4})}, apply},
                     {"strided view", {draw({4, 3})}, [f](const TensorList& in) {
                        return f(transpose(in[0], 0, 1));
                      }}};
  };
}

std::function<GradCases(Generator&)> make_binary_cases(Tensor (*f)(const Tensor&, const Tensor&),
                                                       double lo, double hi) {
  return [=](Generator& g) {
    auto apply = [f](const TensorList& in) { return f(in[0], in[1]); };
    return GradCases{
        {"same shape", {gc_input({3, 4}, g, lo, hi), gc_input({3, 4}, g, lo, hi)}, apply},
        {"broadcast row", {gc_input({3, 4}, g, lo, hi), gc_input({4}, g, lo, hi)}, apply},
        {"broadcast both", {gc_input({3, 1}, g, lo, hi), gc_input({1, 4}, g, lo, hi)}, apply},
        {"scalar", {gc_input({2, 3}, g, lo, hi), gc_input({}, g, lo, hi)}, apply}};
  };
}

}  // namespace

// ---- binary arithmetic ---------------------------------------------------------------

static const OpInfo& kAdd = register_op(
    {.name = "add", .family = "elementwise", .gradcheck = make_binary_cases(add, -1, 1)});
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(kAdd, BinaryOp::add, a, b);
  return record(kAdd, {a, b}, out, [sa = a.shape(), sb = b.shape()](const TensorList& g) {
    return TensorList{sum_to(g[0], sa), sum_to(g[0], sb)};
  });
}

static const OpInfo& kSub = register_op(
    {.name = "sub", .family = "elementwise", .gradcheck = make_binary_cases(sub, -1, 1)});
Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(kSub, BinaryOp::sub, a, b);
  return record(kSub, {a, b}, out, [sa = a.shape(), sb = b.shape()](const TensorList& g) {
    return TensorList{sum_to(g[0], sa), sum_to(neg(g[0]), sb)};
  });
}

static const OpInfo& kMul = register_op(
    {.name = "mul", .family = "elementwise", .gradcheck = make_binary_cases(mul, -1, 1)});
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(kMul, BinaryOp::mul, a, b);
  return record(kMul, {a, b}, out,
                [a = a.detach(), b = b.detach(), need_a = a.requires_grad(),
                 need_b = b.requires_grad()](const TensorList& g) {
                  return TensorList{need_a ? sum_to(g[0] * b, a.shape()) : Tensor(),
                                    need_b ? sum_to(g[0] * a, b.shape()) : Tensor()};
                });
}

static const OpInfo& kDiv = register_op(
    {.name = "div", .family = "elementwise", .gradcheck = make_binary_cases(div, 0.5, 2)});
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(kDiv, BinaryOp::div, a, b);
  return record(kDiv, {a, b}, out,
                [a = a.detach(), b = b.detach(), out = out.detach()](const TensorList& g) {
                  Tensor ga = g[0] / b;
                  return TensorList{sum_to(ga, a.shape()), sum_to(neg(ga * out), b.shape())};
                });
}

static const OpInfo& kPow = register_op(
    {.name = "pow", .family = "elementwise", .gradcheck = make_binary_cases(pow, 0.5, 2)});
Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(kPow, BinaryOp::pow, a, b);
  return record(kPow, {a, b}, out,
                [a = a.detach(), b = b.detach(), out = out.detach()](const TensorList& g) {
                  Tensor ga = g[0] * b * pow(a, b - 1.0);
                  Tensor gb = g[0] * out * log(a);
                  return TensorList{sum_to(ga, a.shape()), sum_to(gb, b.shape())};
                });
}

// ---- unary ---------------------------------------------------------------------------

static const OpInfo& kPowScalar = register_op(
    {.name = "pow_scalar", .family = "elementwise", .gradcheck = [](Generator& g) {
       return GradCases{
           {"square", {gc_input({3, 4}, g)}, [](const TensorList& in) { return pow(in[0], 2.0); }},
           {"x^-1.5", {gc_input({5}, g, 0.5, 2)}, [](const TensorList& in) {
              return pow(in[0], -1.5);
            }}};
     }});
Tensor pow(const Tensor& x, double p) {
  Tensor y = unary_forward(kPowScalar, UnaryOp::pow_scalar, x, p);
  return record(kPowScalar, {x}, y, [x = x.detach(), p](const TensorList& g) {
    return TensorList{g[0] * (p * pow(x, p - 1.0))};
  });
}

static const OpInfo& kNeg = register_op(
    {.name = "neg", .family = "elementwise", .gradcheck = make_unary_cases(neg, -1, 1)});
Tensor neg(const Tensor& x) {
  Tensor y = unary_forward(kNeg, UnaryOp::neg, x);
  return record(kNeg, {x}, y, [](const TensorList& g) { return TensorList{neg(g[0])}; });
}

static const OpInfo& kExp = register_op(
    {.name = "exp", .family = "elementwise", .gradcheck = make_unary_cases(exp, -2, 2)});
Tensor exp(const Tensor& x) {
  Tensor y = unary_forward(kExp, UnaryOp::exp, x);
  return record(kExp, {x}, y,
                [y = y.detach()](const TensorList& g) { return TensorList{g[0] * y}; });
}

static const OpInfo& kLog = register_op(
    {.name = "log", .family = "elementwise", .gradcheck = make_unary_cases(log, 0.3, 3)});
Tensor log(const Tensor& x) {
  Tensor y = unary_forward(kLog, UnaryOp::log, x);
  return record(kLog, {x}, y,
                [x = x.detach()](const TensorList& g) { return TensorList{g[0] / x}; });
}

static const OpInfo& kSqrt = register_op(
    {.name = "sqrt", .family = "elementwise", .gradcheck = make_unary_cases(sqrt, 0.3, 3)});
Tensor sqrt(const Tensor& x) {
  Tensor y = unary_forward(kSqrt, UnaryOp::sqrt, x);
  return record(kSqrt, {x}, y,
                [y = y.detach()](const TensorList& g) { return TensorList{g[0] / (y * 2.0)}; });
}

static const OpInfo& kAbs = register_op(
    {.name = "abs", .family = "elementwise", .gradcheck = make_unary_cases(abs, 0.2, 1, true)});
Tensor abs(const Tensor& x) {
  Tensor y = unary_forward(kAbs, UnaryOp::abs, x);
  return record(kAbs, {x}, y, [x = x.detach()](const TensorList& g) {
    return TensorList{g[0] * unary_forward(kAbs, UnaryOp::sign, x)};
  });
}

static const OpInfo& kRelu = register_op(
    {.name = "relu", .family = "elementwise", .gradcheck = make_unary_cases(relu, 0.2, 1, true)});
Tensor relu(const Tensor& x) {
  Tensor y = unary_forward(kRelu, UnaryOp::relu, x);
  return record(kRelu, {x}, y, [y = y.detach()](const TensorList& g) {
    return TensorList{g[0] * unary_forward(kRelu, UnaryOp::step, y, 0.0)};
  });
}

static const OpInfo& kSigmoid = register_op(
    {.name = "sigmoid", .family = "elementwise", .gradcheck = make_unary_cases(sigmoid, -3, 3)});
Tensor sigmoid(const Tensor& x) {
  Tensor y = unary_forward(kSigmoid, UnaryOp::sigmoid, x);
  return record(kSigmoid, {x}, y,
                [y = y.detach()](const TensorList& g) { return TensorList{g[0] * y * (1.0 - y)}; });
}

static const OpInfo& kTanh = register_op(
    {.name = "tanh", .family = "elementwise", .gradcheck = make_unary_cases(tanh, -2, 2)});
Tensor tanh(const Tensor& x) {
  Tensor y = unary_forward(kTanh, UnaryOp::tanh, x);
  return record(kTanh, {x}, y,
                [y = y.detach()](const TensorList& g) { return TensorList{g[0] * (1.0 - y * y)}; });
}

static const OpInfo& kGelu = register_op(
    {.name = "gelu", .family = "elementwise", .gradcheck = make_unary_cases(gelu, -3, 3)});
Tensor gelu(const Tensor& x) {
  Tensor y = unary_forward(kGelu, UnaryOp::gelu, x);
  return record(kGelu, {x}, y, [x = x.detach()](const TensorList& g) {
    return TensorList{g[0] * unary_forward(kGelu, UnaryOp::gelu_grad, x)};
  });
}

static const OpInfo& kSilu = register_op(
    {.name = "silu", .family = "elementwise", .gradcheck = make_unary_cases(silu, -4, 4)});
Tensor silu(const Tensor& x) {
  Tensor y = unary_forward(kSilu, UnaryOp::silu, x);
  return record(kSilu, {x}, y, [x = x.detach()](const TensorList& g) {
    return TensorList{g[0] * unary_forward(kSilu, UnaryOp::silu_grad, x)};
  });
}

static const OpInfo& kAffine =
    register_op({.name = "affine", .family = "elementwise", .gradcheck = [](Generator& g) {
                   return GradCases{{"3x-0.5", {gc_input({3, 4}, g)}, [](const TensorList& in) {
                                       return affine(in[0], 3.0, -0.5);
                                     }}};
                 }});
Tensor affine(const Tensor& x, double scale, double shift) {
  Tensor y = unary_forward(kAffine, UnaryOp::affine, x, scale, shift);
  return record(kAffine, {x}, y,
                [scale](const TensorList& g) { return TensorList{affine(g[0], scale, 0.0)}; });
}

static const OpInfo& kClamp =
    register_op({.name = "clamp", .family = "elementwise", .gradcheck = [](Generator& g) {
                   // Values avoid the bounds ±0.5 by at least 0.05 (the gradient jumps there).
                   Tensor x = gc_input_away_from_zero({4, 5}, g, 0.05, 0.45);
                   double* p = x.data<double>();
                   for (int64_t i = 0; i < x.numel(); i += 2) p[i] += p[i] > 0 ? 0.5 : -0.5;
                   return GradCases{{"[-0.5, 0.5]", {x}, [](const TensorList& in) {
                                       return clamp(in[0], -0.5, 0.5);
                                     }}};
                 }});
Tensor clamp(const Tensor& x, double lo, double hi) {
  if (!(lo <= hi))
    throw std::invalid_argument("clamp: lower bound " + std::to_string(lo) +
                                " is above the upper bound " + std::to_string(hi));
  Tensor y = unary_forward(kClamp, UnaryOp::clamp, x, lo, hi);
  return record(kClamp, {x}, y, [x = x.detach(), lo, hi](const TensorList& g) {
    Tensor inside = ge(x, scalar_like(x, lo)) * le(x, scalar_like(x, hi));
    return TensorList{g[0] * inside};
  });
}

// ---- selection -----------------------------------------------------------------------

static const OpInfo& kWhere = register_op(
    {.name = "where", .family = "elementwise", .gradcheck = [](Generator& g) {
       Tensor cond = Tensor::uniform({3, 4}, 0, 1, g, DType::f64);
       cond = gt(cond, Tensor::scalar(0.5, DType::f64));
       return GradCases{{"same shape",
                         {cond, gc_input({3, 4}, g), gc_input({3, 4}, g)},
                         [](const TensorList& in) { return where(in[0], in[1], in[2]); }},
                        {"broadcast",
                         {cond, gc_input({4}, g), gc_input({3, 1}, g)},
                         [](const TensorList& in) { return where(in[0], in[1], in[2]); }}};
     }});
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_device(kWhere, {cond, a, b});
  check_floating(kWhere, a);
  check_same_dtype(kWhere, a, b);
  Shape s =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(s, a.dtype(), a.device());
  backend_for(a.device())
      .where(broadcast_view(cond, s), broadcast_view(a, s), broadcast_view(b, s), out);
  return record(kWhere, {cond, a, b}, out,
                [cond = cond.detach(), sa = a.shape(), sb = b.shape()](const TensorList& g) {
                  Tensor zero = scalar_like(g[0], 0.0);
                  return TensorList{Tensor(), sum_to(where(cond, g[0], zero), sa),
                                    sum_to(where(cond, zero, g[0]), sb)};
                });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  return where(mask, scalar_like(x, value), x);
}

// ---- comparisons (no gradient) -------------------------------------------------------

#define MELGRAD_COMPARISON(fn)                                                          \
  static const OpInfo& k_##fn = register_op(                                            \
      {.name = #fn, .family = "comparison", .gradcheck = {}, .differentiable = false}); \
  Tensor fn(const Tensor& a, const Tensor& b) { return binary_forward(k_##fn, BinaryOp::fn, a, b); }
MELGRAD_COMPARISON(eq)
MELGRAD_COMPARISON(gt)
MELGRAD_COMPARISON(ge)
MELGRAD_COMPARISON(lt)
MELGRAD_COMPARISON(le)
#undef MELGRAD_COMPARISON

// ---- operators -----------------------------------------------------------------------

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return affine(a, 1.0, b); }
Tensor operator-(const Tensor& a, double b) { return affine(a, 1.0, -b); }
Tensor operator*(const Tensor& a, double b) { return affine(a, b, 0.0); }
Tensor operator/(const Tensor& a, double b) { return affine(a, 1.0 / b, 0.0); }
Tensor operator+(double a, const Tensor& b) { return affine(b, 1.0, a); }
Tensor operator-(double a, const Tensor& b) { return affine(b, -1.0, a); }
Tensor operator*(double a, const Tensor& b) { return affine(b, a, 0.0); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }

}  // namespace melgrad
