// LSTM ops (see lstm.h): the fused layer ops lstm_layer (one direction) and
// lstm_bidirectional_layer (both directions), each one multi-output graph node whose
// forward and backward (BPTT) are the device backend's (Backend::lstm_forward/backward);
// the primitive-op reference; the multi-layer stack with dropout between layers; the
// study's readout.
//   x [N, T, I], lengths int64 [N], w_ih [4H, I], w_hh [4H, H], b_ih/b_hh [4H]
//   -> output [N, T, D*H], h_n/c_n [D, N, H] (lstm_layer: [N, H])
#include "engine/ops/lstm.h"

#include <stdexcept>
#include <string>
#include <type_traits>

#include "engine/ops/dropout.h"
#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

namespace {

struct LayerDims {
  int64_t N, T, I, H;
};

std::string shape_of(std::initializer_list<int64_t> s) { return shape_str(Shape(s)); }

// Checks x, lengths and each direction's weights; throws naming `name`, the argument, the
// expected shape and the one found.
LayerDims check_layer_args(const OpInfo& op, const std::string& name, const Tensor& x,
                           const Tensor& lengths, const std::vector<const LstmWeights*>& dirs) {
  TensorList all{x, lengths};
  for (const LstmWeights* w : dirs) all.insert(all.end(), {w->w_ih, w->w_hh, w->b_ih, w->b_hh});
  for (const Tensor& t : all)
    if (!t.defined()) throw std::invalid_argument(name + ": an argument tensor is undefined");
  check_device(op, all);
  if (!is_floating(x.dtype()))
    throw std::invalid_argument(name + ": x must be float32 or float64, got " + x.str());
  if (x.dim() != 3 || x.size(0) == 0 || x.size(1) == 0)
    throw std::invalid_argument(name + ": x must be [N, T, I] with N, T >= 1, got " + x.str());
  LayerDims d{x.size(0), x.size(1), x.size(2), 0};
  if (lengths.dtype() != DType::i64 || lengths.shape() != Shape{d.N})
    throw std::invalid_argument(name + ": lengths must be int64 " + shape_of({d.N}) +
                                " to match x " + shape_str(x.shape()) + ", got " + lengths.str());
  // The CPU reads the lengths and throws at once; a device checks them in a kernel and
  // reports a bad one at its next synchronisation (no read-back in a training step).
  backend_for(x.device()).check_range(lengths, 1, d.T, RangeCheck::sequence_length, name);
  const Tensor& w_hh0 = dirs[0]->w_hh;
  if (w_hh0.dim() != 2 || w_hh0.size(1) == 0 || w_hh0.size(0) != 4 * w_hh0.size(1))
    throw std::invalid_argument(name + ": w_hh must be [4H, H], got " + w_hh0.str());
  d.H = w_hh0.size(1);
  const int64_t G = 4 * d.H;
  auto expect = [&](const Tensor& t, const char* what, const Shape& want) {
    if (t.shape() != want)
      throw std::invalid_argument(name + ": " + what + " must be " + shape_str(want) +
                                  " (H = " + std::to_string(d.H) + ", I = " + std::to_string(d.I) +
                                  "), got " + shape_str(t.shape()));
    if (t.dtype() != x.dtype())
      throw std::invalid_argument(name + ": " + what + " is " + t.str() + " but x is " + x.str());
  };
  for (const LstmWeights* w : dirs) {
    expect(w->w_ih, "w_ih", {G, d.I});
    expect(w->w_hh, "w_hh", {G, d.H});
    expect(w->b_ih, "b_ih", {G});
    expect(w->b_hh, "b_hh", {G});
  }
  return d;
}

Tensor contiguous_detached(const Tensor& t) { return contiguous(t.detach()); }

// The graph node whose backward is the backend's BPTT. Inputs are {x, lengths, w_ih, w_hh,
// b_ih, b_hh per direction}; outputs {output, h_n, c_n}.
void record_layer(const OpInfo& op, const TensorList& inputs, TensorList& outs,
                  LstmLayerTensors layer) {
  std::vector<bool> need;  // which inputs want a gradient
  for (const Tensor& t : inputs) need.push_back(t.requires_grad());
  record(op, inputs, outs, [layer, need](const TensorList& g) {
    const std::size_t D = layer.reverse.size();
    LstmLayerGradients grads;
    grads.grad_output = contiguous_detached(g[0]);
    grads.grad_h_n = contiguous_detached(g[1]);
    grads.grad_c_n = contiguous_detached(g[2]);
    auto grad_for = [&](std::size_t input, const Tensor& like) {
      return need[input] ? Tensor::empty(like.shape(), like.dtype(), like.device()) : Tensor();
    };
    grads.grad_x = grad_for(0, layer.x);
    for (std::size_t d = 0; d < D; ++d) {
      grads.grad_w_ih.push_back(grad_for(2 + 4 * d, layer.weights[4 * d]));
      grads.grad_w_hh.push_back(grad_for(3 + 4 * d, layer.weights[4 * d + 1]));
      grads.grad_b_ih.push_back(grad_for(4 + 4 * d, layer.weights[4 * d + 2]));
      grads.grad_b_hh.push_back(grad_for(5 + 4 * d, layer.weights[4 * d + 3]));
    }
    backend_for(layer.x.device()).lstm_backward(layer, grads);
    TensorList result{grads.grad_x, Tensor()};
    for (std::size_t d = 0; d < D; ++d)
      result.insert(result.end(), {grads.grad_w_ih[d], grads.grad_w_hh[d], grads.grad_b_ih[d],
                                   grads.grad_b_hh[d]});
    return result;
  });
}

// The fused forward and backward of D = dirs.size() directions of one layer. Outputs
// output [N, T, D*H], h_n/c_n [D, N, H] (single: [N, H]); the graph node's inputs are
// {x, lengths, w_ih, w_hh, b_ih, b_hh} per direction.
std::array<Tensor, 3> fused_layer(const OpInfo& op, const Tensor& x, const Tensor& lengths,
                                  const std::vector<const LstmWeights*>& dirs,
                                  const std::vector<bool>& reverse) {
  const LayerDims dims = check_layer_args(op, op.name, x, lengths, dirs);
  const int64_t D = static_cast<int64_t>(dirs.size()), N = dims.N, T = dims.T, H = dims.H;
  TensorList inputs{x, lengths};
  std::vector<Tensor> weights;  // contiguous, detached: w_ih, w_hh, b_ih, b_hh per direction
  for (const LstmWeights* w : dirs)
    for (const Tensor* t : {&w->w_ih, &w->w_hh, &w->b_ih, &w->b_hh}) {
      inputs.push_back(*t);
      weights.push_back(contiguous_detached(*t));
    }
  const bool grad = needs_grad(inputs);
  const Device dev = x.device();
  const Shape state = D == 1 ? Shape{N, H} : Shape{D, N, H};
  LstmLayerTensors layer{contiguous_detached(x),
                         contiguous_detached(lengths),
                         weights,
                         reverse,
                         Tensor::empty({N, T, D * H}, x.dtype(), dev),
                         Tensor::empty(state, x.dtype(), dev),
                         Tensor::empty(state, x.dtype(), dev),
                         Tensor::empty({N, T, D * 4 * H}, x.dtype(), dev),
                         grad ? Tensor::empty({N, T, D * H}, x.dtype(), dev) : Tensor()};
  backend_for(dev).lstm_forward(layer);
  TensorList outs{layer.output, layer.h_n, layer.c_n};
  if (grad) {
    layer.output = layer.output.detach();  // what the backward reads, without the graph
    layer.h_n = layer.h_n.detach();
    layer.c_n = layer.c_n.detach();
    record_layer(op, inputs, outs, layer);
  }
  return {outs[0], outs[1], outs[2]};
}

// Gradient-check inputs: x [3, 5, 4], H = 3, lengths as given; weights for D directions.
TensorList gc_layer_inputs(Generator& g, std::vector<int64_t> lengths, int directions) {
  TensorList in{gc_input({3, 5, 4}, g), Tensor::from_vector(lengths, {3})};
  for (int d = 0; d < directions; ++d)
    for (const Shape& s : {Shape{12, 4}, Shape{12, 3}, Shape{12}, Shape{12}})
      in.push_back(gc_input(s, g));
  return in;
}

Tensor all_outputs(const std::array<Tensor, 3>& r) {
  return concat({flatten(r[0]), flatten(r[1]), flatten(r[2])}, 0);
}

}  // namespace

