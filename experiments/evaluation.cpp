// Inference over a split and its metrics (see evaluation.h).
#include "experiments/evaluation.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/ops/ops.h"
#include "experiments/metrics.h"
#include "experiments/task_loss.h"

namespace melgrad::experiments {

std::vector<int64_t> Inference::predicted_classes() const {
  std::vector<int64_t> out;
  for (const auto& row : outputs)
    out.push_back(std::max_element(row.begin(), row.end()) - row.begin());
  return out;
}

std::vector<double> Inference::column(size_t c) const {
  std::vector<double> out;
  for (const auto& row : outputs) out.push_back(row.at(c));
  return out;
}

Inference run_inference(models::Network& net, const data::SubsetData& data,
                        const std::vector<int64_t>& clips, const Task& task,
                        const InputShape& shape, int64_t batch_size) {
  if (clips.empty()) throw std::runtime_error("inference: the split holds no clips");
  const bool was_training = net.is_training();
  net.eval();
  NoGradGuard no_grad;
  Inference inf;
  inf.truth.assign(task.kind == TaskKind::regression ? task.target_columns.size() : 0, {});
  const Device device = network_device(net);
  double loss_sum = 0;
  Tensor device_loss_sum;  // off the CPU the losses are summed there and read once
  for (size_t start = 0; start < clips.size(); start += batch_size) {
    std::vector<int64_t> chunk(clips.begin() + start,
                               clips.begin() + std::min(clips.size(), start + size_t(batch_size)));
    data::Batch b = data::make_batch(data, chunk, shape.pad_to, shape.crop_to);
    const BatchTensors host = batch_tensors(b, task);
    const BatchTensors t = to_device(host, device);
    Tensor out = net.forward(t.x, t.lengths);
    const Tensor loss = task_loss(out, t, task);
    if (device.is_cpu()) {
      loss_sum += loss.item() * double(t.size);
    } else {
      const Tensor weighted = loss * double(t.size);
      device_loss_sum = device_loss_sum.defined() ? device_loss_sum + weighted : weighted;
    }
    const std::vector<double> values = out.to_vector();
    const int64_t cols = out.size(1);
    for (int64_t i = 0; i < t.size; ++i) {
      inf.ids.push_back(b.ids[i]);
      inf.outputs.emplace_back(values.begin() + i * cols, values.begin() + (i + 1) * cols);
      if (task.kind == TaskKind::classification) inf.labels.push_back(b.labels[i]);
    }
    if (task.kind == TaskKind::regression) {
      const std::vector<double> y = host.targets.to_vector();
      const size_t k = task.target_columns.size();
      for (int64_t i = 0; i < t.size; ++i)
        for (size_t c = 0; c < k; ++c) inf.truth[c].push_back(y[i * k + c]);
    }
  }
  if (device_loss_sum.defined()) loss_sum = device_loss_sum.item();
  inf.mean_loss = loss_sum / double(clips.size());
  net.train(was_training);
  return inf;
}

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json task_metrics(const Inference& inf, const Task& task) {
  nlohmann::json m;
  if (task.kind == TaskKind::classification) {
    metrics::ClassificationReport r =
        metrics::classification_report(inf.labels, inf.predicted_classes(), task.classes);
    nlohmann::json per_class = nlohmann::json::object();
    for (size_t c = 0; c < r.classes.size(); ++c)
      per_class[r.classes[c]] = {{"precision", r.precision[c]},
                                 {"recall", r.recall[c]},
                                 {"f1", r.f1[c]},
                                 {"support", r.support[c]}};
    m = {{"accuracy", r.accuracy},   {"macro_f1", r.macro_f1}, {"weighted_f1", r.weighted_f1},
         {"classes", r.classes},     {"per_class", per_class}, {"confusion", r.confusion},
         {"test_clips", inf.clips()}};
    return m;
  }
  nlohmann::json rho = nlohmann::json::object(), p = nlohmann::json::object(),
                 mse = nlohmann::json::object();
  double rho_sum = 0;
  for (size_t c = 0; c < task.target_names.size(); ++c) {
    const std::vector<double> pred = inf.column(c);
    metrics::SpearmanResult s = metrics::spearman(inf.truth[c], pred);
    double se = 0;
    for (size_t i = 0; i < pred.size(); ++i)
      se += (pred[i] - inf.truth[c][i]) * (pred[i] - inf.truth[c][i]);
    rho[task.target_names[c]] = number_or_null(s.rho);
    p[task.target_names[c]] = number_or_null(s.pvalue);
    mse[task.target_names[c]] = se / double(pred.size());
    rho_sum += s.rho;
  }
  m = {{"spearman", rho},
       {"pvalue", p},
       {"mean_spearman", number_or_null(rho_sum / double(task.target_names.size()))},
       {"mse", mse},
       {"test_clips", inf.clips()}};
  return m;
}

nlohmann::json validation_fields(const Inference& inf, const Task& task) {
  if (task.kind == TaskKind::classification) {
    const std::vector<int64_t> pred = inf.predicted_classes();
    int64_t correct = 0;
    for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == inf.labels[i];
    return {{"val_accuracy", double(correct) / double(pred.size())}};
  }
  nlohmann::json rho = nlohmann::json::object();
  for (size_t c = 0; c < task.target_names.size(); ++c)
    rho[task.target_names[c]] = number_or_null(metrics::spearman(inf.truth[c], inf.column(c)).rho);
  return {{"val_spearman", rho}};
}

nlohmann::json predictions_json(const Inference& inf, const Task& task) {
  if (task.kind == TaskKind::classification)
    return {{"classes", task.classes},
            {"ids", inf.ids},
            {"truth", inf.labels},
            {"predicted", inf.predicted_classes()}};
  nlohmann::json truth = nlohmann::json::object(), pred = nlohmann::json::object();
  for (size_t c = 0; c < task.target_names.size(); ++c) {
    truth[task.target_names[c]] = inf.truth[c];
    pred[task.target_names[c]] = inf.column(c);
  }
  return {{"targets", task.target_names}, {"ids", inf.ids}, {"truth", truth}, {"predicted", pred}};
}

}  // namespace melgrad::experiments
