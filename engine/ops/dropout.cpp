// Dropout with a Philox4x32-10 counter-based mask (see dropout.h). Element i uses lane
// (i mod 4) of the Philox block for counter i / 4 under the call's 64-bit seed; the
// generator is common/random.h, shared by the backends (Backend::dropout: the
// CPU's loop in engine/cpu/fused.cpp, the CUDA kernel kernels/dropout.cu), so both draw
// the mask bit for bit alike.
#include "engine/ops/dropout.h"

#include <stdexcept>

#include "common/random.h"
#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

float philox_uniform(uint64_t seed, uint64_t index) { return philox_uniform_at(seed, index); }

static const OpInfo& kDropout =
    register_op({.name = "dropout", .family = "dropout", .gradcheck = [](Generator& g) {
                   return GradCases{{"p=0.3", {gc_input({4, 5}, g)}, [](const TensorList& in) {
                                       return dropout_with_seed(in[0], 0.3, 99);
                                     }}};
                 }});

// The op; `seed_on_device` is where a recorded step graph keeps this call's seed (or null).
static Tensor dropout_op(const Tensor& x, double p, uint64_t seed, const uint64_t* seed_on_device) {
  if (!(p >= 0 && p < 1))
    throw std::invalid_argument("dropout: probability must be in [0, 1), got " + std::to_string(p));
  check_device(kDropout, {x});
  check_floating(kDropout, x);
  if (p == 0) return x;
  const TensorList result = backend_for(x.device()).dropout(x, p, seed, seed_on_device);
  return record(
      kDropout, {x}, result[0],
      [saved = TensorList(result.begin() + 1, result.end()), p, seed,
       seed_on_device](const TensorList& g) {
        return TensorList{
            backend_for(g[0].device()).dropout_backward(g[0], saved, p, seed, seed_on_device)};
      });
}

Tensor dropout_with_seed(const Tensor& x, double p, uint64_t seed) {
  return dropout_op(x, p, seed, nullptr);
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  if (!training || p == 0) return x;
  const uint64_t seed = gen.next_u64();
  // While a step graph is recorded the seed lives on the device, refilled from `gen` on
  // every replay (engine/backend.h, capture_step).
  const uint64_t* on_device = backend_for(x.device()).recording_dropout_seed(gen, seed);
  return dropout_op(x, p, seed, on_device);
}

}  // namespace melgrad
