// conv2d: x [N, C, H, W], weight [O, C, kh, kw], bias [O] (optional) -> y [N, O, Ho, Wo],
// Ho = (H + 2 ph - kh) / sh + 1, Wo = (W + 2 pw - kw) / sw + 1 (PyTorch's Conv2d, no
// dilation or groups). Forward and backward call the layer kernels of the tensors' backend
// (Backend::conv2d_*, engine/backend.h); the backward computes only the gradients that are
// needed.
// conv2d_relu: relu(conv2d(...)) as one op, the ReLU applied in the conv kernel's epilogue.
// Its backward hands the kernels the output (relu_y), whose mask (y > 0) they apply to the
// gradient as they read it, as relu's backward would.
#include <stdexcept>
#include <string>

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

Conv2dShape conv_shape(const OpInfo& op, const Tensor& x, const Tensor& w, const Tensor& b,
                       const Conv2dOptions& opt) {
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
    throw std::invalid_argument("conv2d: stride " + pair_str(opt.stride) +
                                " must be >= 1 and padding " + pair_str(opt.padding) + " >= 0");
  if (x.size(1) < 1 || w.size(0) < 1 || w.size(2) < 1 || w.size(3) < 1)
    throw std::invalid_argument("conv2d: empty channels or kernel in input " + x.str() +
                                ", weight " + w.str());
  Conv2dShape g;
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
  return g;
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
  const Conv2dShape s = conv_shape(op, x, weight, bias, opt);
  const Tensor xc = dense(x), wc = dense(weight), bc = dense(bias);
  Tensor y = Tensor::empty({s.N, s.O, s.out_h(), s.out_w()}, x.dtype(), x.device());
  backend_for(x.device()).conv2d_forward(xc, wc, bc, y, s, relu);

  const bool need_x = x.requires_grad(), need_w = weight.requires_grad(),
             need_b = bias.defined() && bias.requires_grad();
  return record(op, {x, weight, bias}, y,
                [s, need_x, need_w, need_b, x_saved = need_w ? xc.detach() : Tensor(),
                 w_saved = need_x ? wc.detach() : Tensor(),
                 relu_y = relu ? y.detach() : Tensor()](const TensorList& grads) {
                  const Tensor gy = dense(grads[0]);
                  Backend& backend = backend_for(gy.device());
                  Tensor gx, gw, gb;
                  if (need_x) {
                    gx = Tensor::empty({s.N, s.C, s.H, s.W}, gy.dtype(), gy.device());
                    backend.conv2d_backward_input(gy, relu_y, w_saved, gx, s);
                  }
                  if (need_w) gw = Tensor::empty({s.O, s.C, s.kh, s.kw}, gy.dtype(), gy.device());
                  if (need_b) gb = Tensor::empty({s.O}, gy.dtype(), gy.device());
                  if (need_w || need_b)
                    backend.conv2d_backward_weight(gy, relu_y, x_saved, gw, gb, s);
                  return TensorList{gx, gw, gb};
                });
}

}  // namespace

static const OpInfo& kConv2d =
    register_op({.name = "conv2d", .family = "cnn", .gradcheck = [](Generator& g) {
                   return conv_cases(conv2d, g);
                 }});

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions opt) {
  return conv2d_op(kConv2d, x, weight, bias, opt, /*relu=*/false);
}

static const OpInfo& kConv2dRelu =
    register_op({.name = "conv2d_relu", .family = "cnn", .gradcheck = [](Generator& g) {
                   return conv_cases(conv2d_relu, g);
                 }});

Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions opt) {
  return conv2d_op(kConv2dRelu, x, weight, bias, opt, /*relu=*/true);
}

}  // namespace melgrad
