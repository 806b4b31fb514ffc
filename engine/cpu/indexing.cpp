// CPU indexing kernels: index_select / index_add along one dim, gather / scatter_add.
// Tensors are viewed as [outer, size(dim), inner] (contiguous copies where needed).
#include <stdexcept>
#include <string>

#include "engine/cpu/cpu_backend.h"

namespace melgrad::cpu {

namespace {

int64_t checked(int64_t i, int64_t size, const char* op) {
  if (i < 0 || i >= size)
    throw std::out_of_range(std::string(op) + ": index " + std::to_string(i) +
                            " out of range for a dim of size " + std::to_string(size));
  return i;
}

}  // namespace

void CpuBackend::index_select(const Tensor& x, int64_t dim, const Tensor& index,
                              const Tensor& out) {
  Tensor xc = contiguous_copy(x), ic = contiguous_copy(index);
  const DimSplit sp = split_at(xc.shape(), dim);
  const int64_t D = xc.size(dim), L = ic.numel();
  const int64_t* idx = ic.data<int64_t>();
  dispatch_floating(x.dtype(), "index_select", [&]<class T>() {
    const T* px = xc.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < sp.outer; ++o)
      for (int64_t l = 0; l < L; ++l) {
        const T* src = px + (o * D + checked(idx[l], D, "index_select")) * sp.inner;
        std::copy(src, src + sp.inner, po + (o * L + l) * sp.inner);
      }
  });
}

void CpuBackend::index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  if (!out.is_contiguous()) throw std::logic_error("index_add: output must be contiguous");
  Tensor sc = contiguous_copy(src), ic = contiguous_copy(index);
  const DimSplit sp = split_at(out.shape(), dim);
  const int64_t D = out.size(dim), L = ic.numel();
  const int64_t* idx = ic.data<int64_t>();
  dispatch_floating(out.dtype(), "index_add", [&]<class T>() {
    const T* ps = sc.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < sp.outer; ++o)
      for (int64_t l = 0; l < L; ++l) {
        T* dst = po + (o * D + checked(idx[l], D, "index_add")) * sp.inner;
        const T* s = ps + (o * L + l) * sp.inner;
        for (int64_t i = 0; i < sp.inner; ++i) dst[i] += s[i];
      }
  });
}

void CpuBackend::gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  Tensor xc = contiguous_copy(x), ic = contiguous_copy(index);
  const DimSplit sp = split_at(ic.shape(), dim);
  const int64_t D = xc.size(dim), L = ic.size(dim);
  const int64_t* idx = ic.data<int64_t>();
  dispatch_floating(x.dtype(), "gather", [&]<class T>() {
    const T* px = xc.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < sp.outer; ++o)
      for (int64_t l = 0; l < L; ++l)
        for (int64_t i = 0; i < sp.inner; ++i) {
          int64_t k = (o * L + l) * sp.inner + i;
          po[k] = px[(o * D + checked(idx[k], D, "gather")) * sp.inner + i];
        }
  });
}

void CpuBackend::scatter_add(const Tensor& out, int64_t dim, const Tensor& index,
                             const Tensor& src) {
  if (!out.is_contiguous()) throw std::logic_error("scatter_add: output must be contiguous");
  Tensor sc = contiguous_copy(src), ic = contiguous_copy(index);
  const DimSplit sp = split_at(ic.shape(), dim);
  const int64_t D = out.size(dim), L = ic.size(dim);
  const int64_t* idx = ic.data<int64_t>();
  dispatch_floating(out.dtype(), "scatter_add", [&]<class T>() {
    const T* ps = sc.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < sp.outer; ++o)
      for (int64_t l = 0; l < L; ++l)
        for (int64_t i = 0; i < sp.inner; ++i) {
          int64_t k = (o * L + l) * sp.inner + i;
          po[(o * D + checked(idx[k], D, "scatter_add")) * sp.inner + i] += ps[k];
        }
  });
}

}  // namespace melgrad::cpu
