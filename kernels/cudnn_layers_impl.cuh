// cuDNN calls of the CNN layers (kernels/cudnn_layers.h), nvcc build with cuDNN only
// (included by kernels/cudnn_layers.cu). Legacy (v7-style) cuDNN API, present in cuDNN 9:
//   conv forward:  cudnnConvolutionForward, then cudnnAddTensor (bias) and
//                  cudnnActivationForward (ReLU) in place when asked;
//   conv backward: cudnnActivationBackward masks dy when relu_y is set (into scratch), then
//                  cudnnConvolutionBackwardData / BackwardFilter / BackwardBias;
//   pooling:       CUDNN_POOLING_MAX_DETERMINISTIC with NaN propagation (no indices);
//   batch norm:    CUDNN_BATCHNORM_SPATIAL training / inference / backward, x seen as
//                  [N, C, S, 1].
// Convolutions use FP32 FMA math (CUDNN_FMA_MATH: no TF32, what the melgrad kernels
// compute). Their algorithm, per shape and pass, cached per thread (kernels/
// cudnn_bookkeeping.h: nothing is cached when the search throws):
//   deterministic (the params' default): the first bit-reproducible one of cuDNN's
//     heuristic ranking (cudnnGet*_v7: no timing, so every run picks the same one, and
//     the search launches nothing, so it may run while a CUDA graph is captured);
//   otherwise the fastest that cudnnFind* measured (it launches and synchronises, so a
//     shape first seen while capturing ends the capture with a message instead).
// The workspace and the masked-dy scratch are GraphSafeBuffers: memory handed out while the
// stream was captured is never freed while the thread lives, so a graph's replays never use
// freed memory.
// Tensors are NCHW, fully packed; sizes arrive validated (< 2^31 elements each).
#pragma once

#include <cudnn.h>

#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cudnn_bookkeeping.h"

namespace melgrad::kernels::detail {
namespace {

void check_cudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(call) + " failed: " + cudnnGetErrorString(status) +
                             " at " + file + ":" + std::to_string(line));
  }
}
#define MG_CUDNN_CHECK(call) check_cudnn((call), #call, __FILE__, __LINE__)

int as_int(int64_t v) { return static_cast<int>(v); }

// RAII wrappers of the descriptors used here.
template <class T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Descriptor {
 public:
  Descriptor() { MG_CUDNN_CHECK(Create(&d_)); }
  ~Descriptor() { Destroy(d_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  operator T() const { return d_; }

 private:
  T d_{};
};
using TensorDesc =
    Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc =
    Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc = Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                            cudnnDestroyConvolutionDescriptor>;
using PoolDesc = Descriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor,
                            cudnnDestroyPoolingDescriptor>;
using ActDesc = Descriptor<cudnnActivationDescriptor_t, cudnnCreateActivationDescriptor,
                           cudnnDestroyActivationDescriptor>;

void set_nchw(cudnnTensorDescriptor_t d, int64_t n, int64_t c, int64_t h, int64_t w) {
  MG_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, as_int(n),
                                            as_int(c), as_int(h), as_int(w)));
}

// Whether `stream` is being captured into a CUDA graph (what it is handed then, a graph
// keeps).
bool capturing(Stream stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  MG_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  return status != cudaStreamCaptureStatusNone;
}

