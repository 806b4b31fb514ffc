// Tensor: a strided view (shape, strides, offset) of a shared Storage, with a dtype and a
// device, plus autograd metadata (requires_grad, grad, grad_fn) when it takes part in
// differentiation. Copying a Tensor copies a handle: both name the same tensor.
//
// Math lives in engine/ops/*.cpp as free functions (add, matmul, conv2d, ...); the member
// functions here are the tensor's own business (shape, memory, views, autograd entry
// points) and a few conveniences that forward to the ops.
#pragma once

#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/generator.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace melgrad {

struct Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;

  // Autograd. A leaf has requires_grad and no grad_fn; an op output has a grad_fn and the
  // index of the node output it is (output_nr).
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories -------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = {});
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = {});
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = {});
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = {});
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = {});
  static Tensor arange(int64_t n, DType dtype = DType::f32, Device device = {});
  // Copies `values` (row-major) into a new CPU tensor of the given shape.
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape);
  static Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen,
                        DType dtype = DType::f32, Device device = {});
  static Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen,
                       DType dtype = DType::f32, Device device = {});
  static Tensor empty_like(const Tensor& t);
  static Tensor zeros_like(const Tensor& t);

  // ---- metadata --------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return numel_of(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const;
  std::string str() const;  // short description: "float32[2, 3] cpu"

  // ---- raw memory (CPU, or device memory for kernels) --------------------------------
  void* raw_data() const;
  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(raw_data());
  }
  // The value of a one-element tensor, converted to double (copies from the device).
  double item() const;
  // All values (row-major, any strides) as doubles; for tests and printing.
  std::vector<double> to_vector() const;

  // ---- views and copies (differentiable; see ops/shape_ops.cpp) -------------------------
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;  // like reshape, but never copies
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;

  // ---- autograd --------------------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool on = true);  // leaves only
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl().grad); }
  void zero_grad();  // drops the accumulated gradient
  void set_grad(const Tensor& g);
  // Backpropagates from this tensor. Without `gradient` the tensor must hold one element.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same storage, no history
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }

  // ---- in place, outside autograd (optimisers, initialisers) ------------------------
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);  // same shape; converts dtype; any device pair

  // A new handle to an arbitrary strided view of the same storage (no autograd).
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  void check_dtype(DType want) const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// A stride-0 view of x at `shape` (x's shape must broadcast to it, NumPy rules; x itself
// when the shapes are equal); no autograd. Ops and backends use it to expand operands.
Tensor broadcast_view(const Tensor& x, const Shape& shape);

// True when shapes match and |a - b| <= atol + rtol * |b| everywhere (NaN never equal).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
double max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace melgrad
