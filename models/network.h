// The interface every network of the study implements, so that one training loop drives
// them all:
//   x        float32 [N, T, F]  a zero-padded batch, time-major (datasets/batcher.h)
//   lengths  int64 [N]          true lengths (the LSTM's packed semantics; the CNN ignores them)
//   forward  -> [N, outputs]    logits (genre) or predictions (regression, one per target)
// A CNN sees the batch as an image [N, 1, T, F] and needs a fixed T (input_frames()); the
// trainer pads or crops every batch to it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/generator.h"
#include "engine/nn/layers.h"
#include "engine/nn/module.h"

namespace melgrad::models {

class Network : public nn::Module {
 public:
  virtual Tensor forward(const Tensor& x, const Tensor& lengths) = 0;
  // Number of output columns.
  virtual int64_t outputs() const = 0;
  // The fixed number of frames T the network accepts (0: any length).
  virtual int64_t input_frames() const = 0;
  // Restarts every dropout mask stream from `seed`; the trainer calls it before each batch
  // with a seed derived from (run seed, epoch, batch), so a resumed run draws the very
  // masks an uninterrupted run would have drawn.
  virtual void reseed_dropout(uint64_t seed) = 0;
  virtual std::string describe() const = 0;  // one line: "CNN 1-4-16-64-256 pool 2 ..."
};

// nn::Dropout whose mask stream can be restarted (see Network::reseed_dropout).
class ReseedableDropout : public nn::Layer {
 public:
  explicit ReseedableDropout(double p);
  Tensor forward(const Tensor& x) override;
  void reseed(uint64_t seed) { gen_.reseed(seed); }
  double p;

 private:
  Generator gen_;
};

// A seed for stream `k` derived from `seed` (splitmix64 mixing), for independent streams.
uint64_t derive_seed(uint64_t seed, uint64_t k);

}  // namespace melgrad::models
