// batch_norm: x [N, C, ...] normalised per channel, y = (x - mean) / sqrt(var + eps) * w + b,
// with w, b [C] optional (affine) and PyTorch's statistics rules:
//   - batch statistics (biased variance) when training or when there are no running stats
//     (BatchNorm2d(track_running_stats=False) uses them in eval too, as the study does);
//   - training with running stats also updates them in place:
//       running = (1 - momentum) running + momentum stat  (unbiased variance);
//   - eval with running stats normalises with them.
// Forward and backward are the layer kernels of the input's backend (Backend::batch_norm_*,
// engine/backend.h): statistics, running update and scale/shift in one call; one call for
// all three gradients.
#include <array>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "engine/ops/cnn.h"
#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

namespace {

Tensor dense(const Tensor& t) {
  if (!t.defined()) return t;
  NoGradGuard no_grad;
  return contiguous(t).detach();
}

void check_channel_tensor(const char* what, const Tensor& t, const Tensor& x) {
  if (!t.defined()) return;
  if (t.dim() != 1 || t.size(0) != x.size(1))
    throw std::invalid_argument(std::string("batch_norm: ") + what + " " + t.str() +
                                " does not match the " + std::to_string(x.size(1)) +
                                " channels of input " + x.str());
  if (t.dtype() != x.dtype())
    throw std::invalid_argument(std::string("batch_norm: ") + what + " " + t.str() +
                                " has a different dtype than input " + x.str());
}

// Case helper: running statistics live in shared buffers so the case can be re-run; one
// copy per device and dtype of the input (the cross-backend tests run it on both devices).
struct Running {
  Tensor mean, var;
  std::map<std::string, std::pair<Tensor, Tensor>> copies;
  std::pair<Tensor, Tensor>& like(const Tensor& x) {
    const std::string key = x.device().str() + " " + dtype_name(x.dtype());
    auto it = copies.find(key);
    if (it == copies.end())
      it = copies
               .emplace(key, std::pair{mean.to(x.dtype()).to(x.device()),
                                       var.to(x.dtype()).to(x.device())})
               .first;
    return it->second;
  }
};

GradCheckCase bn_case(std::string label, Generator& g, const Shape& xs, bool affine, bool training,
                      bool running) {
  const int64_t C = xs[1];
  TensorList in{gc_input(xs, g, -2, 2)};
  if (affine) {
    in.push_back(gc_input({C}, g, 0.5, 1.5));
    in.push_back(gc_input({C}, g));
  }
  auto rs = std::make_shared<Running>();
  if (running) {
    rs->mean = Tensor::uniform({C}, -0.5, 0.5, g, DType::f64);
    rs->var = Tensor::uniform({C}, 0.5, 2.0, g, DType::f64);
  }
  return {std::move(label), in, [affine, training, running, rs](const TensorList& t) {
            auto* stats = running ? &rs->like(t[0]) : nullptr;
            return batch_norm(t[0], affine ? t[1] : Tensor(), affine ? t[2] : Tensor(),
                              stats ? &stats->first : nullptr, stats ? &stats->second : nullptr,
                              training);
          }};
}

}  // namespace

static const OpInfo& kBatchNorm = register_op(
    {.name = "batch_norm", .family = "cnn", .gradcheck = [](Generator& g) {
       return GradCases{
           bn_case("training, batch stats, affine", g, {3, 2, 3, 4}, true, true, false),
           bn_case("training, no affine, [N, C, L]", g, {4, 3, 5}, false, true, false),
           bn_case("[N, C] input, affine", g, {6, 3}, true, true, false),
           bn_case("training with running stats", g, {2, 3, 3, 2}, true, true, true),
           bn_case("eval with running stats", g, {2, 3, 3, 2}, true, false, true),
           bn_case("eval without running stats: batch stats", g, {3, 2, 2, 3}, true, false, false)};
     }});

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor* running_mean,
                  Tensor* running_var, bool training, double momentum, double eps) {
  const Tensor rm = running_mean ? *running_mean : Tensor();
  const Tensor rv = running_var ? *running_var : Tensor();
  check_device(kBatchNorm, {x, weight, bias, rm, rv});
  check_floating(kBatchNorm, x);
  if (x.dim() < 2)
    throw std::invalid_argument("batch_norm: expected input [N, C, ...], got " + x.str());
  check_channel_tensor("weight", weight, x);
  check_channel_tensor("bias", bias, x);
  if (rm.defined() != rv.defined())
    throw std::invalid_argument(
        "batch_norm: running_mean and running_var must be given together (or both omitted)");
  check_channel_tensor("running_mean", rm, x);
  check_channel_tensor("running_var", rv, x);
  if (rm.defined() && (!rm.is_contiguous() || !rv.is_contiguous()))
    throw std::invalid_argument("batch_norm: running statistics must be contiguous, got " +
                                rm.str() + " and " + rv.str());
  if (!(eps > 0) || momentum < 0 || momentum > 1)
    throw std::invalid_argument("batch_norm: eps " + std::to_string(eps) +
                                " must be > 0 and momentum " + std::to_string(momentum) +
                                " in [0, 1]");

  int64_t values_per_channel = x.size(0);
  for (int64_t d = 2; d < x.dim(); ++d) values_per_channel *= x.size(d);
  const bool batch_stats = training || !rm.defined();
  if (batch_stats && values_per_channel <= 1)
    throw std::invalid_argument(
        "batch_norm: expected more than 1 value per channel when using "
        "batch statistics, got input " +
        x.str());
  // Detached contiguous operands (the backward keeps x and weight).
  BatchNormTensors bn;
  bn.x = dense(x), bn.weight = dense(weight), bn.bias = dense(bias);
  bn.running_mean = rm, bn.running_var = rv;
  bn.training = training, bn.momentum = momentum, bn.eps = eps;
  bn.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  bn.save_mean = Tensor::empty({x.size(1)}, x.dtype(), x.device());
  bn.save_invstd = Tensor::empty({x.size(1)}, x.dtype(), x.device());
  backend_for(x.device()).batch_norm_forward(bn);
  const Tensor y = bn.y;
  bn.y = bn.bias = bn.running_mean = bn.running_var = Tensor();  // the backward needs none

  const std::array<bool, 3> need{x.requires_grad(), weight.defined() && weight.requires_grad(),
                                 bias.defined() && bias.requires_grad()};
  return record(kBatchNorm, {x, weight, bias}, y, [bn, batch_stats, need](const TensorList& grads) {
    const Tensor gy = dense(grads[0]);
    Tensor gx, gw, gb;
    if (need[0]) gx = Tensor::empty(bn.x.shape(), gy.dtype(), gy.device());
    if (need[1]) gw = Tensor::empty({bn.x.size(1)}, gy.dtype(), gy.device());
    if (need[2]) gb = Tensor::empty({bn.x.size(1)}, gy.dtype(), gy.device());
    backend_for(gy.device()).batch_norm_backward(gy, bn, batch_stats, gx, gw, gb);
    return TensorList{gx, gw, gb};
  });
}

}  // namespace melgrad