// ---- one direction ---------------------------------------------------------------------

static const OpInfo& kLstmLayer = register_op(
    {.name = "lstm_layer", .family = "recurrent", .gradcheck = [](Generator& g) {
       GradCases cases;
       for (bool reverse : {false, true})
         for (bool all : {false, true}) {
           std::string label = std::string(reverse ? "reverse" : "forward") +
                               (all ? ", output + h_n + c_n" : ", output") + ", lengths {5,3,1}";
           cases.push_back(
               {label, gc_layer_inputs(g, {5, 3, 1}, 1), [reverse, all](const TensorList& in) {
                  auto r = lstm_layer(in[0], in[1], in[2], in[3], in[4], in[5], reverse);
                  return all ? all_outputs(r) : r[0];
                }});
         }
       return cases;
     }});
std::array<Tensor, 3> lstm_layer(const Tensor& x, const Tensor& lengths, const Tensor& w_ih,
                                 const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                                 bool reverse) {
  LstmWeights w{w_ih, w_hh, b_ih, b_hh};
  return fused_layer(kLstmLayer, x, lengths, {&w}, {reverse});
}

// ---- both directions -------------------------------------------------------------------

static const OpInfo& kLstmBidirectional = register_op(
    {.name = "lstm_bidirectional_layer", .family = "recurrent", .gradcheck = [](Generator& g) {
       return GradCases{{"output + h_n + c_n, lengths {3,5,1}", gc_layer_inputs(g, {3, 5, 1}, 2),
                         [](const TensorList& in) {
                           return all_outputs(
                               lstm_bidirectional_layer(in[0], in[1], {in[2], in[3], in[4], in[5]},
                                                        {in[6], in[7], in[8], in[9]}));
                         }}};
     }});
