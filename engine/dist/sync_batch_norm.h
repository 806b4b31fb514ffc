// SyncBatchNorm for data-parallel training (PyTorch's nn.SyncBatchNorm): in training, the
// per-channel mean and variance of the *global* batch, every rank's part of it, in the
// forward and in the backward.
//
//   all_reduce_sum(x)  y = sum over ranks of x; differentiable: its backward is the same
//                      collective on the gradients (see rank_weight below)
//   sync_batch_norm    x [N, C, H, W] (this rank's part of the batch) -> same:
//                        mean = all_reduce_sum(sum_{n,h,w} x) / M           (M: global count)
//                        var  = all_reduce_sum(sum_{n,h,w} (x - mean)^2) / M (two passes:
//                               no E[x^2] - E[x]^2 cancellation)
//                        y    = (x - mean) / sqrt(var + eps) * weight + bias
//                      autograd carries the backward through both collectives, so the
//                      gradients are the global batch's (the sums over ranks of d/dmean and
//                      d/dvar that PyTorch's SyncBatchNorm backward all-reduces).
//
// rank_weight: the trainer back-propagates each rank's *mean* loss over its shard and
// scales the rank's gradients by its share w of the global batch afterwards
// (GradientBuckets). A gradient crossing a collective must be the global one: the backward
// sums w_r * g_r over ranks and divides by this rank's w, which the later scaling undoes.
#pragma once

#include "engine/dist/transport.h"

namespace melgrad::dist {

Tensor all_reduce_sum(const Tensor& x, Transport& transport, double rank_weight = 1.0);

// weight/bias [C] or undefined; running_mean/var [C] buffers or nullptr, updated as
// PyTorch's (unbiased global variance). Throws when a rank has no values of a channel.
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       Tensor* running_mean, Tensor* running_var, double momentum, double eps,
                       Transport& transport, double rank_weight);

}  // namespace melgrad::dist
