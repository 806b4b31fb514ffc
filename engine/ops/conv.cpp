// conv2d: x [N, C, H, W], weight [O, C, kh, kw], bias [O] (optional) -> y [N, O, Ho, Wo],
// Ho = (H + 2 ph - kh) / sh + 1, Wo = (W + 2 pw - kw) / sw + 1 (PyTorch's Conv2d, no
// dilation or groups). Forward and backward call the fused kernels of the tensors' device
// (CPU: engine/cpu/conv.cpp; others: Backend::conv2d_*); the backward computes only the
// gradients that are needed.
// conv2d_relu: relu(conv2d(...)) as one op, the ReLU applied in the conv kernel's epilogue.
// Its backward masks the gradient with the output (y > 0), as relu's does, then runs
// conv2d's: on the CPU as a separate pass, elsewhere inside the backward kernels (relu_y).
#include <stdexcept>
#include <string>

#include "engine/cpu/conv.h"
#include "engine/ops/cnn.h"
#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

namespace {

std::string pair_str(const std::array<int64_t, 2>& p) {
  return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")";
}

// t itself when contiguous, else a contiguous copy; never recorded.
Tensor dense(const Tensor& t) {
  if (!t.defined()) return t;
  NoGradGuard no_grad;
  return contiguous(t).detach();
}

[[noreturn]] void no_kernel(const char* kernel, const Tensor& t) {
  throw std::runtime_error(std::string("conv2d: no ") + kernel + " kernel for device " +
                           t.device().str());
}

cpu::Conv2dGeometry conv_geometry(const OpInfo& op, const Tensor& x, const Tensor& w,
                                  const Tensor& b, const Conv2dOptions& opt) {
  check_floating(op, x);
  check_same_dtype(op, x, w);
  if (b.defined()) check_same_dtype(op, x, b);
  if (x.dim() != 4)
    throw std::invalid_argument("conv2d: expected input [N, C, H, W], got " + x.str());
  if (w.dim() != 4)
    throw std::invalid_argument("conv2d: expected weight [O, C, kh, kw], got " + w.str());
  if (x.size(1) != w.size(1))
    throw std::invalid_argument("conv2d: input " + x.str() + " has " + std::to_string(x.size(1)) +
                                " channels but weight " + w.str() + " expects " +
                                std::to_string(w.size(1)));
  if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0)))
    throw std::invalid_argument("conv2d: bias " + b.str() + " does not match weight " + w.str() +
                                " (expected [" + std::to_string(w.size(0)) + "])");
  if (opt.stride[0] < 1 || opt.stride[1] < 1 || opt.padding[0] < 0 || opt.padding[1] < 0)
    throw std::invalid_argument("conv2d: stride " + pair_str(opt.stride) + " must be >= 1 and padding " +
                                pair_str(opt.padding) + " >= 0");
  if (x.size(1) < 1 || w.size(0) < 1 || w.size(2) < 1 || w.size(3) < 1)
    throw std::invalid_argument("conv2d: empty channels or kernel in input " + x.str() +
                                ", weight " + w.str());
  cpu::Conv2dGeometry g;
  g.N = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.O = w.size(0), g.kh = w.size(2), g.kw = w.size(3);
  g.stride_h = opt.stride[0], g.stride_w = opt.stride[1];
  g.pad_h = opt.padding[0], g.pad_w = opt.padding[1];
  const int64_t hp = g.H + 2 * g.pad_h, wp = g.W + 2 * g.pad_w;
  if (g.kh > hp || g.kw > wp)
    throw std::invalid_argument("conv2d: kernel " + std::to_string(g.kh) + "x" +
                                std::to_string(g.kw) + " is larger than the padded input " +
                                std::to_string(hp) + "x" + std::to_string(wp) + " (input " +
                                x.str() + ", padding " + pair_str(opt.padding) + ")");
  g.Ho = (hp - g.kh) / g.stride_h + 1;
  g.Wo = (wp - g.kw) / g.stride_w + 1;
  return g;
}

// The device's kernel: the CPU's own (engine/cpu/conv.cpp) or the backend's layer hook.
// relu_y (conv2d_relu's output, else undefined) masks gy; the CPU's kernels take gy masked
// already (relu_mask_cpu).
void conv_forward_kernel(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y,
                         const cpu::Conv2dGeometry& g, const Conv2dOptions& opt, bool relu) {
  if (x.device().is_cpu()) return cpu::conv2d_forward(x, w, b, y, g, relu);
  if (!backend_for(x.device()).conv2d_forward(x, w, b, y, opt, relu)) no_kernel("forward", x);
}

void conv_backward_input_kernel(const Tensor& gy, const Tensor& relu_y, const Tensor& w,
                                const Tensor& gx, const cpu::Conv2dGeometry& g,
                                const Conv2dOptions& opt) {
  if (gy.device().is_cpu()) return cpu::conv2d_backward_input(gy, w, gx, g);
  if (!backend_for(gy.device()).conv2d_backward_input(gy, relu_y, w, gx, opt))
    no_kernel("backward-input", gy);
}

void conv_backward_weight_kernel(const Tensor& gy, const Tensor& relu_y, const Tensor& x,
                                 const Tensor& gw, const Tensor& gb, const cpu::Conv2dGeometry& g,
                                 const Conv2dOptions& opt) {
  if (gy.device().is_cpu()) return cpu::conv2d_backward_weight(gy, x, gw, gb, g);
  if (!backend_for(gy.device())
           .conv2d_backward_weight(gy, relu_y, x, {g.O, g.C, g.kh, g.kw}, gw, gb, opt))
    no_kernel("backward-weight", gy);
}

