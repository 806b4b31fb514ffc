// batch_norm: x [N, C, ...] normalised per channel, y = (x - mean) / sqrt(var + eps) * w + b,
// with w, b [C] optional (affine) and PyTorch's statistics rules:
//   - batch statistics (biased variance) when training or when there are no running stats
//     (BatchNorm2d(track_running_stats=False) uses them in eval too, as the study does);
//   - training with running stats also updates them in place:
//       running = (1 - momentum) running + momentum stat  (unbiased variance);
//   - eval with running stats normalises with them.
// Forward: one statistics pass and one fused scale/shift pass (engine/cpu/norm.cpp);
// backward: one kernel for all three gradients.
#include <array>
#include <map>
#include <memory>
#include <utility>
#include <stdexcept>
#include <string>

#include "engine/cpu/norm.h"
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

[[noreturn]] void no_kernel(const Tensor& x, const char* kernel) {
  throw std::runtime_error(std::string("batch_norm: no ") + kernel + " kernel for device " +
                           x.device().str());
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
      it = copies.emplace(key, std::pair{mean.to(x.dtype()).to(x.device()),
                                         var.to(x.dtype()).to(x.device())}).first;
    return it->second;
  }
};

GradCheckCase bn_case(std::string label, Generator& g, const Shape& xs, bool affine,
                      bool training, bool running) {
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
    {.name = "batch_norm", .family = "cnn",
     .gradcheck = [](Generator& g) {
       return GradCases{
           bn_case("training, batch stats, affine", g, {3, 2, 3, 4}, true, true, false),
           bn_case("training, no affine, [N, C, L]", g, {4, 3, 5}, false, true, false),
           bn_case("[N, C] input, affine", g, {6, 3}, true, true, false),
           bn_case("training with running stats", g, {2, 3, 3, 2}, true, true, true),
           bn_case("eval with running stats", g, {2, 3, 3, 2}, true, false, true),
           bn_case("eval without running stats: batch stats", g, {3, 2, 2, 3}, true, false,
                   false)};
     }});

// Off the CPU: the backend's fused forward (statistics, running update and scale/shift in
// one hook) and backward. Operands are contiguous and detached; `inputs` are the graph's.
static Tensor device_batch_norm(const Tensor& xc, const Tensor& wc, const Tensor& bc,
                                const Tensor& rm, const Tensor& rv, bool training,
                                double momentum, double eps, bool batch_stats,
                                std::array<bool, 3> need, const TensorList& inputs) {
  BatchNormTensors bn;
  bn.x = xc, bn.weight = wc, bn.bias = bc, bn.running_mean = rm, bn.running_var = rv;
  bn.training = training, bn.momentum = momentum, bn.eps = eps;
  bn.y = Tensor::empty(xc.shape(), xc.dtype(), xc.device());
  bn.save_mean = Tensor::empty({xc.size(1)}, xc.dtype(), xc.device());
  bn.save_invstd = Tensor::empty({xc.size(1)}, xc.dtype(), xc.device());
  if (!backend_for(xc.device()).batch_norm_forward(bn)) no_kernel(xc, "forward");
  const Tensor y = bn.y;
  bn.y = Tensor();  // the backward does not need it
  bn.bias = bn.running_mean = bn.running_var = Tensor();
  return record(kBatchNorm, inputs, y, [bn, batch_stats, need](const TensorList& grads) {
    const Tensor gy = dense(grads[0]);
    Tensor gx, gw, gb;
    if (need[0]) gx = Tensor::empty(bn.x.shape(), gy.dtype(), gy.device());
    if (need[1]) gw = Tensor::empty({bn.x.size(1)}, gy.dtype(), gy.device());
    if (need[2]) gb = Tensor::empty({bn.x.size(1)}, gy.dtype(), gy.device());
    if (!backend_for(gy.device()).batch_norm_backward(gy, bn, batch_stats, gx, gw, gb))
      no_kernel(gy, "backward");
    return TensorList{gx, gw, gb};
  });
}

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  Tensor* running_mean, Tensor* running_var, bool training, double momentum,
                  double eps) {
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

  cpu::BatchNormGeometry g{x.size(0), x.size(1), 1};
  for (int64_t d = 2; d < x.dim(); ++d) g.S *= x.size(d);
  const bool batch_stats = training || !rm.defined();
  if (batch_stats && g.N * g.S <= 1)
    throw std::invalid_argument("batch_norm: expected more than 1 value per channel when using "
                                "batch statistics, got input " + x.str());
  const Tensor xc = dense(x), wc = dense(weight), bc = dense(bias);
  const bool need_x = x.requires_grad(), need_w = weight.defined() && weight.requires_grad(),
             need_b = bias.defined() && bias.requires_grad();
  if (!x.device().is_cpu()) return device_batch_norm(xc, wc, bc, rm, rv, training, momentum, eps,
                                                     batch_stats, {need_x, need_w, need_b},
                                                     {x, weight, bias});

  // Detached contiguous operands (the backward captures xc and wc).
  Tensor mean, invstd;
  {
    NoGradGuard no_grad;
    Tensor var;
    if (batch_stats) {
      mean = Tensor::empty({g.C}, x.dtype(), x.device());
      var = Tensor::empty({g.C}, x.dtype(), x.device());
      cpu::batch_norm_stats(xc, mean, var, g);
      if (training && rm.defined()) cpu::batch_norm_update_running(rm, rv, mean, var, momentum, g);
    } else {
      mean = rm.clone().detach();  // a copy: a later training step may update the buffer
      var = rv.detach();
    }
    invstd = pow(var + eps, -0.5).detach();
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  cpu::batch_norm_apply(xc, mean, invstd, wc, bc, y, g);

  return record(kBatchNorm, {x, weight, bias}, y,
                [g, batch_stats, need_x, need_w, need_b, x_saved = xc, w_saved = wc, mean,
                 invstd](const TensorList& grads) {
                  const Tensor gy = dense(grads[0]);
                  if (!gy.device().is_cpu()) no_kernel(gy, "backward");
                  Tensor gx, gw, gb;
                  if (need_x) gx = Tensor::empty(x_saved.shape(), gy.dtype(), gy.device());
                  if (need_w) gw = Tensor::empty({g.C}, gy.dtype(), gy.device());
                  if (need_b) gb = Tensor::empty({g.C}, gy.dtype(), gy.device());
                  cpu::batch_norm_backward(gy, x_saved, mean, invstd, w_saved, gx, gw, gb,
                                           batch_stats, g);
                  return TensorList{gx, gw, gb};
                });
}

}  // namespace melgrad
