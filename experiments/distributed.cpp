// Data-parallel training's pieces (see distributed.h).
#include "experiments/distributed.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "datasets/clip_stream.h"
#include "engine/autograd.h"
#include "engine/ops/ops.h"

namespace melgrad::experiments {

GradientBuckets::GradientBuckets(dist::Transport& transport, std::vector<Tensor> params,
                                 int64_t bucket_bytes)
    : transport_(transport), params_(std::move(params)) {
  if (bucket_bytes <= 0) throw std::invalid_argument("--bucket-mb must be positive");
  int64_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    if (p.dtype() != DType::f32)
      throw std::invalid_argument("data-parallel training: parameter " + std::to_string(k) +
                                  " is " + p.str() + "; gradients are reduced in float32");
    if (buckets_.empty() || bytes >= bucket_bytes) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params_[b.params.back()].numel());
    b.params.push_back(k);
    bucket_of_[&p.impl()] = buckets_.size() - 1;
    bytes += p.numel() * 4;
  }
  for (Bucket& b : buckets_) {
    const int64_t total = b.offsets.back() + params_[b.params.back()].numel();
    b.flat = Tensor::zeros({total}, DType::f32, params_[b.params.front()].device());
  }
}

double GradientBuckets::ms_since_step_start() const {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - step_start_)
      .count();
}

void GradientBuckets::begin_step(double weight) {
  weight_ = weight;
  next_to_start_ = 0;
  step_start_ = std::chrono::steady_clock::now();
  timings_.assign(buckets_.size(), {});
  backward_end_ms_ = 0;
  for (Bucket& b : buckets_) {
    b.ready = 0;
    b.pending.reset();
  }
}

LeafGradReadyGuard GradientBuckets::guard() {
  // Only on the CPU: on a device the backward may be a recorded graph (no hook runs) and
  // packing inside a recording would be recorded too; there the buckets start in finish().
  if (!buckets_.empty() && !buckets_.front().flat.device().is_cpu())
    return LeafGradReadyGuard(nullptr);
  return LeafGradReadyGuard([this](TensorImpl& leaf) { on_ready(leaf); });
}

void GradientBuckets::on_ready(TensorImpl& leaf) {
  auto it = bucket_of_.find(&leaf);
  if (it == bucket_of_.end()) return;  // a leaf that is not trained (frozen or an input)
  ++buckets_[it->second].ready;
  // Buckets start in order (every rank must start the same collectives in the same order).
  while (next_to_start_ < buckets_.size() &&
         buckets_[next_to_start_].ready == buckets_[next_to_start_].params.size())
    start(buckets_[next_to_start_++]);
  // MPI progress (also made by the transport's progress thread) and the completion times.
  for (size_t i = 0; i < next_to_start_; ++i)
    if (timings_[i].done_ms < 0 && buckets_[i].pending->test())
      timings_[i].done_ms = ms_since_step_start();
}

void GradientBuckets::start(Bucket& b) {
  timings_[size_t(&b - buckets_.data())].started_ms = ms_since_step_start();
  NoGradGuard no_grad;
  const bool cpu = b.flat.device().is_cpu();
  b.direct = Tensor();
  if (cpu && b.params.size() == 1) {  // e.g. a large FC weight alone: scale and sum in place
    Tensor g = params_[b.params[0]].grad();
    if (g.defined() && g.is_contiguous() && g.dtype() == DType::f32) {
      float* data = g.data<float>();
      const float w = static_cast<float>(weight_);
      for (int64_t i = 0, n = g.numel(); i < n; ++i) data[i] *= w;
      b.direct = g;
      b.pending = transport_.all_reduce_start(b.direct);
      return;
    }
  }
  for (size_t j = 0; j < b.params.size(); ++j) {
    const Tensor& p = params_[b.params[j]];
    const Tensor g = p.grad();
    const int64_t n = p.numel();
    Tensor slot = b.flat.narrow(0, b.offsets[j], n);
    if (!g.defined()) {  // no gradient this step (an unused head): contributes zeros
      slot.fill_(0);
    } else if (cpu && g.is_contiguous()) {
      const float* src = g.data<float>();
      float* dst = slot.data<float>();
      const float w = static_cast<float>(weight_);
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i] * w;
    } else {
      slot.copy_(g.reshape({n}) * weight_);
    }
  }
  b.pending = transport_.all_reduce_start(b.flat);
}