std::array<Tensor, 3> lstm_bidirectional_layer(const Tensor& x, const Tensor& lengths,
                                               const LstmWeights& forward,
                                               const LstmWeights& reverse) {
  return fused_layer(kLstmBidirectional, x, lengths, {&forward, &reverse}, {false, true});
}

// ---- the reference from primitive ops --------------------------------------------------

std::array<Tensor, 3> lstm_layer_reference(const Tensor& x, const Tensor& lengths,
                                           const Tensor& w_ih, const Tensor& w_hh,
                                           const Tensor& b_ih, const Tensor& b_hh, bool reverse) {
  LstmWeights w{w_ih, w_hh, b_ih, b_hh};
  LayerDims d = check_layer_args(kLstmLayer, "lstm_layer_reference", x, lengths, {&w});
  const int64_t H = d.H;
  Tensor gx = matmul(x, transpose(w_ih, 0, 1)) + (b_ih + b_hh);  // [N, T, 4H]
  Tensor len = reshape(to_dtype(lengths, x.dtype()), {d.N, 1});
  Tensor h = Tensor::zeros({d.N, H}, x.dtype(), x.device()), c = h;
  Tensor zero = scalar_like(x, 0.0);
  std::vector<Tensor> outs(d.T);
  // Padded steps keep the state (zero before a reversed sequence's last real step).
  for (int64_t k = 0; k < d.T; ++k) {
    const int64_t t = reverse ? d.T - 1 - k : k;
    Tensor pre = squeeze(slice(gx, 1, t, t + 1), 1) + matmul(h, transpose(w_hh, 0, 1));
    Tensor i = sigmoid(slice(pre, 1, 0, H)), f = sigmoid(slice(pre, 1, H, 2 * H));
    Tensor g = tanh(slice(pre, 1, 2 * H, 3 * H)), o = sigmoid(slice(pre, 1, 3 * H, 4 * H));
    Tensor c_new = f * c + i * g;
    Tensor h_new = o * tanh(c_new);
    Tensor real = gt(len, scalar_like(len, static_cast<double>(t)));  // [N, 1]: t < len
    h = where(real, h_new, h);
    c = where(real, c_new, c);
    outs[t] = where(real, h_new, zero);
  }
  return {stack(outs, 1), h, c};
}

