// The study's CNN classifier/regressor and the multitask CNN (see cnn.h).
#include "models/cnn.h"

#include <sstream>
#include <stdexcept>

#include "engine/ops/ops.h"

namespace melgrad::models {

static void check_config(const CnnConfig& c) {
  if (c.channels.size() < 2)
    throw std::invalid_argument("CNN: channels needs the input planes and at least one conv, got " +
                                std::to_string(c.channels.size()) + " entries");
  for (int64_t ch : c.channels)
    if (ch <= 0)
      throw std::invalid_argument("CNN: channel counts must be positive, got " +
                                  std::to_string(ch));
  if (c.kernel <= 0 || c.padding < 0 || c.pool <= 0)
    throw std::invalid_argument("CNN: kernel and pool must be positive and padding >= 0");
  if (c.frames <= 0 || c.bands <= 0)
    throw std::invalid_argument("CNN: frames (T = " + std::to_string(c.frames) +
                                ") and bands (F = " + std::to_string(c.bands) +
                                ") must be positive");
  if (!(c.dropout >= 0 && c.dropout < 1))
    throw std::invalid_argument("CNN: dropout must be in [0, 1), got " + std::to_string(c.dropout));
}

std::array<int64_t, 3> cnn_trunk_output(const CnnConfig& c) {
  check_config(c);
  int64_t h = c.frequency_major ? c.bands : c.frames, w = c.frequency_major ? c.frames : c.bands;
  for (size_t i = 0; i + 1 < c.channels.size(); ++i) {
    h = h + 2 * c.padding - c.kernel + 1;
    w = w + 2 * c.padding - c.kernel + 1;
    if (h < c.pool || w < c.pool)
      throw std::invalid_argument("CNN: an input of T = " + std::to_string(c.frames) +
                                  " frames x F = " + std::to_string(c.bands) +
                                  " bands shrinks to " + std::to_string(h) + " x " +
                                  std::to_string(w) + " at conv block " + std::to_string(i + 1) +
                                  ", smaller than the max-pool " + std::to_string(c.pool) +
                                  " (use fewer blocks, a smaller pool or longer inputs)");
    h /= c.pool;
    w /= c.pool;
  }
  return {c.channels.back(), h, w};
}

std::string describe_cnn(const CnnConfig& c) {
  std::ostringstream s;
  s << "CNN channels ";
  for (size_t i = 0; i < c.channels.size(); ++i) s << (i ? "-" : "") << c.channels[i];
  s << ", kernel " << c.kernel << ", max-pool " << c.pool << ", "
    << (c.batch_norm
            ? (c.track_running_stats ? "BatchNorm (running stats)" : "BatchNorm (batch stats)")
            : "no BatchNorm")
    << (c.batch_norm && c.relu_before_batch_norm ? " after ReLU" : "") << ", input " << c.frames
    << " x " << c.bands << (c.frequency_major ? " (image F x T)" : "") << ", FC";
  for (int64_t h : c.hidden) s << " " << h;
  s << " -> " << c.outputs << ", dropout " << c.dropout;
  return s.str();
}

std::shared_ptr<nn::Sequential> make_cnn_trunk(const CnnConfig& c, Generator& gen) {
  cnn_trunk_output(c);  // validates
  auto trunk = std::make_shared<nn::Sequential>();
  for (size_t i = 0; i + 1 < c.channels.size(); ++i) {
    trunk->push_back(std::make_shared<nn::Conv2d>(c.channels[i], c.channels[i + 1], c.kernel, gen,
                                                  /*stride=*/1, c.padding));
    auto batch_norm = [&] {
      if (c.batch_norm)
        trunk->push_back(std::make_shared<nn::BatchNorm2d>(c.channels[i + 1], 1e-5, 0.1, true,
                                                           c.track_running_stats));
    };
    if (!c.relu_before_batch_norm) batch_norm();
    trunk->push_back(std::make_shared<nn::ReLU>());
    if (c.relu_before_batch_norm) batch_norm();
    trunk->push_back(std::make_shared<nn::MaxPool2d>(c.pool));
  }
  return trunk;
}

std::shared_ptr<nn::Sequential> make_fc_head(
    int64_t in_features, const std::vector<int64_t>& hidden, int64_t outputs, double dropout,
    Generator& gen, std::vector<std::shared_ptr<ReseedableDropout>>& dropouts) {
  if (outputs <= 0)
    throw std::invalid_argument("FC head: outputs must be positive, got " +
                                std::to_string(outputs));
  auto head = std::make_shared<nn::Sequential>();
  int64_t in = in_features;
  for (int64_t h : hidden) {
    head->push_back(std::make_shared<nn::Linear>(in, h, gen));
    head->push_back(std::make_shared<nn::ReLU>());
    auto drop = std::make_shared<ReseedableDropout>(dropout);
    dropouts.push_back(drop);
    head->push_back(drop);
    in = h;
  }
  head->push_back(std::make_shared<nn::Linear>(in, outputs, gen));
  return head;
}

static int64_t flat_size(const CnnConfig& c) {
  auto [ch, h, w] = cnn_trunk_output(c);
  return ch * h * w;
}

Tensor as_cnn_image(const Tensor& x, const CnnConfig& c, const char* who) {
  if (x.dim() != 3 || x.size(1) != c.frames || x.size(2) != c.bands)
    throw std::invalid_argument(std::string(who) + ": expected a batch [N, " +
                                std::to_string(c.frames) + ", " + std::to_string(c.bands) +
                                "] (frames x bands the network was built for), got " + x.str());
  if (c.frequency_major) return x.transpose(1, 2).contiguous().unsqueeze(1);
  return x.unsqueeze(1);
}

CnnNet::CnnNet(const CnnConfig& config, uint64_t seed) : config_(config) {
  Generator gen(seed);
  features = register_module("features", make_cnn_trunk(config_, gen));
  classifier =
      register_module("classifier", make_fc_head(flat_size(config_), config_.hidden,
                                                 config_.outputs, config_.dropout, gen, dropouts_));
}

Tensor CnnNet::forward_image(const Tensor& image) {
  return classifier->forward(features->forward(image).flatten(1));
}

Tensor CnnNet::forward(const Tensor& x, const Tensor& /*lengths*/) {
  return forward_image(as_cnn_image(x, config_, "CNN"));
}

void CnnNet::reseed_dropout(uint64_t seed) {
  for (size_t i = 0; i < dropouts_.size(); ++i) dropouts_[i]->reseed(derive_seed(seed, i));
}

MultitaskCnn::MultitaskCnn(const CnnConfig& config, const std::vector<std::string>& targets,
                           uint64_t seed)
    : config_(config), targets_(targets) {
  if (targets_.empty()) throw std::invalid_argument("MultitaskCnn: needs at least one target");
  config_.outputs = static_cast<int64_t>(targets_.size());
  Generator gen(seed);
  features = register_module("features", make_cnn_trunk(config_, gen));
  heads = register_module("heads", std::make_shared<ModuleDict>());
  for (const std::string& t : targets_)
    head_list_.push_back(heads->add(
        t, make_fc_head(flat_size(config_), config_.hidden, 1, config_.dropout, gen, dropouts_)));
}

Tensor MultitaskCnn::forward(const Tensor& x, const Tensor& /*lengths*/) {
  Tensor flat = features->forward(as_cnn_image(x, config_, "multitask CNN")).flatten(1);
  std::vector<Tensor> columns;
  for (auto& head : head_list_) columns.push_back(head->forward(flat));
  return concat(columns, 1);
}

void MultitaskCnn::reseed_dropout(uint64_t seed) {
  for (size_t i = 0; i < dropouts_.size(); ++i) dropouts_[i]->reseed(derive_seed(seed, i));
}

std::string MultitaskCnn::describe() const {
  std::string s = "multitask " + describe_cnn(config_) + "; heads:";
  for (const std::string& t : targets_) s += " " + t;
  return s;
}

}  // namespace melgrad::models
