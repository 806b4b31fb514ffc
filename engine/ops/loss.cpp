// Losses (see loss.h), composed from registered ops so their gradients come from ops that
// the registry's gradient check already covers; tests/ops/test_losses.cpp checks them
// against hand-computed values and finite differences.
#include "engine/ops/loss.h"

#include <stdexcept>

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

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& class_weights) {
  if (logits.dim() != 2)
    throw std::invalid_argument("cross_entropy: logits must be [N, C], got " +
                                shape_str(logits.shape()));
  const int64_t N = logits.size(0), C = logits.size(1);
  if (targets.dtype() != DType::i64 || targets.shape() != Shape{N})
    throw std::invalid_argument("cross_entropy: targets must be int64 [" + std::to_string(N) +
                                "], got " + targets.str());
  for (double t : targets.to_vector())
    if (t < 0 || t >= C)
      throw std::invalid_argument("cross_entropy: target class " + std::to_string(int64_t(t)) +
                                  " out of range for " + std::to_string(C) + " classes");
  Tensor picked = gather(log_softmax(logits, 1), 1, targets.reshape({N, 1})).reshape({N});
  if (!class_weights.defined()) return -mean(picked);
  if (class_weights.shape() != Shape{C})
    throw std::invalid_argument("cross_entropy: class weights must be [" + std::to_string(C) +
                                "], got " + shape_str(class_weights.shape()));
  Tensor w = index_select(class_weights, 0, targets);
  return -sum(picked * w) / sum(w);
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
