// Backend: everything one device computes, the one route from an op to a device. Ops
// (engine/ops, engine/optim) do shape logic and autograd, then call backend_for(device) with
// no device branch. Every method is pure virtual and every backend implements all of them:
// the primitives (fill, copy, unary, binary, reduce, matmul, indexing, random), the
// composite ops (softmax, dropout, cross-entropy, optimiser steps, check_range, step
// graphs) and the layer kernels (conv2d, pool2d, batch_norm, the LSTM layer), each with its
// backward. Outputs are allocated by the caller; inputs may be strided views unless a
// method says "contiguous". What a backend cannot do it says in supports(op, dtype), and a
// call it cannot serve throws through unsupported(), the one "not here".
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/elementwise_ops.h"  // UnaryOp, BinaryOp, ReduceOp
#include "common/layer_shapes.h"
#include "engine/generator.h"
#include "engine/tensor.h"

namespace melgrad {

// One Adam/AdamW step's hyper-parameters (engine/optim/optim.h's update rule); step counts
// from 1.
struct AdamStepArgs {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled_weight_decay;
  int64_t step;
};

// One SGD step's hyper-parameters (engine/optim/optim.h's update rule, PyTorch's).
struct SgdStepArgs {
  double lr, momentum, weight_decay;
  bool nesterov;
  bool first_step;  // the momentum buffer is new: it starts as the gradient
};

// What a deferred range check guards (Backend::check_range), for its error message.
enum class RangeCheck { class_target, sequence_length };

// One LSTM layer of D = reverse.size() directions (engine/ops/lstm.h), for lstm_forward/backward.
// All tensors contiguous, on the backend's device, allocated by the op.
struct LstmLayerTensors {
  Tensor x;                     // [N, T, I]
  Tensor lengths;               // int64 [N], 1 <= len <= T (the op checks them with check_range)
  std::vector<Tensor> weights;  // w_ih [4H, I], w_hh [4H, H], b_ih [4H], b_hh [4H] per direction
  std::vector<bool> reverse;    // per direction
  Tensor output;                // [N, T, D*H], zero at t >= len (written by the forward)
  Tensor h_n, c_n;              // [D, N, H] ([N, H] when D = 1)
  Tensor gates;                 // [N, T, D*4H]: the activated gates the backward reads
  Tensor cells;                 // [N, T, D*H]: the cell states, or undefined (no backward)
};
struct LstmLayerGradients {
  Tensor grad_output, grad_h_n, grad_c_n;  // the outputs' gradients (output's, h_n's shapes)
  // Written (not accumulated); an undefined tensor is skipped. Per direction for weights.
  Tensor grad_x;
  std::vector<Tensor> grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh;
};

// batch_norm_forward/backward's arguments (engine/ops/cnn.h's batch_norm), x [N, C, ...].
struct BatchNormTensors {
  Tensor x, weight, bias;            // weight, bias [C] or undefined (1, 0)
  Tensor running_mean, running_var;  // [C] or undefined; updated in place in training
  bool training = true;
  double momentum = 0.1, eps = 1e-5;
  Tensor y;                       // x's shape
  Tensor save_mean, save_invstd;  // [C]: the statistics the forward used (batch or running)
};

// A recorded training step (a CUDA graph, Backend::capture_step): replay() reruns its device
// work on the same memory, with fresh dropout seeds. Destroying it frees what it reserved.
class StepGraph {
 public:
  virtual ~StepGraph() = default;
  virtual void replay() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // What the device is, for output: "CPU", the GPU's name, or "kernel emulator".
  virtual std::string device_name() const = 0;
  // Returns once the work queued on the device is done (the CPU's is done when each call
  // returns); throws an error a kernel recorded. Timing device work needs it.
  virtual void synchronize() = 0;

