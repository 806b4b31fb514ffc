// The study's BiLSTM classifier/regressor (REFERENCE §2):
//   x [N, T, F], lengths int64 [N]
//   lstm     nn::LSTM(F, hidden, layers, bidirectional, dropout between layers), packed
//            semantics              -> output [N, T, D*hidden]
//   readout  forward state at t = len-1 ++ backward state at t = 0 (lstm_readout) -> [N, D*hidden]
//   drop     (output_dropout > 0) Dropout on the readout: the notebook's nn.Dropout on the LSTM's
//            whole output, of which only the read-out steps reach the FC layer
//   fc       Linear(D*hidden -> outputs)                                         -> [N, outputs]
// Parameter names as PyTorch's: lstm.weight_ih_l0, lstm.weight_hh_l0_reverse, ..., fc.weight.
#pragma once

#include <memory>

#include "engine/nn/lstm.h"
#include "models/network.h"

namespace melgrad::models {

struct LstmConfig {
  int64_t input_size = 128;  // F
  int64_t hidden = 100;
  int64_t layers = 2;
  bool bidirectional = true;
  double dropout = 0.2;  // between layers (PyTorch's nn.LSTM dropout)
  int64_t outputs = 10;
  double output_dropout = 0;  // on the LSTM's outputs before the FC layer (0: none)
};

std::string describe_lstm(const LstmConfig& config);

class LstmNet : public Network {
 public:
  LstmNet(const LstmConfig& config, uint64_t seed);
  Tensor forward(const Tensor& x, const Tensor& lengths) override;
  int64_t outputs() const override { return config_.outputs; }
  int64_t input_frames() const override { return 0; }
  void reseed_dropout(uint64_t seed) override;
  std::string describe() const override { return describe_lstm(config_); }
  const LstmConfig& config() const { return config_; }

  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<ReseedableDropout> drop;  // null unless output_dropout > 0

 private:
  LstmConfig config_;
};

}  // namespace melgrad::models
