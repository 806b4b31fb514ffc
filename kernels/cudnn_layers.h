// The cuDNN paths of the CNN layer launchers (conv.h, pool.h, batchnorm.h), internal to
// kernels/. Built into both libraries; in the emulator build (or an nvcc build without
// cuDNN) every function throws std::runtime_error saying so. Parameters arrive validated.
// Every cuDNN call is checked: a failure throws std::runtime_error naming the call, the
// status and the file and line. One cuDNN handle per host thread, with its workspace and
// the convolution algorithms found per shape (cudnnFind*), created on first use.
#pragma once

#include <cstddef>

#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/pool.h"

namespace melgrad::kernels::detail {

void cudnn_conv2d_forward(const Conv2dForwardParams& p, Stream stream);
void cudnn_conv2d_backward_data(const Conv2dBackwardDataParams& p, Stream stream);
void cudnn_conv2d_backward_filter(const Conv2dBackwardFilterParams& p, Stream stream);

void cudnn_max_pool2d_forward(const Pool2dForwardParams& p, Stream stream);
void cudnn_max_pool2d_backward(const Pool2dBackwardParams& p, Stream stream);

void cudnn_batch_norm_forward(const BatchNormForwardParams& p, Stream stream);
void cudnn_batch_norm_backward(const BatchNormBackwardParams& p, Stream stream);

}  // namespace melgrad::kernels::detail