void* device_alloc_or_throw(std::size_t bytes) {
  void* p = nullptr;
  MG_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

// Per host thread: the handle, the workspace, scratch for masked dy, and the algorithms
// chosen per convolution shape, pass and determinism.
class Context {
 public:
  Context() { MG_CUDNN_CHECK(cudnnCreate(&handle_)); }
  ~Context() {
    if (handle_ != nullptr) cudnnDestroy(handle_);  // may run after the CUDA context is gone
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  cudnnHandle_t handle(Stream stream) {
    MG_CUDNN_CHECK(cudnnSetStream(handle_, stream));
    return handle_;
  }
  void* workspace(std::size_t bytes, Stream stream) {
    return workspace_.get(bytes, capturing(stream));
  }
  float* scratch(std::size_t floats, Stream stream) {
    return static_cast<float*>(scratch_.get(floats * sizeof(float), capturing(stream)));
  }

  // pass, deterministic, N C H W O kh kw sh sw ph pw
  using Key = std::tuple<int, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                         int64_t, int64_t, int64_t, int64_t>;
  CudnnAlgorithmCache<Key> algos;

 private:
  cudnnHandle_t handle_ = nullptr;
  GraphSafeBuffer workspace_{device_alloc_or_throw, [](void* p) { cudaFree(p); }};
  GraphSafeBuffer scratch_{device_alloc_or_throw, [](void* p) { cudaFree(p); }};
};

Context& context() {
  thread_local Context ctx;
  return ctx;
}

// The descriptors of one convolution.
struct ConvDescs {
  TensorDesc x, y, bias;
  FilterDesc w;
  ConvDesc conv;
  explicit ConvDescs(const Conv2dShape& s) {
    set_nchw(x, s.N, s.C, s.H, s.W);
    set_nchw(y, s.N, s.O, s.out_h(), s.out_w());
    set_nchw(bias, 1, s.O, 1, 1);
    MG_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, as_int(s.O),
                                              as_int(s.C), as_int(s.kh), as_int(s.kw)));
    MG_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, as_int(s.pad_h), as_int(s.pad_w),
                                                   as_int(s.stride_h), as_int(s.stride_w), 1, 1,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    MG_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH));
  }
};

Context::Key conv_key(int pass, bool deterministic, const Conv2dShape& s) {
  return {pass, deterministic, s.N,        s.C,        s.H,     s.W,    s.O,
          s.kh, s.kw,          s.stride_h, s.stride_w, s.pad_h, s.pad_w};
}

template <class Perf>
std::vector<CudnnAlgoCandidate> candidates(const Perf* perf, int count) {
  std::vector<CudnnAlgoCandidate> list;
  for (int i = 0; i < count; ++i) {
    list.push_back({static_cast<int>(perf[i].algo), perf[i].status == CUDNN_STATUS_SUCCESS,
                    perf[i].determinism == CUDNN_DETERMINISTIC});
  }
  return list;
}

// The algorithm of one pass (see the header comment): `rank(perf, &count)` runs cuDNN's
// heuristics (cudnnGet*_v7), `measure(perf, &count)` its timed search (cudnnFind*).
template <class Perf, int kCount, class Rank, class Measure>
int choose_conv_algo(Context& ctx, const Context::Key& key, bool deterministic, Stream stream,
                     const char* what, Rank rank, Measure measure) {
  return ctx.algos.find_or_search(key, [&] {
    Perf perf[kCount];
    int count = 0;
    if (deterministic) {
      MG_CUDNN_CHECK(rank(perf, &count));
    } else {
      if (capturing(stream)) {
        throw std::runtime_error(
            std::string(what) +
            ": cuDNN's timed algorithm search (cudnnFind*, with --deterministic off) cannot run "
            "while a CUDA graph is captured; the shape must run eagerly once first");
      }
      MG_CUDNN_CHECK(measure(perf, &count));
    }
    return choose_cudnn_algorithm(candidates(perf, count), deterministic, what);
  });
}

// dy, or dy * (relu_y > 0) in scratch when the forward fused a ReLU.
const float* masked_dy(cudnnHandle_t h, const cudnnTensorDescriptor_t yd, const float* dy,
                       const float* relu_y, const Conv2dShape& s, Stream stream) {
  if (relu_y == nullptr) return dy;
  float* out =
      context().scratch(static_cast<std::size_t>(s.N * s.O * s.out_h() * s.out_w()), stream);
  ActDesc act;
  MG_CUDNN_CHECK(
      cudnnSetActivationDescriptor(act, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0));
  const float one = 1.0f, zero = 0.0f;
  MG_CUDNN_CHECK(
      cudnnActivationBackward(h, act, &one, yd, relu_y, yd, dy, yd, relu_y, &zero, yd, out));
  return out;
}

}  // namespace

