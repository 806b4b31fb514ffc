// Conv2d, BatchNorm2d and MaxPool2d modules (see cnn_layers.h).
#include "engine/nn/cnn_layers.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/autograd.h"
#include "engine/nn/layers.h"
#include "engine/ops/ops.h"

namespace melgrad::nn {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen,
               int64_t stride, int64_t padding, bool with_bias) {
  if (in_channels <= 0 || out_channels <= 0 || kernel_size <= 0 || stride <= 0 || padding < 0)
    throw std::invalid_argument(
        "Conv2d: channels " + std::to_string(in_channels) + " -> " + std::to_string(out_channels) +
        ", kernel " + std::to_string(kernel_size) + " and stride " + std::to_string(stride) +
        " must be positive, padding " + std::to_string(padding) + " >= 0");
  options.stride = {stride, stride};
  options.padding = {padding, padding};
  weight = Tensor::empty({out_channels, in_channels, kernel_size, kernel_size});
  kaiming_uniform_(weight, std::sqrt(5.0), gen);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = Tensor::empty({out_channels});
    const double bound = 1.0 / std::sqrt(double(fan_in(weight)));
    uniform_(bias, -bound, bound, gen);
    register_parameter("bias", &bias);
  }
}

Tensor Conv2d::forward_relu(const Tensor& x) { return conv2d_relu(x, weight, bias, options); }
Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, options); }

BatchNorm2d::BatchNorm2d(int64_t num_features, double eps_, double momentum_, bool affine,
                         bool track_running_stats)
    : eps(eps_), momentum(momentum_) {
  if (num_features <= 0)
    throw std::invalid_argument("BatchNorm2d: num_features must be positive, got " +
                                std::to_string(num_features));
  if (affine) {
    weight = Tensor::ones({num_features});
    bias = Tensor::zeros({num_features});
    register_parameter("weight", &weight);
    register_parameter("bias", &bias);
  }
  if (track_running_stats) {
    running_mean = Tensor::zeros({num_features});
    running_var = Tensor::ones({num_features});
    num_batches_tracked = Tensor::scalar(0, DType::i64);
    register_buffer("running_mean", &running_mean);
    register_buffer("running_var", &running_var);
    register_buffer("num_batches_tracked", &num_batches_tracked);
  }
}

static thread_local BatchNormTrainingForward t_batch_norm_training;
BatchNormTrainingGuard::BatchNormTrainingGuard(BatchNormTrainingForward forward)
    : previous_(std::move(t_batch_norm_training)) {
  t_batch_norm_training = std::move(forward);
}
BatchNormTrainingGuard::~BatchNormTrainingGuard() { t_batch_norm_training = std::move(previous_); }

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (x.dim() != 4)
    throw std::invalid_argument("BatchNorm2d: expected input [N, C, H, W], got " + x.str());
  const bool tracking = running_mean.defined();
  if (tracking && is_training()) {
    // Counted on the tensor's device, not read back (exact below 2^24 batches).
    NoGradGuard no_grad;
    num_batches_tracked.copy_(
        to_dtype(to_dtype(num_batches_tracked, DType::f32) + 1.0, DType::i64));
  }
  if (is_training() && t_batch_norm_training) return t_batch_norm_training(*this, x);
  return batch_norm(x, weight, bias, tracking ? &running_mean : nullptr,
                    tracking ? &running_var : nullptr, is_training(), momentum, eps);
}

MaxPool2d::MaxPool2d(int64_t kernel_size, int64_t stride, int64_t padding, bool ceil_mode) {
  options.kernel = {kernel_size, kernel_size};
  options.stride = {stride, stride};
  options.padding = {padding, padding};
  options.ceil_mode = ceil_mode;
}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, options); }

}  // namespace melgrad::nn
