// CudaBackend: the LSTM layer hooks (engine/ops/lstm.cpp's lstm_layer and
// lstm_bidirectional_layer) on kernels/lstm.h, as its "how to call" comments say:
//   x [N, T, I], lengths int64 [N], per direction d: w_ih [4H, I], w_hh [4H, H], b_ih, b_hh [4H]
//   forward:  gates [N*T, D*4H] = (b_ih + b_hh) broadcast, then += x · W_ih(d)^T per
//             direction (one GEMM each over all steps, into its column block), then
//             lstm_forward turns them in place into the activated gates and writes output
//             [N, T, D*H], h_n, c_n [D, N, H] and the cell states [N, T, D*H];
//   backward: lstm_backward gives grad_gates [N, T, D*4H] (zero at padded steps), dW_hh and
//             the bias gradient; then dx = sum_d grad_gates(d) · W_ih(d) and
//             dW_ih(d) = grad_gates(d)^T · x, as GEMMs over all steps.
// The op has checked the lengths (check_range: a bad one is reported at the next
// synchronisation), and the kernels clamp them meanwhile, so no memory outside the tensors
// is touched. Scratch (grad_gates, the step-wise path's carry) comes from the caching
// allocator.
#include <stdexcept>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/gemm.h"
#include "kernels/lstm.h"

namespace melgrad::cuda {

namespace {

struct LayerShape {
  int64_t N, T, I, H, D;
  kernels::LstmDims dims() const { return {N, T, H, static_cast<int>(D)}; }
};

LayerShape layer_shape(const LstmLayerTensors& layer) {
  const int64_t D = static_cast<int64_t>(layer.reverse.size());
  if (D < 1 || D > 2 || static_cast<int64_t>(layer.weights.size()) != 4 * D)
    throw std::logic_error(
        "cuda backend: lstm: expected 1 or 2 directions with 4 weights each, got " +
        std::to_string(layer.weights.size()) + " weights for " + std::to_string(D) + " directions");
  return {layer.x.size(0), layer.x.size(1), layer.x.size(2), layer.weights[1].size(1), D};
}

const Tensor& w_ih(const LstmLayerTensors& l, int64_t d) { return l.weights[4 * d]; }
const Tensor& w_hh(const LstmLayerTensors& l, int64_t d) { return l.weights[4 * d + 1]; }
const Tensor& b_ih(const LstmLayerTensors& l, int64_t d) { return l.weights[4 * d + 2]; }
const Tensor& b_hh(const LstmLayerTensors& l, int64_t d) { return l.weights[4 * d + 3]; }

// C [m, n] (row stride ldc) = alpha op(A) op(B) + beta C, one matrix.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  kernels::GemmParams p;
  p.trans_a = trans_a;
  p.trans_b = trans_b;
  p.m = m, p.n = n, p.k = k;
  p.a = a, p.lda = lda;
  p.b = b, p.ldb = ldb;
  p.beta = beta;
  p.c = c, p.ldc = ldc;
  kernels::gemm(p, stream());
}

void require_layer_f32(const LstmLayerTensors& layer) {
  require_f32("lstm", {&layer.x, &layer.output, &layer.h_n, &layer.c_n, &layer.gates});
  for (const Tensor& w : layer.weights) require_f32("lstm", {&w});
}

}  // namespace

