// The recorded training step (see graph_step.h).
#include "experiments/graph_step.h"

#include "experiments/task_loss.h"

namespace melgrad::experiments {

GraphedStep::GraphedStep(models::Network& net, const Task& task, std::vector<Tensor> params,
                         bool graphs)
    : net_(net),
      task_(task),
      params_(std::move(params)),
      device_(network_device(net)),
      graphs_(graphs && !device_.is_cpu()) {}

Tensor GraphedStep::eager(const BatchTensors& b, uint64_t dropout_seed) {
  for (Tensor& p : params_) p.zero_grad();
  net_.reseed_dropout(dropout_seed);
  Tensor loss = task_loss(net_.forward(b.x, b.lengths), b, task_);
  loss.backward();
  return loss;
}

void GraphedStep::copy_into_inputs(const BatchTensors& host) {
  for (auto [dst, src] :
       {std::pair{&inputs_.x, &host.x}, std::pair{&inputs_.lengths, &host.lengths},
        std::pair{&inputs_.labels, &host.labels}, std::pair{&inputs_.targets, &host.targets}})
    if (dst->defined()) dst->copy_(*src);  // an upload into the buffer the graph reads
}

Tensor GraphedStep::run(const BatchTensors& host, uint64_t dropout_seed) {
  const Shape shape = host.x.shape();
  if (graph_ && shape == shape_) {
    copy_into_inputs(host);
    net_.reseed_dropout(dropout_seed);  // replay() draws this step's seeds from the generators
    graph_->replay();
    for (size_t i = 0; i < params_.size(); ++i) params_[i].set_grad(grads_[i]);
    return loss_;
  }
  if (!graphs_ || graph_) return eager(to_device(host, device_), dropout_seed);

  same_shape_ = shape == shape_ ? same_shape_ + 1 : 1;
  shape_ = shape;
  if (same_shape_ < 2) return eager(to_device(host, device_), dropout_seed);  // warm-up

  inputs_ = to_device(host, device_);       // allocated before recording: the graph's inputs
  for (Tensor& p : params_) p.zero_grad();  // the recorded backward writes fresh gradients
  net_.reseed_dropout(dropout_seed);
  Tensor loss;
  std::string why_not;
  graph_ = backend_for(device_).capture_step(
      [&] {
        loss = task_loss(net_.forward(inputs_.x, inputs_.lengths), inputs_, task_);
        loss.backward();
      },
      why_not);
  if (!graph_) {  // nothing ran on the device: the step again, eagerly, and from now on
    graphs_ = false;
    inputs_ = BatchTensors();
    note_ = "CUDA graphs: off (" + why_not + ")";
    return eager(to_device(host, device_), dropout_seed);
  }
  loss_ = loss;
  grads_.clear();
  for (const Tensor& p : params_) grads_.push_back(p.grad());
  note_ = "CUDA graphs: on, the step is recorded for batches " + shape_str(shape) +
          " (other shapes run eagerly)";
  return loss_;
}

}  // namespace melgrad::experiments