void GradientBuckets::finish() {
  backward_end_ms_ = ms_since_step_start();
  while (next_to_start_ < buckets_.size()) start(buckets_[next_to_start_++]);
  NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    b.pending->wait();
    BucketTiming& t = timings_[size_t(&b - buckets_.data())];
    if (t.done_ms < 0) t.done_ms = ms_since_step_start();
    if (b.direct.defined()) continue;  // the gradient itself holds the sum
    for (size_t j = 0; j < b.params.size(); ++j) {
      Tensor& p = params_[b.params[j]];
      const Tensor sum = b.flat.narrow(0, b.offsets[j], p.numel()).view(p.shape());
      Tensor g = p.grad();
      if (!g.defined())
        p.set_grad(sum.clone());
      else
        g.copy_(sum);
    }
  }
}

void broadcast_state(dist::Transport& transport, nn::Module& module) {
  if (transport.size() == 1) return;
  NoGradGuard no_grad;
  for (auto& [name, t] : module.state()) {
    Tensor x = t.contiguous();  // t itself when contiguous: broadcast in place
    dist::transport_for(x.device()).broadcast(x, 0);
    if (!t.is_contiguous()) t.copy_(x);
  }
}

namespace {

// CBOR keeps every double exactly, NaN (an unlabelled target) included.
std::string inference_bytes(const Inference& inf) {
  const nlohmann::json j = {{"ids", inf.ids},
                            {"labels", inf.labels},
                            {"truth", inf.truth},
                            {"outputs", inf.outputs},
                            {"loss_sum", inf.mean_loss * double(inf.clips())}};
  const std::vector<uint8_t> cbor = nlohmann::json::to_cbor(j);
  return std::string(cbor.begin(), cbor.end());
}

}  // namespace

Inference run_inference_sharded(models::Network& net, const data::SubsetData& data,
                                const std::vector<int64_t>& clips, const Task& task,
                                const InputShape& shape, int64_t batch_size) {
  dist::Transport& world = dist::world();
  if (world.size() == 1) return run_inference(net, data, clips, task, shape, batch_size);
  if (clips.empty()) throw std::runtime_error("inference: the split holds no clips");
  // Whole batches per rank (a contiguous range of them): a network normalising with batch
  // statistics in eval (the study's BatchNorm) then sees the single process's batches.
  const int64_t n = int64_t(clips.size()), batches = (n + batch_size - 1) / batch_size;
  const data::ShardRange part = data::shard_of(batches, world.rank(), world.size());
  const data::ShardRange mine{std::min(n, part.begin * batch_size),
                              std::min(n, part.end * batch_size)};
  Inference local;
  local.truth.assign(task.kind == TaskKind::regression ? task.target_columns.size() : 0, {});
  if (mine.size() > 0)
    local = run_inference(
        net, data, std::vector<int64_t>(clips.begin() + mine.begin, clips.begin() + mine.end), task,
        shape, batch_size);
  Inference all;
  all.truth.assign(local.truth.size(), {});
  double loss_sum = 0;
  for (const std::string& part : world.all_gather_bytes(inference_bytes(local))) {
    const nlohmann::json j = nlohmann::json::from_cbor(part);
    for (const auto& id : j["ids"]) all.ids.push_back(id.get<std::string>());
    for (const auto& l : j["labels"]) all.labels.push_back(l.get<int64_t>());
    for (size_t c = 0; c < all.truth.size(); ++c)
      for (const auto& v : j["truth"][c]) all.truth[c].push_back(v.get<double>());
    for (const auto& row : j["outputs"]) all.outputs.push_back(row.get<std::vector<double>>());
    loss_sum += j["loss_sum"].get<double>();
  }
  all.mean_loss = loss_sum / double(clips.size());
  return all;
}