void CudaBackend::lstm_forward(const LstmLayerTensors& layer) {
  require_layer_f32(layer);
  const LayerShape s = layer_shape(layer);
  const int64_t G = 4 * s.H, rows = s.N * s.T;

  // gates = b_ih + b_hh per direction, broadcast over the N*T rows; then the projection.
  const Tensor bias_sum = Tensor::empty({s.D * G}, DType::f32, layer.x.device());
  for (int64_t d = 0; d < s.D; ++d)
    binary(BinaryOp::add, b_ih(layer, d), b_hh(layer, d), bias_sum.as_strided({G}, {1}, d * G));
  copy(bias_sum.as_strided({rows, s.D * G}, {0, 1}, 0),
       layer.gates.as_strided({rows, s.D * G}, {s.D * G, 1}, layer.gates.offset()));
  for (int64_t d = 0; d < s.D; ++d)
    gemm(false, true, rows, G, s.I, f32_ptr(layer.x), s.I, f32_ptr(w_ih(layer, d)), s.I, 1.0f,
         f32_ptr(layer.gates) + d * G, s.D * G);

  // The kernel always saves the cell states; inference gets a scratch buffer for them.
  const Tensor cells = layer.cells.defined()
                           ? layer.cells
                           : Tensor::empty({s.N, s.T, s.D * s.H}, DType::f32, layer.x.device());
  kernels::LstmForwardParams p;
  p.dims = s.dims();
  p.lengths = i64_ptr(layer.lengths);
  p.gates_x = f32_ptr(layer.gates);
  p.gates = f32_ptr(layer.gates);  // activated in place
  for (int64_t d = 0; d < s.D; ++d) {
    p.w_hh[d] = f32_ptr(w_hh(layer, d));
    p.reverse[d] = layer.reverse[d];
  }
  p.output = f32_ptr(layer.output);
  p.h_n = f32_ptr(layer.h_n);
  p.c_n = f32_ptr(layer.c_n);
  p.cells = f32_ptr(cells);
  kernels::lstm_forward(p, stream());
}

void CudaBackend::lstm_backward(const LstmLayerTensors& layer, const LstmLayerGradients& grads) {
  require_layer_f32(layer);
  require_f32("lstm backward",
              {&layer.cells, &grads.grad_output, &grads.grad_h_n, &grads.grad_c_n});
  const LayerShape s = layer_shape(layer);
  const int64_t G = 4 * s.H, rows = s.N * s.T;
  const Device dev = layer.x.device();

  // A fresh buffer (not the saved gates in place): the graph may be run backward again.
  const Tensor grad_gates = Tensor::empty({s.N, s.T, s.D * G}, DType::f32, dev);
  const Tensor scratch = workspace(kernels::lstm_backward_workspace_bytes(s.dims()));
  std::vector<Tensor> bias_grads(s.D);
  kernels::LstmBackwardParams p;
  p.dims = s.dims();
  p.lengths = i64_ptr(layer.lengths);
  for (int64_t d = 0; d < s.D; ++d) {
    p.w_hh[d] = f32_ptr(w_hh(layer, d));
    p.reverse[d] = layer.reverse[d];
    p.grad_w_hh[d] = f32_ptr(grads.grad_w_hh[d]);
    // b_ih and b_hh share one gradient: into whichever is asked for, copied to the other.
    bias_grads[d] = grads.grad_b_ih[d].defined() ? grads.grad_b_ih[d] : grads.grad_b_hh[d];
    p.grad_bias[d] = f32_ptr(bias_grads[d]);
  }
  p.output = f32_ptr(layer.output);
  p.gates = f32_ptr(layer.gates);
  p.cells = f32_ptr(layer.cells);
  p.grad_output = f32_ptr(grads.grad_output);
  p.grad_h_n = f32_ptr(grads.grad_h_n);
  p.grad_c_n = f32_ptr(grads.grad_c_n);
  p.grad_gates = f32_ptr(grad_gates);
  p.workspace = scratch.defined() ? scratch.raw_data() : nullptr;
  kernels::lstm_backward(p, stream());

  for (int64_t d = 0; d < s.D; ++d) {
    if (grads.grad_b_ih[d].defined() && grads.grad_b_hh[d].defined())
      copy(grads.grad_b_ih[d], grads.grad_b_hh[d]);
    const float* gd = f32_ptr(grad_gates) + d * G;  // [rows, G] with row stride D*G
    if (grads.grad_x.defined())                     // dx (+)= grad_gates(d) · W_ih(d)
      gemm(false, false, rows, s.I, G, gd, s.D * G, f32_ptr(w_ih(layer, d)), s.I,
           d == 0 ? 0.0f : 1.0f, f32_ptr(grads.grad_x), s.I);
    if (grads.grad_w_ih[d].defined())  // dW_ih(d) = grad_gates(d)^T · x
      gemm(true, false, G, s.I, rows, gd, s.D * G, f32_ptr(layer.x), s.I, 0.0f,
           f32_ptr(grads.grad_w_ih[d]), s.I);
  }
}

}  // namespace melgrad::cuda
