// Internal helpers shared by the op families (see op_helpers.h).
#include "engine/ops/op_helpers.h"

#include <stdexcept>

namespace melgrad::detail {

void check_floating(const OpInfo& op, const Tensor& x) {
  if (!is_floating(x.dtype()))
    throw std::invalid_argument(op.name + ": expected a floating-point tensor, got " + x.str());
}

void check_same_dtype(const OpInfo& op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(op.name + ": dtype mismatch, " + a.str() + " and " + b.str());
}

void check_index(const OpInfo& op, const Tensor& index) {
  if (index.dtype() != DType::i64)
    throw std::invalid_argument(op.name + ": index must be int64, got " + index.str());
}

Tensor scalar_like(const Tensor& x, double value) {
  return Tensor::scalar(value, x.dtype(), x.device());
}

Tensor gc_input(const Shape& shape, Generator& gen, double lo, double hi) {
  Tensor t = Tensor::uniform(shape, lo, hi, gen, DType::f64);
  t.requires_grad_();
  return t;
}

Tensor gc_input_away_from_zero(const Shape& shape, Generator& gen, double lo, double hi) {
  Tensor t = Tensor::uniform(shape, lo, hi, gen, DType::f64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (gen.uniform() < 0.5) p[i] = -p[i];
  t.requires_grad_();
  return t;
}

}  // namespace melgrad::detail