namespace {

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::string hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

// This executable's bytes: two ranks of different builds differ here.
std::string build_fingerprint() {
  std::ifstream exe("/proc/self/exe", std::ios::binary);
  if (!exe) return "unknown";
  std::vector<char> buffer(1 << 20);
  uint64_t h = 1469598103934665603ull;
  while (exe.read(buffer.data(), std::streamsize(buffer.size())) || exe.gcount() > 0)
    h = fnv1a(buffer.data(), size_t(exe.gcount()), h);
  return hex(h);
}

// Values: every 61st value of up to 256 clips spread over the set, read from memory or from
// the HDF5 cache (streamed), so ranks that hold the data and ranks that stream it agree.
nlohmann::json data_fingerprint(const data::SubsetData& data) {
  uint64_t ids = 1469598103934665603ull, values = ids;
  for (const data::Clip& c : data.clips) {
    ids = fnv1a(c.id.data(), c.id.size(), ids);
    ids = fnv1a(&c.frames, sizeof c.frames, ids);
    ids = fnv1a(&c.label, sizeof c.label, ids);
  }
  const size_t step = std::max<size_t>(1, data.clips.size() / 256);
  std::vector<int64_t> sample;
  for (size_t i = 0; i < data.clips.size(); i += step) sample.push_back(int64_t(i));
  const std::vector<std::vector<float>> streamed =
      data.stream ? data.stream->read(sample) : std::vector<std::vector<float>>{};
  for (size_t k = 0; k < sample.size(); ++k) {
    const std::vector<float>& v = data.stream ? streamed[k] : data.clips[size_t(sample[k])].values;
    for (size_t i = 0; i < v.size(); i += 61) values = fnv1a(&v[i], sizeof(float), values);
  }
  return {{"clips", data.clips.size()},
          {"feature_dim", data.feature_dim},
          {"ids", hex(ids)},
          {"values", hex(values)}};
}

}  // namespace

void check_same_run(const nlohmann::json& config, const data::SubsetData& data) {
  dist::Transport& world = dist::world();
  if (world.size() == 1) return;
  nlohmann::json mine = {
      {"config", config}, {"data", data_fingerprint(data)}, {"build", build_fingerprint()}};
  mine["config"].erase("started");
  const std::vector<std::string> all = world.all_gather_bytes(mine.dump());
  const nlohmann::json reference = nlohmann::json::parse(all[0]);
  for (size_t r = 1; r < all.size(); ++r) {
    const nlohmann::json other = nlohmann::json::parse(all[r]);
    const nlohmann::json patch = nlohmann::json::diff(reference, other);
    if (patch.empty()) continue;
    const std::string path = patch[0].at("path").get<std::string>();
    const nlohmann::json::json_pointer pointer(path);
    const std::string on0 = reference.contains(pointer) ? reference.at(pointer).dump() : "absent";
    const std::string onr = other.contains(pointer) ? other.at(pointer).dump() : "absent";
    const std::string field =
        path.rfind("/config/", 0) == 0 ? "config.json field " + path.substr(7) : path;
    const std::string what = path.rfind("/build", 0) == 0  ? "a different build of melgrad"
                             : path.rfind("/data", 0) == 0 ? "different data"
                                                           : "a different configuration";
    throw std::runtime_error(
        "rank " + std::to_string(r) + " was started with " + what + " than rank 0: " + field +
        " is " + onr + " on rank " + std::to_string(r) + " and " + on0 +
        " on rank 0; start every rank with the same command, data and program");
  }
}

void wait_for_rank0(bool before) {
  dist::Transport& world = dist::world();
  if (world.size() == 1 || (world.rank() == 0) == before) return;
  const double timeout = world.timeout();
  world.set_timeout(3600);
  world.barrier();
  world.set_timeout(timeout);
}

}  // namespace melgrad::experiments