// ---- the stack of layers -----------------------------------------------------------------

LstmResult lstm(const Tensor& x, const Tensor& lengths, const std::vector<LstmWeights>& layers,
                int64_t num_layers, bool bidirectional, double dropout_p, bool training,
                Generator& gen) {
  const int64_t D = bidirectional ? 2 : 1;
  if (num_layers < 1)
    throw std::invalid_argument("lstm: num_layers must be >= 1, got " + std::to_string(num_layers));
  if (static_cast<int64_t>(layers.size()) != num_layers * D)
    throw std::invalid_argument(
        "lstm: expected num_layers * directions = " + std::to_string(num_layers * D) +
        " weight sets, got " + std::to_string(layers.size()));
  if (!(dropout_p >= 0 && dropout_p < 1))
    throw std::invalid_argument("lstm: dropout must be in [0, 1), got " +
                                std::to_string(dropout_p));
  Tensor input = x;
  std::vector<Tensor> hs, cs;
  for (int64_t l = 0; l < num_layers; ++l) {
    std::array<Tensor, 3> r;
    if (bidirectional) {
      r = lstm_bidirectional_layer(input, lengths, layers[2 * l], layers[2 * l + 1]);
    } else {
      const LstmWeights& w = layers[l];
      r = lstm_layer(input, lengths, w.w_ih, w.w_hh, w.b_ih, w.b_hh, false);
      r[1] = unsqueeze(r[1], 0);
      r[2] = unsqueeze(r[2], 0);
    }
    hs.push_back(r[1]);
    cs.push_back(r[2]);
    input = l + 1 < num_layers ? dropout(r[0], dropout_p, training, gen) : r[0];
  }
  return {input, concat(hs, 0), concat(cs, 0)};
}

// ---- readout -----------------------------------------------------------------------------

Tensor lstm_readout(const Tensor& output, const Tensor& lengths, bool bidirectional) {
  const int64_t D = bidirectional ? 2 : 1;
  if (output.dim() != 3 || output.size(2) % D != 0 || output.size(2) == 0)
    throw std::invalid_argument(std::string("lstm_readout: output must be [N, T, ") +
                                (bidirectional ? "2H" : "H") + "], got " + output.str());
  const int64_t N = output.size(0), T = output.size(1), H = output.size(2) / D;
  if (lengths.dtype() != DType::i64 || lengths.shape() != Shape{N})
    throw std::invalid_argument("lstm_readout: lengths must be int64 " + shape_of({N}) +
                                " to match output " + shape_str(output.shape()) + ", got " +
                                lengths.str());
  backend_for(lengths.device())
      .check_range(lengths, 1, T, RangeCheck::sequence_length, "lstm_readout");
  Tensor index;  // [N, 1, H]: t = len - 1, built where the lengths are (no read-back):
  {              // lengths are exact in float32 up to 2^24
    NoGradGuard no_grad;
    const Tensor last = reshape(to_dtype(lengths, DType::f32) - 1.0, {N, 1, 1});
    index = to_device(to_dtype(contiguous(expand(last, {N, 1, H})), DType::i64), output.device());
  }
  Tensor fwd = squeeze(gather(slice(output, 2, 0, H), 1, index), 1);  // [N, H]
  if (!bidirectional) return fwd;
  Tensor bwd = squeeze(slice(slice(output, 2, H, 2 * H), 1, 0, 1), 1);  // [N, H] at t = 0
  return concat({fwd, bwd}, 1);
}

}  // namespace melgrad
