// SyncBatchNorm (see sync_batch_norm.h).
#include "engine/dist/sync_batch_norm.h"

#include "engine/autograd.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace melgrad::dist {

namespace {

// The sum as a collective on a contiguous float32 copy (the transport's contract).
Tensor summed(const Tensor& x, Transport& transport) {
  Tensor y = x.contiguous().clone();
  transport.all_reduce(y);
  return y;
}

}  // namespace

// One process: the identity (so the float64 gradient check runs it without a world).
static const OpInfo& kAllReduceSum = register_op(
    {.name = "dist_all_reduce_sum", .family = "distributed", .gradcheck = [](Generator& g) {
       return GradCases{{"one process", {detail::gc_input({2, 3}, g)}, [](const TensorList& in) {
                           static const std::unique_ptr<Transport> one =
                               make_single_process_transport();
                           return all_reduce_sum(in[0], *one, 1.0);
                         }}};
     }});

Tensor all_reduce_sum(const Tensor& x, Transport& transport, double rank_weight) {
  if (transport.size() == 1) return x;
  if (!(rank_weight > 0))
    throw std::invalid_argument("all_reduce_sum: rank weight " + std::to_string(rank_weight) +
                                " (every rank needs a part of the batch)");
  Tensor y;
  {
    NoGradGuard no_grad;
    y = summed(x, transport);
  }
  Transport* t = &transport;
  return record(kAllReduceSum, {x}, y, [t, rank_weight](const TensorList& g) {
    NoGradGuard no_grad;
    return TensorList{summed(g[0] * rank_weight, *t) * (1.0 / rank_weight)};
  });
}

Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       Tensor* running_mean, Tensor* running_var, double momentum, double eps,
                       Transport& transport, double rank_weight) {
  if (x.dim() != 4)
    throw std::invalid_argument("sync_batch_norm: expected input [N, C, H, W], got " + x.str());
  const int64_t C = x.size(1);
  Tensor count = Tensor::full({1}, double(x.numel() / C), DType::f32);
  transport.all_reduce(count);  // exact below 2^24 values per channel
  const double M = count.item();
  const Shape per_channel = {1, C, 1, 1};
  const Tensor mean = all_reduce_sum(sum(x, {0, 2, 3}), transport, rank_weight) * (1.0 / M);
  const Tensor centred = x - reshape(mean, per_channel);
  const Tensor var =
      all_reduce_sum(sum(centred * centred, {0, 2, 3}), transport, rank_weight) * (1.0 / M);
  Tensor y = centred * reshape(pow(var + eps, -0.5), per_channel);
  if (weight.defined()) y = y * reshape(weight, per_channel);
  if (bias.defined()) y = y + reshape(bias, per_channel);
  if (running_mean && running_var) {
    NoGradGuard no_grad;
    running_mean->copy_(*running_mean * (1 - momentum) + mean.detach() * momentum);
    running_var->copy_(*running_var * (1 - momentum) +
                       var.detach() * (momentum * M / std::max(M - 1, 1.0)));
  }
  return y;
}

}  // namespace melgrad::dist
