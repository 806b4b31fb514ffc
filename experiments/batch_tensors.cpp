// Batches as tensors (see batch_tensors.h).
#include "experiments/batch_tensors.h"

#include <cmath>
#include <stdexcept>

namespace melgrad::experiments {

BatchTensors batch_tensors(const data::Batch& b, const Task& task) {
  BatchTensors t;
  t.size = b.size();
  t.x = Tensor::from_vector(b.x, {b.shape[0], b.shape[1], b.shape[2]});
  t.lengths = Tensor::from_vector(b.lengths, {t.size});
  if (task.kind == TaskKind::classification) {
    for (int64_t l : b.labels)
      if (l < 0) throw std::runtime_error("genre batch holds a clip without a genre label");
    t.labels = Tensor::from_vector(b.labels, {t.size});
  } else {
    const int64_t k = static_cast<int64_t>(task.target_columns.size());
    std::vector<float> y;
    y.reserve(t.size * k);
    for (int64_t i = 0; i < t.size; ++i)
      for (int c : task.target_columns) {
        const float v = b.targets[i * 3 + c];
        if (std::isnan(v))
          throw std::runtime_error("clip " + b.ids[i] + " has no " + target_column_name(c) +
                                   " label");
        y.push_back(v);
      }
    t.targets = Tensor::from_vector(y, {t.size, k});
  }
  return t;
}

BatchTensors to_device(const BatchTensors& host, Device device) {
  if (device.is_cpu()) return host;
  BatchTensors d = host;
  for (Tensor* t : {&d.x, &d.lengths, &d.labels, &d.targets})
    if (t->defined()) *t = t->to(device);
  return d;
}

Device network_device(const models::Network& net) {
  const std::vector<Tensor> params = net.parameters();
  return params.empty() ? Device::cpu() : params[0].device();
}

}  // namespace melgrad::experiments
