// The cuDNN paths of the CNN layers (kernels/cudnn_layers.h). Emulator build (or no cuDNN):
// every entry throws. nvcc build with MELGRAD_HAVE_CUDNN: kernels/cudnn_layers_impl.cuh.
// clang-format off: the CUDA / emulator shim comes first
#include "kernels/emu/cuda_compat.h"
// clang-format on
#include <stdexcept>
#include <string>

#include "kernels/cudnn_layers.h"

#if !MG_EMULATED && defined(MELGRAD_HAVE_CUDNN)
#include "kernels/cudnn_layers_impl.cuh"
#else

namespace melgrad::kernels::detail {
namespace {
[[noreturn]] void no_cudnn(const char* launcher) {
  throw std::runtime_error(std::string(launcher) +
                           ": the cuDNN implementation is not in this build (" +
                           (MG_EMULATED ? "the emulator build" : "cuDNN was not found") + ")");
}
}  // namespace

void cudnn_conv2d_forward(const Conv2dForwardParams&, Stream) { no_cudnn("conv2d_forward"); }
void cudnn_conv2d_backward_data(const Conv2dBackwardDataParams&, Stream) {
  no_cudnn("conv2d_backward_data");
}
void cudnn_conv2d_backward_filter(const Conv2dBackwardFilterParams&, Stream) {
  no_cudnn("conv2d_backward_filter");
}
void cudnn_max_pool2d_forward(const Pool2dForwardParams&, Stream) {
  no_cudnn("max_pool2d_forward");
}
void cudnn_max_pool2d_backward(const Pool2dBackwardParams&, Stream) {
  no_cudnn("max_pool2d_backward");
}
void cudnn_batch_norm_forward(const BatchNormForwardParams&, Stream) {
  no_cudnn("batch_norm_forward");
}
void cudnn_batch_norm_backward(const BatchNormBackwardParams&, Stream) {
  no_cudnn("batch_norm_backward");
}

}  // namespace melgrad::kernels::detail
#endif
