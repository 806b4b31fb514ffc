// CpuBackend: the LSTM layer methods (engine/backend.h's LstmLayerTensors) on the kernels of
// cpu/lstm.h, which the op (engine/ops/lstm.cpp) reaches through backend_for(device) as on
// every device:
//   x [N, T, I], lengths int64 [N], per direction d: w_ih [4H, I], w_hh [4H, H], b_ih, b_hh
//   -> output [N, T, D*H] (zero at padded steps), h_n, c_n [D, N, H] ([N, H] when D = 1),
//      gates [N, T, D*4H] and cells [N, T, D*H] for the backward.
#include <stdexcept>
#include <string>
#include <type_traits>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/lstm.h"

namespace melgrad::cpu {

namespace {

LstmDims layer_dims(const LstmLayerTensors& layer) {
  const int64_t D = static_cast<int64_t>(layer.reverse.size());
  if (D < 1 || D > 2 || static_cast<int64_t>(layer.weights.size()) != 4 * D)
    throw std::logic_error(
        "cpu backend: lstm: expected 1 or 2 directions with 4 weights each, got " +
        std::to_string(layer.weights.size()) + " weights for " + std::to_string(D) + " directions");
  return {layer.x.size(0), layer.x.size(1), layer.x.size(2), layer.weights[1].size(1), D};
}

template <class S>
S* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<S>() : nullptr;
}

// The kernel's per-direction pointers into the layer's weights (w_ih, w_hh, b_ih, b_hh each).
template <class P>
void set_directions(P& p, const LstmLayerTensors& layer) {
  using S = std::remove_const_t<std::remove_pointer_t<decltype(p.x)>>;
  const std::vector<Tensor>& w = layer.weights;
  for (std::size_t d = 0; d < layer.reverse.size(); ++d)
    p.dir[d] = {w[4 * d].data<S>(), w[4 * d + 1].data<S>(), w[4 * d + 2].data<S>(),
                w[4 * d + 3].data<S>(), layer.reverse[d]};
}

}  // namespace

void CpuBackend::lstm_forward(const LstmLayerTensors& layer) {
  const LstmDims dims = layer_dims(layer);
  fill(layer.output, 0.0);  // the kernel writes the real steps only
  dispatch_floating(layer.x.dtype(), "lstm", [&]<class S>() {
    LstmForwardParams<S> p;
    p.dims = dims;
    p.x = layer.x.data<S>();
    p.lengths = layer.lengths.data<int64_t>();
    set_directions(p, layer);
    p.output = layer.output.data<S>();
    p.h_n = layer.h_n.data<S>();
    p.c_n = layer.c_n.data<S>();
    p.gates = layer.gates.data<S>();
    p.cells = data_or_null<S>(layer.cells);
    cpu::lstm_forward(p);
  });
}

void CpuBackend::lstm_backward(const LstmLayerTensors& layer, const LstmLayerGradients& grads) {
  const LstmDims dims = layer_dims(layer);
  dispatch_floating(layer.x.dtype(), "lstm backward", [&]<class S>() {
    LstmBackwardParams<S> p;
    p.dims = dims;
    p.x = layer.x.data<S>();
    p.lengths = layer.lengths.data<int64_t>();
    set_directions(p, layer);
    p.output = layer.output.data<S>();
    p.gates = layer.gates.data<S>();
    p.cells = layer.cells.data<S>();
    p.grad_output = grads.grad_output.data<S>();
    p.grad_h_n = grads.grad_h_n.data<S>();
    p.grad_c_n = grads.grad_c_n.data<S>();
    p.grad_x = data_or_null<S>(grads.grad_x);
    for (int64_t d = 0; d < dims.directions; ++d) {
      p.grad_w_ih[d] = data_or_null<S>(grads.grad_w_ih[d]);
      p.grad_w_hh[d] = data_or_null<S>(grads.grad_w_hh[d]);
      p.grad_b_ih[d] = data_or_null<S>(grads.grad_b_ih[d]);
      p.grad_b_hh[d] = data_or_null<S>(grads.grad_b_hh[d]);
    }
    cpu::lstm_backward(p);
  });
}

}  // namespace melgrad::cpu
