// Dropout with a Philox4x32-10 counter-based mask (see dropout.h). Element i uses lane
// (i mod 4) of the Philox block for counter i / 4 under the call's 64-bit seed; the
// generator is common/random.h's, shared with the CUDA kernel (kernels/dropout.cu),
// so both backends draw the mask bit for bit alike.
#include "engine/ops/dropout.h"

#include <stdexcept>

#include "common/random.h"
#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

namespace {

// The mask in x's dtype: 0 for dropped elements, 1 / (1 - p) for kept ones.
Tensor dropout_mask(const Tensor& x, double p, uint64_t seed) {
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    T* m = mask.data<T>();
    const int64_t n = mask.numel();
    const T keep = T(1.0 / (1.0 - p));
    const float pf = float(p);
    for (int64_t i = 0; i < n; i += 4) {
      const PhiloxBlock r = philox4x32_10(uint64_t(i) / 4, seed);
      for (int64_t j = 0; j < 4 && i + j < n; ++j)
        m[i + j] = philox_to_unit(r[j]) >= pf ? keep : T(0);
    }
  });
  return x.device().is_cpu() ? mask : mask.to(x.device());
}

}  // namespace

float philox_uniform(uint64_t seed, uint64_t index) { return philox_uniform_at(seed, index); }

static const OpInfo& kDropout = register_op(
    {.name = "dropout", .family = "dropout", .devices = {DeviceType::cpu, DeviceType::cuda},
     .gradcheck = [](Generator& g) {
       return GradCases{{"p=0.3", {gc_input({4, 5}, g)},
                         [](const TensorList& in) { return dropout_with_seed(in[0], 0.3, 99); }}};
     }});

// The op; `seed_on_device` is where a recorded step graph keeps this call's seed (or null).
static Tensor dropout_op(const Tensor& x, double p, uint64_t seed, const uint64_t* seed_on_device) {
  if (!(p >= 0 && p < 1))
    throw std::invalid_argument("dropout: probability must be in [0, 1), got " + std::to_string(p));
  check_device(kDropout, {x});
  check_floating(kDropout, x);
  if (p == 0) return x;
  Tensor fused = backend_for(x.device()).fused_dropout(x, p, seed, seed_on_device);
  if (fused.defined())
    return record(kDropout, {x}, fused, [p, seed, seed_on_device](const TensorList& g) {
      return TensorList{
          backend_for(g[0].device()).fused_dropout_backward(g[0], p, seed, seed_on_device)};
    });
  Tensor mask = dropout_mask(x, p, seed);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = x * mask;
  }
  return record(kDropout, {x}, out,
                [mask](const TensorList& g) { return TensorList{g[0] * mask}; });
}

Tensor dropout_with_seed(const Tensor& x, double p, uint64_t seed) {
  return dropout_op(x, p, seed, nullptr);
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  if (!training || p == 0) return x;
  const uint64_t seed = gen.next_u64();
  // While a step graph is recorded the seed lives on the device, refilled from `gen` on
  // every replay (engine/backend.h, capture_step).
  const uint64_t* on_device =
      x.device().is_cpu() ? nullptr : backend_for(x.device()).recording_dropout_seed(gen, seed);
  return dropout_op(x, p, seed, on_device);
}

}  // namespace melgrad