void cudnn_conv2d_forward(const Conv2dForwardParams& p, Stream stream) {
  Context& ctx = context();
  cudnnHandle_t h = ctx.handle(stream);
  const ConvDescs d(p.shape);
  constexpr int kCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  const auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(
      choose_conv_algo<cudnnConvolutionFwdAlgoPerf_t, kCount>(
          ctx, conv_key(0, p.deterministic, p.shape), p.deterministic, stream, "conv2d_forward",
          [&](cudnnConvolutionFwdAlgoPerf_t* perf, int* count) {
            return cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, kCount, count,
                                                          perf);
          },
          [&](cudnnConvolutionFwdAlgoPerf_t* perf, int* count) {
            return cudnnFindConvolutionForwardAlgorithm(h, d.x, d.w, d.conv, d.y, kCount, count,
                                                        perf);
          }));
  std::size_t bytes = 0;
  MG_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv, d.y, algo, &bytes));
  const float one = 1.0f, zero = 0.0f;
  MG_CUDNN_CHECK(cudnnConvolutionForward(h, &one, d.x, p.x, d.w, p.weight, d.conv, algo,
                                         ctx.workspace(bytes, stream), bytes, &zero, d.y, p.y));
  if (p.bias != nullptr) MG_CUDNN_CHECK(cudnnAddTensor(h, &one, d.bias, p.bias, &one, d.y, p.y));
  if (p.relu) {
    ActDesc act;
    MG_CUDNN_CHECK(
        cudnnSetActivationDescriptor(act, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0));
    MG_CUDNN_CHECK(cudnnActivationForward(h, act, &one, d.y, p.y, &zero, d.y, p.y));
  }
}

void cudnn_conv2d_backward_data(const Conv2dBackwardDataParams& p, Stream stream) {
  Context& ctx = context();
  cudnnHandle_t h = ctx.handle(stream);
  const ConvDescs d(p.shape);
  const float* dy = masked_dy(h, d.y, p.dy, p.relu_y, p.shape, stream);
  constexpr int kCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  const auto algo = static_cast<cudnnConvolutionBwdDataAlgo_t>(
      choose_conv_algo<cudnnConvolutionBwdDataAlgoPerf_t, kCount>(
          ctx, conv_key(1, p.deterministic, p.shape), p.deterministic, stream,
          "conv2d_backward_data",
          [&](cudnnConvolutionBwdDataAlgoPerf_t* perf, int* count) {
            return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x, kCount,
                                                               count, perf);
          },
          [&](cudnnConvolutionBwdDataAlgoPerf_t* perf, int* count) {
            return cudnnFindConvolutionBackwardDataAlgorithm(h, d.w, d.y, d.conv, d.x, kCount,
                                                             count, perf);
          }));
  std::size_t bytes = 0;
  MG_CUDNN_CHECK(
      cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.conv, d.x, algo, &bytes));
  const float one = 1.0f, zero = 0.0f;
  MG_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, d.w, p.weight, d.y, dy, d.conv, algo,
                                              ctx.workspace(bytes, stream), bytes, &zero, d.x,
                                              p.dx));
}

