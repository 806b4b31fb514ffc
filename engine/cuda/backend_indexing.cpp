// CudaBackend: index_select / index_add and gather / scatter_add on the kernels of
// kernels/indexing.h, and check_range (class targets, sequence lengths). Operands are
// packed contiguous ([outer, size(dim), inner]); outputs must be contiguous, as on the CPU.
// A bad index cannot throw from the kernel: it sets the device's error word, and the next
// synchronisation (any copy to the host) throws.
#include <stdexcept>
#include <string>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/indexing.h"

namespace melgrad::cuda {

namespace {

void check_operands(const char* kernel, const Tensor& values, const Tensor& index,
                    const Tensor& out) {
  require_f32(kernel, {&values, &out});
  if (index.dtype() != DType::i64)
    throw std::invalid_argument(std::string("cuda backend: ") + kernel +
                                ": index must be int64, got " + index.str());
  if (!out.is_contiguous())
    throw std::logic_error(std::string("cuda backend: ") + kernel + ": output must be contiguous");
}

const int64_t* indices(const Tensor& t) { return static_cast<const int64_t*>(t.raw_data()); }
const float* cf32(const Tensor& t) { return static_cast<const float*>(t.raw_data()); }
float* f32(const Tensor& t) { return static_cast<float*>(t.raw_data()); }

}  // namespace

void CudaBackend::index_select(const Tensor& x, int64_t dim, const Tensor& index,
                               const Tensor& out) {
  check_operands("index_select", x, index, out);
  const Tensor xc = contiguous_on_device(x), ic = contiguous_on_device(index);
  const DimSplit sp = split_at(x.shape(), dim);
  kernels::index_select(
      {cf32(xc), indices(ic), f32(out), sp.outer, x.size(dim), ic.numel(), sp.inner, error_word()},
      stream());
}

void CudaBackend::index_add(const Tensor& out, int64_t dim, const Tensor& index,
                            const Tensor& src) {
  check_operands("index_add", src, index, out);
  const Tensor sc = contiguous_on_device(src), ic = contiguous_on_device(index);
  const DimSplit sp = split_at(out.shape(), dim);
  kernels::index_add({f32(out), indices(ic), cf32(sc), sp.outer, out.size(dim), ic.numel(),
                      sp.inner, error_word()},
                     stream());
}

void CudaBackend::gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  check_operands("gather", x, index, out);
  const Tensor xc = contiguous_on_device(x), ic = contiguous_on_device(index);
  const DimSplit sp = split_at(index.shape(), dim);
  kernels::gather({cf32(xc), indices(ic), f32(out), sp.outer, x.size(dim), index.size(dim),
                   sp.inner, error_word()},
                  stream());
}

void CudaBackend::scatter_add(const Tensor& out, int64_t dim, const Tensor& index,
                              const Tensor& src) {
  check_operands("scatter_add", src, index, out);
  const Tensor sc = contiguous_on_device(src), ic = contiguous_on_device(index);
  const DimSplit sp = split_at(index.shape(), dim);
  kernels::scatter_add({f32(out), indices(ic), cf32(sc), sp.outer, out.size(dim), index.size(dim),
                        sp.inner, error_word()},
                       stream());
}

bool CudaBackend::check_range(const Tensor& values, int64_t lo, int64_t hi, RangeCheck kind) {
  if (values.dtype() != DType::i64)
    throw std::invalid_argument("cuda backend: check_range: expected int64 values, got " +
                                values.str());
  const Tensor v = contiguous_on_device(values);
  kernels::CheckRangeParams p;
  p.values = indices(v);
  p.n = v.numel();
  p.lo = lo;
  p.hi = hi;
  p.error = error_word();
  p.code = kind == RangeCheck::class_target ? kernels::IndexError::cross_entropy_target
                                            : kernels::IndexError::lstm_length;
  kernels::check_range(p, stream());
  return true;
}

}  // namespace melgrad::cuda
