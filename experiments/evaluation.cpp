// Tasks, losses, inference and metrics (see evaluation.h).
#include "experiments/evaluation.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/ops/loss.h"
#include "engine/ops/ops.h"
#include "experiments/metrics.h"

namespace melgrad::experiments {

static const std::vector<std::string> kTargetNames = {"valence", "energy", "danceability"};

int64_t Task::outputs() const {
  return kind == TaskKind::classification ? static_cast<int64_t>(classes.size())
                                          : static_cast<int64_t>(target_columns.size());
}

Task classification_task(const std::vector<std::string>& classes) {
  if (classes.size() < 2) throw std::invalid_argument("classification task: needs at least two classes");
  Task t;
  t.kind = TaskKind::classification;
  t.classes = classes;
  return t;
}

Task regression_task(const std::vector<std::string>& targets, const std::vector<double>& weights,
                     const std::string& loss) {
  if (targets.empty()) throw std::invalid_argument("regression task: needs at least one target");
  if (!weights.empty() && weights.size() != targets.size())
    throw std::invalid_argument("regression task: " + std::to_string(weights.size()) + " loss weights for " +
                                std::to_string(targets.size()) + " targets");
  if (loss != "mse" && loss != "l1" && loss != "smooth_l1")
    throw std::invalid_argument("regression task: unknown loss '" + loss + "' (mse, l1 or smooth_l1)");
  Task t;
  t.kind = TaskKind::regression;
  t.loss = loss;
  for (const std::string& name : targets) {
    auto it = std::find(kTargetNames.begin(), kTargetNames.end(), name);
    if (it == kTargetNames.end())
      throw std::invalid_argument("unknown target '" + name + "' (valence, energy or danceability)");
    t.target_columns.push_back(static_cast<int>(it - kTargetNames.begin()));
    t.target_names.push_back(name);
  }
  t.target_weights = weights.empty() ? std::vector<double>(targets.size(), 1.0) : weights;
  return t;
}

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
          throw std::runtime_error("clip " + b.ids[i] + " has no " + kTargetNames[c] + " label");
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

static Tensor regression_loss(const Tensor& pred, const Tensor& target, const std::string& loss) {
  if (loss == "l1") return l1_loss(pred, target);
  if (loss == "smooth_l1") return smooth_l1_loss(pred, target);
  return mse_loss(pred, target);
}

Tensor task_loss(const Tensor& outputs, const BatchTensors& b, const Task& task) {
  if (outputs.dim() != 2 || outputs.size(0) != b.size || outputs.size(1) != task.outputs())
    throw std::invalid_argument("task loss: network output " + outputs.str() + " does not match [" +
                                std::to_string(b.size) + ", " + std::to_string(task.outputs()) + "]");
  if (task.kind == TaskKind::classification) return cross_entropy(outputs, b.labels);
  if (task.target_columns.size() == 1) return regression_loss(outputs, b.targets, task.loss);
  std::vector<Tensor> losses;
  for (int64_t k = 0; k < task.outputs(); ++k)
    losses.push_back(regression_loss(outputs.narrow(1, k, 1), b.targets.narrow(1, k, 1), task.loss));
  return weighted_sum(losses, task.target_weights);
}

std::vector<int64_t> Inference::predicted_classes() const {
  std::vector<int64_t> out;
  for (const auto& row : outputs) out.push_back(std::max_element(row.begin(), row.end()) - row.begin());
  return out;
}

std::vector<double> Inference::column(size_t c) const {
  std::vector<double> out;
  for (const auto& row : outputs) out.push_back(row.at(c));
  return out;
}

Inference run_inference(models::Network& net, const data::SubsetData& data, const std::vector<int64_t>& clips,
                        const Task& task, const InputShape& shape, int64_t batch_size) {
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

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json task_metrics(const Inference& inf, const Task& task) {
  nlohmann::json m;
  if (task.kind == TaskKind::classification) {
    metrics::ClassificationReport r = metrics::classification_report(inf.labels, inf.predicted_classes(), task.classes);
    nlohmann::json per_class = nlohmann::json::object();
    for (size_t c = 0; c < r.classes.size(); ++c)
      per_class[r.classes[c]] = {{"precision", r.precision[c]}, {"recall", r.recall[c]}, {"f1", r.f1[c]},
                                 {"support", r.support[c]}};
    m = {{"accuracy", r.accuracy}, {"macro_f1", r.macro_f1},     {"weighted_f1", r.weighted_f1},
         {"classes", r.classes},   {"per_class", per_class},     {"confusion", r.confusion},
         {"test_clips", inf.clips()}};
    return m;
  }
  nlohmann::json rho = nlohmann::json::object(), p = nlohmann::json::object(), mse = nlohmann::json::object();
  double rho_sum = 0;
  for (size_t c = 0; c < task.target_names.size(); ++c) {
    const std::vector<double> pred = inf.column(c);
    metrics::SpearmanResult s = metrics::spearman(inf.truth[c], pred);
    double se = 0;
    for (size_t i = 0; i < pred.size(); ++i) se += (pred[i] - inf.truth[c][i]) * (pred[i] - inf.truth[c][i]);
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
    return {{"classes", task.classes}, {"ids", inf.ids}, {"truth", inf.labels}, {"predicted", inf.predicted_classes()}};
  nlohmann::json truth = nlohmann::json::object(), pred = nlohmann::json::object();
  for (size_t c = 0; c < task.target_names.size(); ++c) {
    truth[task.target_names[c]] = inf.truth[c];
    pred[task.target_names[c]] = inf.column(c);
  }
  return {{"targets", task.target_names}, {"ids", inf.ids}, {"truth", truth}, {"predicted", pred}};
}

}  // namespace melgrad::experiments