void cudnn_conv2d_backward_filter(const Conv2dBackwardFilterParams& p, Stream stream) {
  Context& ctx = context();
  cudnnHandle_t h = ctx.handle(stream);
  const ConvDescs d(p.shape);
  const float* dy = masked_dy(h, d.y, p.dy, p.relu_y, p.shape, stream);
  const float one = 1.0f, zero = 0.0f;
  if (p.dweight != nullptr) {
    constexpr int kCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
    const auto algo = static_cast<cudnnConvolutionBwdFilterAlgo_t>(
        choose_conv_algo<cudnnConvolutionBwdFilterAlgoPerf_t, kCount>(
            ctx, conv_key(2, p.deterministic, p.shape), p.deterministic, stream,
            "conv2d_backward_filter",
            [&](cudnnConvolutionBwdFilterAlgoPerf_t* perf, int* count) {
              return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w, kCount,
                                                                   count, perf);
            },
            [&](cudnnConvolutionBwdFilterAlgoPerf_t* perf, int* count) {
              return cudnnFindConvolutionBackwardFilterAlgorithm(h, d.x, d.y, d.conv, d.w, kCount,
                                                                 count, perf);
            }));
    std::size_t bytes = 0;
    MG_CUDNN_CHECK(
        cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x, d.y, d.conv, d.w, algo, &bytes));
    MG_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, d.x, p.x, d.y, dy, d.conv, algo,
                                                  ctx.workspace(bytes, stream), bytes, &zero, d.w,
                                                  p.dweight));
  }
  if (p.dbias != nullptr)
    MG_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, d.y, dy, &zero, d.bias, p.dbias));
}

namespace {
struct PoolDescs {
  TensorDesc x, y;
  PoolDesc pool;
  explicit PoolDescs(const Pool2dShape& s) {
    set_nchw(x, s.N, s.C, s.H, s.W);
    set_nchw(y, s.N, s.C, s.out_h(), s.out_w());
    MG_CUDNN_CHECK(cudnnSetPooling2dDescriptor(
        pool, CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_PROPAGATE_NAN, as_int(s.kh), as_int(s.kw),
        as_int(s.pad_h), as_int(s.pad_w), as_int(s.stride_h), as_int(s.stride_w)));
  }
};
}  // namespace

void cudnn_max_pool2d_forward(const Pool2dForwardParams& p, Stream stream) {
  cudnnHandle_t h = context().handle(stream);
  const PoolDescs d(p.shape);
  const float one = 1.0f, zero = 0.0f;
  MG_CUDNN_CHECK(cudnnPoolingForward(h, d.pool, &one, d.x, p.x, &zero, d.y, p.y));
}

void cudnn_max_pool2d_backward(const Pool2dBackwardParams& p, Stream stream) {
  cudnnHandle_t h = context().handle(stream);
  const PoolDescs d(p.shape);
  const float one = 1.0f, zero = 0.0f;
  MG_CUDNN_CHECK(
      cudnnPoolingBackward(h, d.pool, &one, d.y, p.y, d.y, p.dy, d.x, p.x, &zero, d.x, p.dx));
}

namespace {
struct NormDescs {
  TensorDesc x, channel;
  NormDescs(int64_t N, int64_t C, int64_t S) {
    set_nchw(x, N, C, S, 1);
    MG_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(channel, x, CUDNN_BATCHNORM_SPATIAL));
  }
};
}  // namespace

void cudnn_batch_norm_forward(const BatchNormForwardParams& p, Stream stream) {
  cudnnHandle_t h = context().handle(stream);
  const NormDescs d(p.N, p.C, p.S);
  const float one = 1.0f, zero = 0.0f;
  if (p.training || p.running_mean == nullptr) {
    MG_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
        h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, p.x, d.x, p.y, d.channel, p.weight, p.bias,
        p.momentum, p.training ? p.running_mean : nullptr, p.training ? p.running_var : nullptr,
        p.eps, p.save_mean, p.save_invstd));
  } else {
    MG_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
        h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, p.x, d.x, p.y, d.channel, p.weight, p.bias,
        p.running_mean, p.running_var, p.eps));
  }
}

void cudnn_batch_norm_backward(const BatchNormBackwardParams& p, Stream stream) {
  cudnnHandle_t h = context().handle(stream);
  const NormDescs d(p.N, p.C, p.S);
  const float one = 1.0f, zero = 0.0f;
  MG_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, d.x, p.x, d.x, p.dy, d.x, p.dx,
      d.channel, p.weight, p.dweight, p.dbias, p.eps, p.save_mean, p.save_invstd));
}

}  // namespace melgrad::kernels::detail
