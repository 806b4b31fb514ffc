// The CNN layers as modules, named and initialised as PyTorch's:
//   Conv2d       x [N, C_in, H, W] -> [N, C_out, Ho, Wo]; params "weight" [C_out, C_in, k, k],
//                "bias" [C_out]; kaiming_uniform_(a = sqrt(5)), bias uniform(+-1/sqrt(fan_in));
//                followed by ReLU in a Sequential, both run as one conv2d_relu
//   BatchNorm2d  x [N, C, H, W] -> same; params "weight" (ones), "bias" (zeros) when affine;
//                buffers "running_mean" (zeros), "running_var" (ones), "num_batches_tracked"
//                (int64 scalar, +1 per training forward) when track_running_stats
//   MaxPool2d    x [N, C, H, W] -> [N, C, Ho, Wo] (PyTorch's output size, floor or ceil mode)
// BatchNormTrainingGuard: data-parallel SyncBatchNorm (engine/dist/sync_batch_norm.h) takes
// over BatchNorm2d's training forward while installed on the calling thread.
#pragma once

#include <functional>

#include "engine/nn/module.h"
#include "engine/ops/cnn.h"

namespace melgrad::nn {

class Conv2d : public Layer {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen,
         int64_t stride = 1, int64_t padding = 0, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor forward_relu(const Tensor& x) override;  // conv2d_relu
  Tensor weight, bias;
  Conv2dOptions options;
};

class BatchNorm2d : public Layer {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1,
                       bool affine = true, bool track_running_stats = true);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
  Tensor running_mean, running_var, num_batches_tracked;
  double eps, momentum;
};

// While alive, every BatchNorm2d::forward in training mode on this thread calls `forward`
// instead (after counting the batch); restores the previous one.
using BatchNormTrainingForward = std::function<Tensor(BatchNorm2d& bn, const Tensor& x)>;
class BatchNormTrainingGuard {
 public:
  explicit BatchNormTrainingGuard(BatchNormTrainingForward forward);
  ~BatchNormTrainingGuard();
  BatchNormTrainingGuard(const BatchNormTrainingGuard&) = delete;
  BatchNormTrainingGuard& operator=(const BatchNormTrainingGuard&) = delete;

 private:
  BatchNormTrainingForward previous_;
};

class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(int64_t kernel_size, int64_t stride = 0, int64_t padding = 0,
                     bool ceil_mode = false);
  Tensor forward(const Tensor& x) override;
  Pool2dOptions options;
};

}  // namespace melgrad::nn
