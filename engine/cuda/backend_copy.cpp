// CudaBackend: fill, copies (device to device through the strided-copy kernels; host to
// device and back through one contiguous staging buffer on each side), and random fills.
#include <stdexcept>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/transpose.h"

namespace melgrad::cuda {

Tensor contiguous_on_device(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).copy(x, out);
  return out;
}

Tensor move_dim_last(const Tensor& x, int64_t dim) {
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  shape.push_back(x.size(dim));
  strides.push_back(x.strides()[dim]);
  return x.as_strided(shape, strides, x.offset());
}

void CudaBackend::fill(const Tensor& out, double value) {
  require_device(out.device());
  const auto l = kernel_layout<1>("fill", out.shape(), {&out.strides()});
  kernels::FillParams p;
  p.y = out.raw_data();
  p.type = elem_type(out.dtype());
  p.shape = l.shape;
  p.y_strides = l.strides[0];
  p.value = value;
  kernels::fill(p, stream());
}

namespace {

// Same dtype: kernels/transpose.h's copy (bit for bit; 2-D transposes go through shared-
// memory tiles). Different dtypes: kernels/tensor_ops.h's converting copy.
void device_copy(const Tensor& src, const Tensor& dst) {
  const auto l = kernel_layout<2>("copy", dst.shape(), {&src.strides(), &dst.strides()});
  if (src.dtype() == dst.dtype()) {
    kernels::StridedCopyParams p;
    p.x = src.raw_data();
    p.y = dst.raw_data();
    p.element_size = static_cast<int>(dtype_size(src.dtype()));
    p.shape = l.shape;
    p.x_strides = l.strides[0];
    p.y_strides = l.strides[1];
    kernels::strided_copy(p, stream());
    return;
  }
  kernels::CopyParams p;
  p.x = src.raw_data();
  p.x_type = elem_type(src.dtype());
  p.y = dst.raw_data();
  p.y_type = elem_type(dst.dtype());
  p.shape = l.shape;
  p.x_strides = l.strides[0];
  p.y_strides = l.strides[1];
  kernels::strided_copy(p, stream());
}

std::size_t bytes_of(const Tensor& t) {
  return static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
}

}  // namespace

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  if (src.shape() != dst.shape())
    throw std::invalid_argument("copy: shape " + shape_str(src.shape()) + " into " +
                                shape_str(dst.shape()));
  if (src.device().is_cuda() && dst.device().is_cuda()) {
    require_device(src.device());
    require_device(dst.device());
    device_copy(src, dst);
    return;
  }
  if (src.device().is_cpu()) {  // host -> device: convert and pack on the host, upload once
    require_device(dst.device());
    Tensor host = src;
    if (!src.is_contiguous() || src.dtype() != dst.dtype()) {
      host = Tensor::empty(src.shape(), dst.dtype());
      backend_for(Device::cpu()).copy(src, host);
    }
    const Tensor staged =
        dst.is_contiguous() ? dst : Tensor::empty(dst.shape(), dst.dtype(), dst.device());
    copy_host_to_device(staged.raw_data(), host.raw_data(), bytes_of(host));
    if (!staged.same(dst)) device_copy(staged, dst);
    return;
  }
  // device -> host: pack on the device, download once, convert and place on the host.
  require_device(src.device());
  const Tensor packed = contiguous_on_device(src);
  if (dst.is_contiguous() && dst.dtype() == src.dtype()) {
    copy_device_to_host(dst.raw_data(), packed.raw_data(), bytes_of(packed));
    return;
  }
  Tensor host = Tensor::empty(src.shape(), src.dtype());
  copy_device_to_host(host.raw_data(), packed.raw_data(), bytes_of(packed));
  backend_for(Device::cpu()).copy(host, dst);
}

// Drawn on the host from the same generator in the same order as the CPU backend, then
// uploaded: a model initialised on cuda gets the CPU's weights bit for bit.
void CudaBackend::random(const Tensor& out, Generator& gen, bool normal, double a, double b) {
  require_device(out.device());
  Tensor host = Tensor::empty(out.shape(), out.dtype());
  backend_for(Device::cpu()).random(host, gen, normal, a, b);
  copy(host, out);
}

}  // namespace melgrad::cuda