// gy * (y > 0): the ReLU's backward on the CPU, computed as relu's own (ops/elementwise.cpp),
// so conv2d_relu's gradients equal those of conv2d then relu bit for bit.
Tensor relu_mask_cpu(const Tensor& gy, const Tensor& y) {
  Backend& cpu = backend_for(y.device());
  Tensor mask = Tensor::empty(y.shape(), y.dtype(), y.device());
  cpu.unary(UnaryOp::step, y, mask, 0.0, 0.0);
  Tensor out = Tensor::empty(y.shape(), y.dtype(), y.device());
  cpu.binary(BinaryOp::mul, gy, mask, out);
  return out;
}

using ConvFn = Tensor (*)(const Tensor&, const Tensor&, const Tensor&, Conv2dOptions);

GradCheckCase conv_case(ConvFn conv, std::string label, Generator& g, const Shape& xs,
                        const Shape& ws, bool bias, Conv2dOptions opt,
                        bool transpose_input = false) {
  TensorList in{gc_input(xs, g), gc_input(ws, g)};
  if (bias) in.push_back(gc_input({ws[0]}, g));
  return {std::move(label), in, [conv, opt, bias, transpose_input](const TensorList& t) {
            Tensor x = transpose_input ? transpose(t[0], 2, 3) : t[0];
            return conv(x, t[1], bias ? t[2] : Tensor(), opt);
          }};
}

// conv2d's shapes and paths (bias or not, strides, padding, the one-channel first layer,
// a 1x1 kernel, a strided input view), for conv2d and for conv2d_relu.
GradCases conv_cases(ConvFn conv, Generator& g) {
  return GradCases{
      conv_case(conv, "3x3 pad 1 bias", g, {2, 3, 5, 6}, {4, 3, 3, 3}, true, {{1, 1}, {1, 1}}),
      conv_case(conv, "odd sizes stride 2 pad (1,0) no bias", g, {2, 2, 7, 5}, {3, 2, 3, 2}, false,
                {{2, 2}, {1, 0}}),
      conv_case(conv, "one input channel pad 1 bias", g, {2, 1, 6, 7}, {3, 1, 3, 3}, true,
                {{1, 1}, {1, 1}}),
      conv_case(conv, "one input channel stride (2,3) pad 1", g, {1, 1, 7, 8}, {2, 1, 2, 3}, true,
                {{2, 3}, {1, 1}}),
      conv_case(conv, "1x1 kernel", g, {2, 3, 4, 5}, {2, 3, 1, 1}, true, {}),
      conv_case(conv, "strided input view, stride (1,2)", g, {2, 2, 6, 5}, {3, 2, 3, 3}, true,
                {{1, 2}, {1, 1}}, /*transpose_input=*/true)};
}

// conv2d (relu false) or conv2d_relu (relu true), registered as `op`.
Tensor conv2d_op(const OpInfo& op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                 const Conv2dOptions& opt, bool relu) {
  check_device(op, {x, weight, bias});
  const cpu::Conv2dGeometry g = conv_geometry(op, x, weight, bias, opt);
  const Tensor xc = dense(x), wc = dense(weight), bc = dense(bias);
  Tensor y = Tensor::empty({g.N, g.O, g.Ho, g.Wo}, x.dtype(), x.device());
  conv_forward_kernel(xc, wc, bc, y, g, opt, relu);

  const bool need_x = x.requires_grad(), need_w = weight.requires_grad(),
             need_b = bias.defined() && bias.requires_grad();
  return record(op, {x, weight, bias}, y,
                [g, opt, need_x, need_w, need_b, x_saved = need_w ? xc.detach() : Tensor(),
                 w_saved = need_x ? wc.detach() : Tensor(),
                 relu_y = relu ? y.detach() : Tensor()](const TensorList& grads) {
                  Tensor gy = dense(grads[0]), mask_y = relu_y;
                  if (relu_y.defined() && gy.device().is_cpu()) {
                    gy = relu_mask_cpu(gy, relu_y);
                    mask_y = Tensor();
                  }
                  Tensor gx, gw, gb;
                  if (need_x) {
                    gx = Tensor::empty({g.N, g.C, g.H, g.W}, gy.dtype(), gy.device());
                    conv_backward_input_kernel(gy, mask_y, w_saved, gx, g, opt);
                  }
                  if (need_w) gw = Tensor::empty({g.O, g.C, g.kh, g.kw}, gy.dtype(), gy.device());
                  if (need_b) gb = Tensor::empty({g.O}, gy.dtype(), gy.device());
                  if (need_w || need_b)
                    conv_backward_weight_kernel(gy, mask_y, x_saved, gw, gb, g, opt);
                  return TensorList{gx, gw, gb};
                });
}

}  // namespace

static const OpInfo& kConv2d =
    register_op({.name = "conv2d",
                 .family = "cnn",
                 .gradcheck = [](Generator& g) { return conv_cases(conv2d, g); }});

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions opt) {
  return conv2d_op(kConv2d, x, weight, bias, opt, /*relu=*/false);
}

static const OpInfo& kConv2dRelu =
    register_op({.name = "conv2d_relu",
                 .family = "cnn",
                 .gradcheck = [](Generator& g) { return conv_cases(conv2d_relu, g); }});

Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions opt) {
  return conv2d_op(kConv2dRelu, x, weight, bias, opt, /*relu=*/true);
}

}  // namespace melgrad
