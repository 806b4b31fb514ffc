// CpuBackend: the composite ops (engine/backend.h), each a fixed sequence of this backend's
// primitives or one loop, with its backward beside it:
//   softmax       x [..., C, ...] along dim: exp(x - max) / sum, and log_softmax
//                 (x - max) - log(sum(exp(x - max))); the sequences the op composed of
//                 primitive ops before, so the numbers are those of the primitive kernels;
//   dropout       x * mask with the Philox mask (common/random.h, the CUDA
//                 kernel's), kept for the backward (one pass of the generator per call);
//   cross_entropy logits [N, C], targets int64 [N], weights [C] or undefined:
//                 -mean(log_softmax(logits)[i, t_i]) or its weighted mean, and the backward
//                 through the same steps (gather's backward is a scatter_add into zeros);
//   check_range   reads the values and throws at once, naming the op and the value;
//   step graphs   a CPU records none: capture_step answers null and says why.
// Also supports(): the CPU runs every op of the registry in every dtype it takes.
#include <stdexcept>
#include <string>

#include "common/random.h"
#include "engine/cpu/cpu_backend.h"

namespace melgrad::cpu {

namespace {

// The keepdim shape of a reduction over `dim`.
Shape reduced_shape(const Shape& s, int64_t dim) {
  Shape out = s;
  out[dim] = 1;
  return out;
}

// A 0-d view of a one-element tensor (a full reduction's keepdim result).
Tensor as_scalar(const Tensor& t) { return t.as_strided({}, {}, t.offset()); }

// x (contiguous) viewed as `shape`, which has x's element count.
Tensor contiguous_view(const Tensor& x, const Shape& shape) {
  const Tensor c = contiguous_copy(x);
  return c.as_strided(shape, contiguous_strides(shape), c.offset());
}

// Dropout's mask in x's dtype: 0 where philox_uniform(seed, i) < p, else 1 / (1 - p).
Tensor dropout_mask(const Tensor& x, double p, uint64_t seed) {
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    T* m = mask.data<T>();
    const T keep = T(1.0 / (1.0 - p));
    const float pf = float(p);
    // One plain loop on the calling thread: the same loop split by parallel_range compiled
    // to code twice as slow (measured), more than a second thread wins back here.
    const int64_t n = mask.numel();
    for (int64_t i = 0; i < n; i += 4) {
      const PhiloxBlock r = philox4x32_10(uint64_t(i) / 4, seed);
      for (int64_t j = 0; j < 4 && i + j < n; ++j)
        m[i + j] = philox_to_unit(r[j]) >= pf ? keep : T(0);
    }
  });
  return mask;
}

}  // namespace

bool CpuBackend::supports(const std::string& /*op*/, DType /*dtype*/) const {
  // Every op of the registry has CPU kernels for each dtype it accepts (the ops refuse the
  // others themselves, e.g. int64 for exp, naming the op).
  return true;
}

// ---- softmax ----------------------------------------------------------------------------

Tensor CpuBackend::softmax(const Tensor& x, int64_t dim, bool log) {
  const Shape& s = x.shape();
  const Tensor m = Tensor::empty(reduced_shape(s, dim), x.dtype());
  reduce(ReduceOp::max, x, m);
  Tensor shifted = Tensor::empty(s, x.dtype());
  binary(BinaryOp::sub, x, broadcast_view(m, s), shifted);
  Tensor e = Tensor::empty(s, x.dtype());
  unary(UnaryOp::exp, shifted, e, 0, 0);
  Tensor total = Tensor::empty(m.shape(), x.dtype());
  reduce(ReduceOp::sum, e, total);
  Tensor y = Tensor::empty(s, x.dtype());
  if (!log) {
    binary(BinaryOp::div, e, broadcast_view(total, s), y);
    return y;
  }
  Tensor log_total = Tensor::empty(m.shape(), x.dtype());
  unary(UnaryOp::log, total, log_total, 0, 0);
  binary(BinaryOp::sub, shifted, broadcast_view(log_total, s), y);
  return y;
}

Tensor CpuBackend::softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim, bool log) {
  const Shape& s = y.shape();
  Tensor dx = Tensor::empty(s, y.dtype());
  Tensor total = Tensor::empty(reduced_shape(s, dim), y.dtype());
  Tensor term = Tensor::empty(s, y.dtype());
  if (log) {  // dx = dy - exp(y) * sum(dy)
    Tensor e = Tensor::empty(s, y.dtype());
    unary(UnaryOp::exp, y, e, 0, 0);
    reduce(ReduceOp::sum, dy, total);
    binary(BinaryOp::mul, e, broadcast_view(total, s), term);
    binary(BinaryOp::sub, dy, term, dx);
    return dx;
  }
  Tensor gy = Tensor::empty(s, y.dtype());  // dx = dy * y - y * sum(dy * y)
  binary(BinaryOp::mul, dy, y, gy);
  reduce(ReduceOp::sum, gy, total);
  binary(BinaryOp::mul, y, broadcast_view(total, s), term);
  binary(BinaryOp::sub, gy, term, dx);
  return dx;
}

// ---- dropout ----------------------------------------------------------------------------

std::vector<Tensor> CpuBackend::dropout(const Tensor& x, double p, uint64_t seed,
                                        const uint64_t* /*seed_on_device: never set here*/) {
  const Tensor mask = dropout_mask(x, p, seed);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  binary(BinaryOp::mul, x, mask, y);
  return {y, mask};
}

Tensor CpuBackend::dropout_backward(const Tensor& dy, const std::vector<Tensor>& saved,
                                    double /*p*/, uint64_t /*seed*/,
                                    const uint64_t* /*seed_on_device*/) {
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
  binary(BinaryOp::mul, dy, saved.at(0), dx);
  return dx;
}

