// From engine tensors (any rank, strides in elements, DType) to the kernels' parameters
// (kernels::Shape of at most kMaxDims dims, one kernels::Strides per operand, ElemType).
// kernel_layout coalesces first, as the CPU's for_each_run does: size-1 dims are dropped
// and neighbouring dims that are contiguous for every operand merge, so a contiguous
// tensor of any rank is one dim and only genuinely strided views keep several.
#pragma once

#include <array>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "engine/tensor.h"
#include "kernels/tensor_ops.h"

namespace melgrad::cuda {

inline kernels::ElemType elem_type(DType t) {
  switch (t) {
    case DType::f32:
      return kernels::ElemType::f32;
    case DType::f64:
      return kernels::ElemType::f64;
    case DType::i64:
      return kernels::ElemType::i64;
  }
  throw std::logic_error("elem_type: unknown dtype");
}

template <std::size_t K>
struct KernelLayout {
  kernels::Shape shape;
  std::array<kernels::Strides, K> strides;
};

template <std::size_t K>
KernelLayout<K> kernel_layout(const char* kernel, const Shape& shape,
                              const std::array<const Shape*, K>& strides) {
  KernelLayout<K> out;
  std::vector<int64_t> sizes;
  std::array<std::vector<int64_t>, K> st;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) {  // nothing to do: one empty dim
      out.shape.ndim = 1;
      out.shape.sizes[0] = 0;
      return out;
    }
    if (shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (std::size_t k = 0; k < K && merge; ++k)
      merge = st[k].back() == (*strides[k])[d] * shape[d];
    if (merge) {
      sizes.back() *= shape[d];
      for (std::size_t k = 0; k < K; ++k) st[k].back() = (*strides[k])[d];
    } else {
      sizes.push_back(shape[d]);
      for (std::size_t k = 0; k < K; ++k) st[k].push_back((*strides[k])[d]);
    }
  }
  if (sizes.size() > static_cast<std::size_t>(kernels::kMaxDims))
    throw std::invalid_argument(
        std::string("cuda backend: ") + kernel + ": shape " + shape_str(shape) + " has " +
        std::to_string(sizes.size()) + " dims that do not merge; the kernels take at most " +
        std::to_string(kernels::kMaxDims) + " (make the operands contiguous first)");
  out.shape.ndim = static_cast<int>(sizes.size());
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    out.shape.sizes[d] = sizes[d];
    for (std::size_t k = 0; k < K; ++k) out.strides[k].v[d] = st[k][d];
  }
  return out;
}

// The kernels compute in float32; float64 tensors may live on the device (copies, .to())
// but not be computed on.
inline void require_f32(const char* kernel, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    if (t->dtype() != DType::f32)
      throw std::invalid_argument(
          std::string("cuda backend: ") + kernel + ": got " + t->str() +
          "; CUDA kernels compute in float32 (convert with .to(DType::f32))");
}

}  // namespace melgrad::cuda
