// Tensor: construction, metadata, raw access, printing, comparison, and the autograd
// entry points. Views and math are ops (engine/ops).
#include "engine/tensor.h"

#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/backend.h"

namespace melgrad {

TensorImpl& Tensor::impl() const {
  if (!impl_) throw std::logic_error("use of an undefined (empty) Tensor");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("empty: negative size in shape " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full({}, value, dtype, device);
}
Tensor Tensor::empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
Tensor Tensor::zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  Tensor t = empty({n}, dtype);
  dispatch_all(dtype, [&]<class T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  });
  return device.is_cpu() ? t : t.to(device);
}

template <class T>
static Tensor from_values(const std::vector<T>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != numel_of(shape))
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) +
                                " values do not fill shape " + shape_str(shape));
  Tensor t = Tensor::empty(shape, dtype_of<T>());
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}
Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& s) {
  return from_values(v, s);
}
Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& s) {
  return from_values(v, s);
}
Tensor Tensor::from_vector(const std::vector<int64_t>& v, const Shape& s) {
  return from_values(v, s);
}

Tensor Tensor::uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype,
                       Device device) {
  Tensor t = empty(shape, dtype, device);
  backend_for(device).random(t, gen, false, lo, hi);
  return t;
}

Tensor Tensor::normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype,
                      Device device) {
  Tensor t = empty(shape, dtype, device);
  backend_for(device).random(t, gen, true, mean, stddev);
  return t;
}

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape().size(); i-- > 0;) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " " + device().str();
}

void Tensor::check_dtype(DType want) const {
  if (dtype() != want)
    throw std::invalid_argument(std::string("tensor of dtype ") + dtype_name(dtype()) +
                                " accessed as " + dtype_name(want));
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + offset() * dtype_size(dtype());
}

std::vector<double> Tensor::to_vector() const {
  Tensor host = device().is_cpu() ? *this : to(Device::cpu());
  Tensor c = Tensor::empty(shape(), DType::f64);
  backend_for(Device::cpu()).copy(host, c);
  const double* p = c.data<double>();
  return std::vector<double>(p, p + c.numel());
}

double Tensor::item() const {
  if (numel() != 1)
    throw std::invalid_argument("item(): tensor of shape " + shape_str(shape()) + " has " +
                                std::to_string(numel()) + " elements, not 1");
  return to_vector()[0];
}

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  auto v = std::make_shared<TensorImpl>();
  v->storage = impl().storage;
  v->shape = shape;
  v->strides = strides;
  v->offset = offset;
  v->dtype = dtype();
  return Tensor(std::move(v));
}

Tensor broadcast_view(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const size_t n = shape.size(), k = x.shape().size();
  if (k > n)
    throw std::invalid_argument("expand: cannot expand " + shape_str(x.shape()) + " to " +
                                shape_str(shape));
  Shape strides(n, 0);
  for (size_t i = 0; i < k; ++i) {
    int64_t xd = x.shape()[i], sd = shape[n - k + i];
    if (xd == sd)
      strides[n - k + i] = x.strides()[i];
    else if (xd != 1)
      throw std::invalid_argument("expand: cannot expand " + shape_str(x.shape()) + " to " +
                                  shape_str(shape));
  }
  return x.as_strided(shape, strides, x.offset());
}

Tensor Tensor::detach() const { return as_strided(shape(), strides(), offset()); }

Tensor& Tensor::requires_grad_(bool on) {
  if (!is_leaf())
    throw std::logic_error("requires_grad_() on a non-leaf tensor " + str() +
                           " (detach() it first)");
  if (on && !is_floating(dtype()))
    throw std::invalid_argument("only floating-point tensors can require grad, not " + str());
  impl().requires_grad = on;
  return *this;
}

void Tensor::zero_grad() { impl().grad.reset(); }

void Tensor::set_grad(const Tensor& g) {
  if (g.defined() && g.shape() != shape())
    throw std::invalid_argument("set_grad: gradient " + g.str() + " for tensor " + str());
  impl().grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  run_backward(*this, gradient, retain_graph);
}

Tensor& Tensor::fill_(double value) {
  backend_for(device()).fill(*this, value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  if (src.shape() != shape())
    throw std::invalid_argument("copy_: source " + src.str() + " into " + str());
  if (src.device() == device()) {
    backend_for(device()).copy(src, *this);
  } else if (device().is_cpu()) {
    backend_for(src.device()).copy(src, *this);  // device backends copy across
  } else {
    backend_for(device()).copy(src, *this);
  }
  return *this;
}

// ---- printing ------------------------------------------------------------------------

static void print_values(std::ostream& os, const std::vector<double>& v, const Shape& shape,
                         size_t dim, int64_t& pos, int indent) {
  const int64_t edge = 3;
  if (dim == shape.size()) {
    os << v[pos++];
    return;
  }
  const int64_t n = shape[dim];
  int64_t block = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) block *= shape[d];
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * edge && i == edge) {
      os << "...";
      pos += (n - 2 * edge) * block;
      i = n - edge;
      os << (dim + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
    }
    print_values(os, v, shape, dim + 1, pos, indent + 1);
    if (i + 1 < n) os << (dim + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::vector<double> v = t.to_vector();
  std::ostringstream s;
  s << std::setprecision(t.dtype() == DType::f32 ? 6 : 10);
  int64_t pos = 0;
  s << "tensor(";
  print_values(s, v, t.shape(), 0, pos, 7);
  s << ", dtype=" << dtype_name(t.dtype());
  if (!t.device().is_cpu()) s << ", device=" << t.device().str();
  if (t.requires_grad()) s << ", requires_grad";
  s << ")";
  return os << s.str();
}

// ---- comparison ----------------------------------------------------------------------

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  std::vector<double> va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i)
    if (!(std::abs(va[i] - vb[i]) <= atol + rtol * std::abs(vb[i]))) return false;
  return true;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape())
    throw std::invalid_argument("max_abs_diff: shapes " + shape_str(a.shape()) + " and " +
                                shape_str(b.shape()));
  std::vector<double> va = a.to_vector(), vb = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    double d = std::abs(va[i] - vb[i]);
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

}  // namespace melgrad
