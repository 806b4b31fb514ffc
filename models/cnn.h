// The study's CNNs (REFERENCE §2), built from engine modules with PyTorch's names:
//
//   input x [N, T, F] (a batch, time-major) viewed as an image [N, 1, T, F], or with
//               frequency_major as [N, 1, F, T] (the study's notebook: x.transpose(1, 2))
//   features    per conv block i: Conv2d(c_i -> c_{i+1}, k 3, pad 1) [, BatchNorm2d], ReLU,
//               MaxPool2d(pool)      -> [N, c_last, T', F'] (T' = T halved/thirded per block);
//               relu_before_batch_norm: Conv2d, ReLU, BatchNorm2d, MaxPool2d (the notebook's
//               order); without BatchNorm, each Conv2d and its ReLU run as one conv2d_relu (the
//               Sequential fuses them; names and values are those of the separate layers)
//   classifier  Flatten, Linear(c_last T' F' -> 128), ReLU, Dropout, Linear(128 -> 64), ReLU,
//               Dropout, Linear(64 -> outputs)     -> [N, outputs]
// Names: features.0.weight (conv), features.1.weight (BatchNorm), ..., classifier.0.weight,
// classifier.3.weight, classifier.6.weight — as a PyTorch nn.Sequential would name them.
//
// MultitaskCnn: the same trunk, shared, and one classifier-shaped head per target
// (heads.valence.0.weight, ...), each ending in one output; forward -> [N, targets].
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/cnn_layers.h"
#include "models/network.h"

namespace melgrad::models {

struct CnnConfig {
  std::vector<int64_t> channels{1, 4, 16, 64, 256};  // channels[0]: input planes (1)
  int64_t kernel = 3;
  int64_t padding = 1;
  int64_t pool = 2;  // max-pool kernel = stride after every conv
  bool batch_norm = true;
  bool track_running_stats = false;  // false: batch statistics also at eval (the study)
  int64_t frames = 40;               // T the network is built for
  int64_t bands = 128;               // F (128 mel, 12 chroma, 140 fused)
  std::vector<int64_t> hidden{128, 64};
  double dropout = 0.2;
  int64_t outputs = 10;
  bool relu_before_batch_norm = false;  // block order conv, ReLU, BatchNorm, pool (notebook)
  bool frequency_major = false;         // image [N, 1, F, T] instead of [N, 1, T, F] (notebook)
};

// The trunk's output [C, T', F'] for the config; throws naming the block where the
// image would shrink below one pixel.
std::array<int64_t, 3> cnn_trunk_output(const CnnConfig& config);
std::string describe_cnn(const CnnConfig& config);

// The conv trunk (features.*) as a Sequential.
std::shared_ptr<nn::Sequential> make_cnn_trunk(const CnnConfig& config, Generator& gen);

// Flatten-input head: Linear(in -> hidden[0]), ReLU, Dropout, ..., Linear(hidden.back() ->
// outputs). Dropout modules are appended to `dropouts` so the owner can reseed them.
std::shared_ptr<nn::Sequential> make_fc_head(
    int64_t in_features, const std::vector<int64_t>& hidden, int64_t outputs, double dropout,
    Generator& gen, std::vector<std::shared_ptr<ReseedableDropout>>& dropouts);

class CnnNet : public Network {
 public:
  CnnNet(const CnnConfig& config, uint64_t seed);
  Tensor forward(const Tensor& x, const Tensor& lengths) override;
  Tensor forward_image(const Tensor& image);  // [N, 1, T, F] -> [N, outputs]
  int64_t outputs() const override { return config_.outputs; }
  int64_t input_frames() const override { return config_.frames; }
  void reseed_dropout(uint64_t seed) override;
  std::string describe() const override { return describe_cnn(config_); }
  const CnnConfig& config() const { return config_; }

  std::shared_ptr<nn::Sequential> features, classifier;

 private:
  CnnConfig config_;
  std::vector<std::shared_ptr<ReseedableDropout>> dropouts_;
};

// Named child modules (PyTorch's nn.ModuleDict).
class ModuleDict : public nn::Module {
 public:
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
};

class MultitaskCnn : public Network {
 public:
  // config.outputs is ignored: one output per target.
  MultitaskCnn(const CnnConfig& config, const std::vector<std::string>& targets, uint64_t seed);
  Tensor forward(const Tensor& x, const Tensor& lengths) override;
  int64_t outputs() const override { return static_cast<int64_t>(targets_.size()); }
  int64_t input_frames() const override { return config_.frames; }
  void reseed_dropout(uint64_t seed) override;
  std::string describe() const override;
  const std::vector<std::string>& targets() const { return targets_; }

  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<ModuleDict> heads;

 private:
  CnnConfig config_;
  std::vector<std::string> targets_;
  std::vector<std::shared_ptr<nn::Sequential>> head_list_;
  std::vector<std::shared_ptr<ReseedableDropout>> dropouts_;
};

// Checks x [N, T, F] against the CNN's T and F and views it as [N, 1, T, F] (frequency_major:
// copies it to [N, 1, F, T]).
Tensor as_cnn_image(const Tensor& x, const CnnConfig& config, const char* who);

}  // namespace melgrad::models
