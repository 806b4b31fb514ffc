// Losses (see loss.h), composed from registered ops so their gradients come from ops that
// the registry's gradient check already covers; tests/ops/test_losses.cpp checks them
// against hand-computed values and finite differences. cross_entropy is one graph node
// whose forward and backward are the device backend's (Backend::cross_entropy: the CPU's
// primitives, kernels/cross_entropy.h on CUDA).
#include "engine/ops/loss.h"

#include <stdexcept>

#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace melgrad {

static void check_same_shape(const char* op, const Tensor& pred, const Tensor& target) {
  if (pred.shape() != target.shape())
    throw std::invalid_argument(std::string(op) + ": prediction " + shape_str(pred.shape()) +
                                " and target " + shape_str(target.shape()) +
                                " must have the same shape");
  if (pred.dtype() != target.dtype())
    throw std::invalid_argument(std::string(op) + ": prediction is " + dtype_name(pred.dtype()) +
                                " but target is " + dtype_name(target.dtype()));
}

static const OpInfo& kCrossEntropy = register_op(
    {.name = "cross_entropy", .family = "loss", .gradcheck = [](Generator& g) {
       const Tensor targets = Tensor::from_vector(std::vector<int64_t>{2, 0, 3, 1, 2, 3}, {6});
       auto weighted = [](const TensorList& in) { return cross_entropy(in[0], in[1], in[2]); };
       return GradCases{
           {"unweighted",
            {detail::gc_input({6, 4}, g, -2, 2), targets},
            [](const TensorList& in) { return cross_entropy(in[0], in[1]); }},
           {"class weights",
            {detail::gc_input({6, 4}, g, -2, 2), targets,
             Tensor::uniform({4}, 0.5, 2, g, DType::f64)},
            weighted},
           {"learned class weights",
            {detail::gc_input({6, 4}, g, -2, 2), targets, detail::gc_input({4}, g, 0.5, 2)},
            weighted}};
     }});

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& class_weights) {
  check_device(kCrossEntropy, {logits, targets, class_weights});
  if (logits.dim() != 2)
    throw std::invalid_argument("cross_entropy: logits must be [N, C], got " +
                                shape_str(logits.shape()));
  const int64_t N = logits.size(0), C = logits.size(1);
  if (targets.dtype() != DType::i64 || targets.shape() != Shape{N})
    throw std::invalid_argument("cross_entropy: targets must be int64 [" + std::to_string(N) +
                                "], got " + targets.str());
  if (class_weights.defined() && class_weights.shape() != Shape{C})
    throw std::invalid_argument("cross_entropy: class weights must be [" + std::to_string(C) +
                                "], got " + shape_str(class_weights.shape()));
  if (class_weights.defined() && class_weights.dtype() != logits.dtype())
    throw std::invalid_argument("cross_entropy: class weights are " + class_weights.str() +
                                " but logits are " + logits.str());
  Backend& backend = backend_for(logits.device());
  // The CPU reads the targets and throws at once; a device reports a bad one at its next
  // synchronisation (reading them back here would stall it every step).
  backend.check_range(targets, 0, C - 1, RangeCheck::class_target, "cross_entropy");
  const std::vector<Tensor> result = backend.cross_entropy(logits, targets, class_weights);
  const bool weights_grad = class_weights.defined() && class_weights.requires_grad();
  return record(
      kCrossEntropy, {logits, targets, class_weights}, result[0],
      [x = logits.detach(), targets = targets.detach(),
       w = class_weights.defined() ? class_weights.detach() : Tensor(), loss = result[0].detach(),
       saved = TensorList(result.begin() + 1, result.end()), weights_grad](const TensorList& g) {
        const TensorList grads =
            backend_for(x.device())
                .cross_entropy_backward(x, targets, w, loss, saved, g[0], weights_grad);
        return TensorList{grads[0], Tensor(), grads[1]};
      });
}

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  check_same_shape("mse_loss", pred, target);
  return mean(pow(pred - target, 2.0));
}

Tensor l1_loss(const Tensor& pred, const Tensor& target) {
  check_same_shape("l1_loss", pred, target);
  return mean(abs(pred - target));
}

Tensor smooth_l1_loss(const Tensor& pred, const Tensor& target, double beta) {
  check_same_shape("smooth_l1_loss", pred, target);
  if (!(beta > 0)) throw std::invalid_argument("smooth_l1_loss: beta must be positive");
  Tensor d = pred - target;
  Tensor ad = abs(d);
  Tensor quadratic = pow(d, 2.0) * (0.5 / beta);
  Tensor linear = ad - 0.5 * beta;
  return mean(where(lt(ad, Tensor::scalar(beta, ad.dtype(), ad.device())), quadratic, linear));
}

Tensor weighted_sum(const std::vector<Tensor>& losses, const std::vector<double>& weights) {
  if (losses.empty() || losses.size() != weights.size())
    throw std::invalid_argument("weighted_sum: " + std::to_string(losses.size()) + " losses but " +
                                std::to_string(weights.size()) + " weights");
  Tensor total = losses[0] * weights[0];
  for (size_t k = 1; k < losses.size(); ++k) total = total + losses[k] * weights[k];
  return total;
}

}  // namespace melgrad
