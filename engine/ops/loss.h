// Losses, each reducing to a scalar mean (PyTorch's reduction='mean'):
//   cross_entropy(logits [N, C], targets int64 [N], class_weights [C] optional)
//     = sum_i w[t_i] * -log_softmax(logits)[i, t_i] / sum_i w[t_i]
//   mse_loss(pred, target)          mean((pred - target)^2)
//   l1_loss(pred, target)           mean(|pred - target|)
//   smooth_l1_loss(pred, target, beta = 1)
//                                   mean(0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta)
// pred and target must have the same shape (no silent broadcasting of [N] vs [N, 1]).
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace melgrad {

Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     const Tensor& class_weights = Tensor());
Tensor mse_loss(const Tensor& pred, const Tensor& target);
Tensor l1_loss(const Tensor& pred, const Tensor& target);
Tensor smooth_l1_loss(const Tensor& pred, const Tensor& target, double beta = 1.0);
// sum_k weights[k] * losses[k] (multitask).
Tensor weighted_sum(const std::vector<Tensor>& losses, const std::vector<double>& weights);

}  // namespace melgrad
