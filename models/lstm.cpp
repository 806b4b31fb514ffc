// The study's BiLSTM network (see lstm.h).
#include "models/lstm.h"

#include <sstream>
#include <stdexcept>

#include "engine/ops/lstm.h"

namespace melgrad::models {

std::string describe_lstm(const LstmConfig& c) {
  std::ostringstream s;
  s << (c.bidirectional ? "BiLSTM " : "LSTM ") << c.layers << " x " << c.hidden << ", input "
    << c.input_size << ", dropout " << c.dropout;
  if (c.output_dropout > 0) s << ", output dropout " << c.output_dropout;
  s << ", readout last step ++ first step -> " << c.outputs;
  return s.str();
}

LstmNet::LstmNet(const LstmConfig& config, uint64_t seed) : config_(config) {
  if (config_.input_size <= 0 || config_.hidden <= 0 || config_.layers <= 0 || config_.outputs <= 0)
    throw std::invalid_argument(
        "LSTM network: input size, hidden size, layers and outputs must be positive");
  if (!(config_.output_dropout >= 0 && config_.output_dropout < 1))
    throw std::invalid_argument("LSTM network: output dropout must be in [0, 1), got " +
                                std::to_string(config_.output_dropout));
  Generator gen(seed);
  lstm = register_module(
      "lstm", std::make_shared<nn::LSTM>(config_.input_size, config_.hidden, config_.layers,
                                         config_.bidirectional, config_.dropout, gen));
  const int64_t readout = (config_.bidirectional ? 2 : 1) * config_.hidden;
  fc = register_module("fc", std::make_shared<nn::Linear>(readout, config_.outputs, gen));
  // Created only when asked for, so the default network (and its random streams) is unchanged.
  if (config_.output_dropout > 0)
    drop = register_module("drop", std::make_shared<ReseedableDropout>(config_.output_dropout));
}

void LstmNet::reseed_dropout(uint64_t seed) {
  lstm->reseed_dropout(seed);
  if (drop) drop->reseed(derive_seed(seed, 1));
}

Tensor LstmNet::forward(const Tensor& x, const Tensor& lengths) {
  if (x.dim() != 3 || x.size(2) != config_.input_size)
    throw std::invalid_argument("LSTM network: expected a batch [N, T, " +
                                std::to_string(config_.input_size) + "], got " + x.str());
  LstmResult r = lstm->forward(x, lengths);
  Tensor features = lstm_readout(r.output, lengths, config_.bidirectional);
  if (drop) features = drop->forward(features);
  return fc->forward(features);
}

}  // namespace melgrad::models