// ---- cross-entropy ------------------------------------------------------------------------
// saved = {log-probabilities [N, C], picked log-probabilities [N], picked weights [N] and
// their sum [] (both undefined without weights)}.

std::vector<Tensor> CpuBackend::cross_entropy(const Tensor& logits, const Tensor& targets,
                                              const Tensor& weights) {
  const int64_t N = logits.size(0);
  const DType dt = logits.dtype();
  const Tensor log_probs = softmax(logits, 1, true);
  Tensor picked = Tensor::empty({N, 1}, dt);
  gather(log_probs, 1, contiguous_view(targets, {N, 1}), picked);
  picked = picked.as_strided({N}, {1}, 0);
  const Tensor total = Tensor::empty({1}, dt);
  Tensor loss = Tensor::empty({}, dt);
  if (!weights.defined()) {  // -(sum * (1 / N))
    Tensor mean = Tensor::empty({}, dt);
    reduce(ReduceOp::sum, picked, total);
    unary(UnaryOp::affine, as_scalar(total), mean, 1.0 / static_cast<double>(N), 0.0);
    unary(UnaryOp::neg, mean, loss, 0, 0);
    return {loss, log_probs, picked, Tensor(), Tensor()};
  }
  // -sum(picked * w[t]) / sum(w[t])
  Tensor picked_weights = Tensor::empty({N}, dt), weighted = Tensor::empty({N}, dt);
  index_select(weights, 0, targets, picked_weights);
  binary(BinaryOp::mul, picked, picked_weights, weighted);
  reduce(ReduceOp::sum, weighted, total);
  Tensor negated = Tensor::empty({}, dt);
  unary(UnaryOp::neg, as_scalar(total), negated, 0, 0);
  const Tensor weight_sum = Tensor::empty({1}, dt);
  reduce(ReduceOp::sum, picked_weights, weight_sum);
  binary(BinaryOp::div, negated, as_scalar(weight_sum), loss);
  return {loss, log_probs, picked, picked_weights, as_scalar(weight_sum)};
}

std::vector<Tensor> CpuBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                                       const Tensor& weights, const Tensor& loss,
                                                       const std::vector<Tensor>& saved,
                                                       const Tensor& grad_loss, bool weights_grad) {
  const int64_t N = logits.size(0);
  const DType dt = logits.dtype();
  const Tensor &log_probs = saved.at(0), &picked = saved.at(1);
  const Tensor &picked_weights = saved.at(2), &weight_sum = saved.at(3);
  // The gradient of each picked log-probability, [N].
  Tensor grad_picked = Tensor::empty({N}, dt);
  Tensor negated = Tensor::empty({}, dt);
  if (!weights.defined()) {  // (1 / N) * -g
    unary(UnaryOp::neg, grad_loss, negated, 0, 0);
    Tensor scaled = Tensor::empty({}, dt);
    unary(UnaryOp::affine, negated, scaled, 1.0 / static_cast<double>(N), 0.0);
    grad_picked = broadcast_view(scaled, {N});
  } else {  // -(g / sum(w[t])) * w[t]
    Tensor quotient = Tensor::empty({}, dt);
    binary(BinaryOp::div, grad_loss, weight_sum, quotient);
    unary(UnaryOp::neg, quotient, negated, 0, 0);
    binary(BinaryOp::mul, broadcast_view(negated, {N}), picked_weights, grad_picked);
  }
  // gather's backward: the picked gradients scattered into zeros, then log_softmax's.
  Tensor grad_log_probs = Tensor::empty(logits.shape(), dt);
  fill(grad_log_probs, 0.0);
  scatter_add(grad_log_probs, 1, contiguous_view(targets, {N, 1}),
              grad_picked.as_strided({N, 1}, {grad_picked.strides()[0], 1}, grad_picked.offset()));
  Tensor dlogits = softmax_backward(log_probs, grad_log_probs, 1, true);
  if (!weights_grad) return {dlogits, Tensor()};
  return {dlogits, cross_entropy_weights_grad(*this, picked, targets, loss, weight_sum, grad_loss,
                                              weights.size(0))};
}

// ---- range checks and step graphs -----------------------------------------------------------

void CpuBackend::check_range(const Tensor& values, int64_t lo, int64_t hi, RangeCheck kind,
                             const std::string& op) {
  if (values.dtype() != DType::i64)
    throw std::invalid_argument(op + ": expected int64 values to check, got " + values.str());
  const Tensor v = contiguous_copy(values);
  const int64_t* p = v.data<int64_t>();
  for (int64_t i = 0; i < v.numel(); ++i) {
    if (p[i] >= lo && p[i] <= hi) continue;
    const std::string value = std::to_string(p[i]);
    if (kind == RangeCheck::class_target)
      throw std::invalid_argument(op + ": target class " + value + " out of range for " +
                                  std::to_string(hi + 1) + " classes");
    throw std::invalid_argument(op + ": length " + value + " is outside [" + std::to_string(lo) +
                                ", T = " + std::to_string(hi) + "]");
  }
}

std::unique_ptr<StepGraph> CpuBackend::capture_step(const std::function<void()>& /*step*/,
                                                    std::string& why_not) {
  why_not = "the cpu backend has no step graphs";
  return nullptr;
}

const uint64_t* CpuBackend::recording_dropout_seed(Generator& /*gen*/, uint64_t /*seed*/) {
  return nullptr;  // nothing is ever being recorded on the CPU
}

}  // namespace melgrad::cpu