  virtual void fill(const Tensor& out, double value) = 0;
  // dst = src, shapes equal, any strides and dtypes.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  // out = f(x): x and out have the same shape.
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) = 0;
  // out = a (op) b: a and b already expanded to out's shape (stride 0 on broadcast dims).
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out = cond != 0 ? a : b, all expanded to out's shape.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out has x's rank with size 1 on the reduced dims.
  virtual void reduce(ReduceOp op, const Tensor& x, const Tensor& out) = 0;
  // out (int64, keepdim shape) = index of the first maximum along dim.
  virtual void argmax(const Tensor& x, int64_t dim, const Tensor& out) = 0;
  // out[b] = a[b] @ b[b]: a [B, M, K], b [B, K, N] (any strides, batch stride may be 0),
  // out [B, M, N] contiguous.
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out = x.index_select(dim, index); index int64 [L]; out contiguous.
  virtual void index_select(const Tensor& x, int64_t dim, const Tensor& index,
                            const Tensor& out) = 0;
  // out.index_select(dim, index) += src  (duplicates accumulate).
  virtual void index_add(const Tensor& out, int64_t dim, const Tensor& index,
                         const Tensor& src) = 0;
  // out[.., i, ..] = x[.., index[.., i, ..], ..] along dim; index has out's shape.
  virtual void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) = 0;
  // out[.., index[.., i, ..], ..] += src[.., i, ..] along dim.
  virtual void scatter_add(const Tensor& out, int64_t dim, const Tensor& index,
                           const Tensor& src) = 0;
  // Fills with uniform [lo, hi) or normal(mean, std) from `gen`, in row-major order.
  virtual void random(const Tensor& out, Generator& gen, bool normal, double a, double b) = 0;

  // ---- what this backend runs --------------------------------------------------------
  // Whether this backend has kernels for the registry op `op` (OpInfo::name) computing in
  // `dtype`. check_device (engine/registry.h) asks it before every op, and the registry
  // walking tests take their device lists from it. An op a backend does not support, if
  // called anyway, throws through unsupported().
  virtual bool supports(const std::string& op, DType dtype) const = 0;

  // ---- composite ops ----------------------------------------------------------------
  // One kernel (or a fixed sequence of this backend's primitives) per composite op, with
  // its backward beside it; ops (engine/ops) record the graph node, no autograd here.
  // Results are allocated by the backend and contiguous.
  //
  // y = softmax(x) (log: log_softmax) along dim, x's shape.
  virtual Tensor softmax(const Tensor& x, int64_t dim, bool log) = 0;
  // dx for y = softmax(x) (y * (dy - sum(dy * y))) or log_softmax (dy - exp(y) * sum(dy)).
  virtual Tensor softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim, bool log) = 0;
  // Inverted dropout y = x * mask with ops/dropout.cpp's Philox mask for `seed` (element i
  // of x in row-major order kept iff philox_uniform(seed, i) >= p, scaled by 1 / (1 - p)):
  // returns {y, saved...}, what the backward reads besides the seed (the CPU keeps the
  // mask; CUDA keeps nothing and regenerates it). dx = dy * mask. `seed_on_device` (from
  // recording_dropout_seed, while a step graph is recorded; else null): the kernels read
  // the seed from there when they run.
  virtual std::vector<Tensor> dropout(const Tensor& x, double p, uint64_t seed,
                                      const uint64_t* seed_on_device) = 0;
  virtual Tensor dropout_backward(const Tensor& dy, const std::vector<Tensor>& saved, double p,
                                  uint64_t seed, const uint64_t* seed_on_device) = 0;
  // Mean cross-entropy of logits [N, C] against int64 targets [N] in [0, C) (checked by
  // the caller through check_range), with optional class weights [C] (ops/loss.h):
  // returns {loss [], saved...}, what the backward reads besides the inputs.
  virtual std::vector<Tensor> cross_entropy(const Tensor& logits, const Tensor& targets,
                                            const Tensor& weights) = 0;
  // {dlogits [N, C], dweights [C]} = grad_loss * dloss/d(logits, weights); dweights only
  // when `weights_grad` (else undefined). `loss` is the forward's result.
  virtual std::vector<Tensor> cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                                     const Tensor& weights, const Tensor& loss,
                                                     const std::vector<Tensor>& saved,
                                                     const Tensor& grad_loss,
                                                     bool weights_grad) = 0;

  // ---- optimiser steps (engine/optim) ------------------------------------------------
  // One Adam step over parameters with their gradients and moments (each list the same
  // length; all contiguous, on this device), updated in place.
  virtual void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                         const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq,
                         const AdamStepArgs& args) = 0;
  // One SGD step of one parameter (contiguous, with its gradient), in place; `momentum_buf`
  // (p's shape, undefined without momentum) is set to the gradient on the first step.
  virtual void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buf,
                        const SgdStepArgs& args) = 0;
  // Scales the gradients (in place) by min(1, max_norm / (norm + 1e-6)), norm their joint
  // L2 norm, and returns the norm as a 0-d tensor on this device. A NaN or infinite norm:
  // the CPU (which has read it) throws at once, "clip_grad_norm: the gradient norm is nan";
  // a device does not wait for it (the gradients turn NaN) and the caller reports it.
  virtual Tensor clip_grad_norm(const std::vector<Tensor>& grads, double max_norm) = 0;

  // Checks lo <= v <= hi for every value of an int64 tensor for the op `op`. The CPU reads
  // the values and throws at once, naming op and value; a device reports a violation at its
  // next synchronisation (a copy to the host), naming `kind`, so a training step never
  // waits for it.
  virtual void check_range(const Tensor& values, int64_t lo, int64_t hi, RangeCheck kind,
                           const std::string& op) = 0;

  // ---- step graphs ------------------------------------------------------------------
  // Records the device work that `step` queues (it must not read device memory back) into
  // a graph, runs it once, and returns it: replay() repeats that work on the same tensors.
  // Memory allocated while recording stays reserved for the graph. Dropout calls recorded
  // in it read their seeds from device memory (recording_dropout_seed) that each replay
  // refills, drawing from the same generators in the same order as an eager step would.
  // Null, with `why_not` set, where the device cannot (a CPU runs no graphs, the emulator
  // does not record) or recording failed (then nothing of `step` ran: run it eagerly).
  virtual std::unique_ptr<StepGraph> capture_step(const std::function<void()>& step,
                                                  std::string& why_not) = 0;
  // While capture_step records: the device word a dropout call reads its seed from (holding
  // `seed` for the first run, refilled from `gen` by each replay). Null while nothing is
  // being recorded (always, on a backend without step graphs).
  virtual const uint64_t* recording_dropout_seed(Generator& gen, uint64_t seed) = 0;

  // ---- layer kernels ------------------------------------------------------------------
  // The fused kernels of the CNN layer ops (engine/ops/{conv,pool,norm}.cpp), which every
  // backend implements. Tensors are contiguous, of one floating dtype, and allocated by
  // the op; outputs are overwritten. Shapes (common/layer_shapes.h) are checked by the op.
  //
  // conv2d: x [N, C, H, W], weight [O, C, kh, kw], bias [O] or undefined, y [N, O, Ho, Wo];
  // relu: y = max(conv + bias, 0), the fused epilogue of conv2d_relu.
  virtual void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const Tensor& y, const Conv2dShape& shape, bool relu) = 0;
  // The backward passes take relu_y, conv2d_relu's output, or undefined (plain conv2d): when
  // defined, gy is the gradient of that output and is read as gy * (relu_y > 0).
  // gx [N, C, H, W] = d(sum(y * gy)) / dx.
  virtual void conv2d_backward_input(const Tensor& gy, const Tensor& relu_y, const Tensor& weight,
                                     const Tensor& gx, const Conv2dShape& shape) = 0;
  // gw [O, C, kh, kw] and gb [O] (either undefined: skipped); x is the forward's input.
  virtual void conv2d_backward_weight(const Tensor& gy, const Tensor& relu_y, const Tensor& x,
                                      const Tensor& gw, const Tensor& gb,
                                      const Conv2dShape& shape) = 0;
  // pool2d: x [N, C, H, W] or [C, H, W] (shape.N = 1) -> y, each window reduced by
  // shape.kind; argmax (int64 h * W + w in the plane, y's shape) is written for the kinds
  // that keep indices (shape.has_indices(): max) and is undefined for the others.
  virtual void pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                              const Pool2dShape& shape) = 0;
  // gx (x's shape) = d(sum(y * gy)) / dx, from the forward's argmax where the kind keeps one
  // (max: gy routed to the argmax positions, summed where windows overlap).
  virtual void pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                               const Pool2dShape& shape) = 0;
  // batch_norm: y, the statistics used (save_mean, save_invstd = 1 / sqrt(var + eps); batch
  // statistics when training or without running ones, else the running ones) and, training
  // with running statistics, their update.
  virtual void batch_norm_forward(const BatchNormTensors& bn) = 0;
  // gx, gw, gb (each undefined: skipped) from gy and the forward's x, weight and statistics;
  // batch_stats: the forward used batch statistics (gx then carries their terms).
  virtual void batch_norm_backward(const Tensor& gy, const BatchNormTensors& forward,
                                   bool batch_stats, const Tensor& gx, const Tensor& gw,
                                   const Tensor& gb) = 0;

  // ---- LSTM layer kernels -------------------------------------------------------------
  // Tensors are contiguous and allocated by the op; outputs are overwritten.
  // One LSTM layer: output, h_n, c_n, gates (and cells when defined) from x and the
  // weights; the op has checked the lengths (check_range).
  virtual void lstm_forward(const LstmLayerTensors& layer) = 0;
  // BPTT through the layer the forward computed.
  virtual void lstm_backward(const LstmLayerTensors& layer, const LstmLayerGradients& grads) = 0;
};

Backend& backend_for(Device device);
void set_backend(DeviceType type, Backend* backend);
// Whether this build has a backend for the device type (the CPU's always).
bool has_backend(DeviceType type);

// "Not here", the one way a backend refuses: a kernel it lacks for an op (a registry name,
// OpInfo::name) on a dtype throws std::runtime_error
//   "op 'conv2d': the cuda backend has no float64 kernel"
[[noreturn]] void unsupported(const Backend& backend, const std::string& op, DType dtype);

// The class weights' gradient of the weighted mean cross-entropy, composed of `backend`'s
// primitives for its cross_entropy_backward: loss = -sum_i w[t_i] lp_i / S, S = sum_i
// w[t_i], so dloss/dw[c] = sum over i with t_i = c of -(lp_i + loss) / S, times grad_loss.
// picked_log_probs lp [N], targets int64 [N], loss, weight_sum and grad_loss 0-d; -> [C].
Tensor cross_entropy_weights_grad(Backend& backend, const Tensor& picked_log_probs,
                                  const Tensor& targets, const Tensor& loss,
                                  const Tensor& weight_sum, const Tensor& grad_loss,
                                  int64_t classes);

}  // namespace melgrad
