// cuDNN's RNN API (v8 entry points of cuDNN 9) for one LSTM layer: CudnnLstmLayer (see
// kernels/cudnn_rnn.h) and the MELGRAD_LSTM switch. Descriptors: LSTM cell, double bias,
// linear input, one layer, uni- or bidirectional, float32 data and math (FMA, or TF32 when
// allowed), padded I/O; x and y as BATCH_MAJOR_UNPACKED RNN data with per-sequence lengths;
// h and c as [D, N, H] tensors. The packed weight space holds per pseudo-layer (direction)
// d eight matrices and eight biases, linLayerID 0-3 = W_ih of gates i, f, g, o and 4-7 =
// W_hh, whose offsets are looked up once (cudnnGetRNNWeightParams) and then used for plain
// device-to-device copies. In builds without cuDNN (the emulator, or nvcc without the
// library) the layer's constructor throws.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cudnn_rnn.h"
#include "kernels/emu/cuda_compat.h"

#if !MG_EMULATED && defined(MELGRAD_HAVE_CUDNN)
#include <cudnn.h>
#define MG_WITH_CUDNN 1
#else
#define MG_WITH_CUDNN 0
#endif

namespace melgrad::kernels {

LstmImpl lstm_impl() {
  const char* env = std::getenv("MELGRAD_LSTM");
  const std::string v = env != nullptr ? env : "";
  if (v.empty() || v == "melgrad") return LstmImpl::melgrad;
  if (v == "cudnn") return cudnn_rnn_available() ? LstmImpl::cudnn : LstmImpl::melgrad;
  throw std::invalid_argument("MELGRAD_LSTM='" + v + "': expected melgrad or cudnn");
}

#if MG_WITH_CUDNN

bool cudnn_rnn_available() { return true; }

namespace {

// "cudnnRNNForward failed at cudnn_rnn.cu:212: CUDNN_STATUS_BAD_PARAM".
[[noreturn]] void fail(const char* call, const char* file, int line, const std::string& why) {
  std::string name(call);
  name = name.substr(0, name.find('('));
  const char* slash = std::strrchr(file, '/');
  throw std::runtime_error("CudnnLstmLayer: " + name + " failed at " +
                           (slash != nullptr ? slash + 1 : file) + ":" + std::to_string(line) +
                           ": " + why);
}
void check(cudnnStatus_t s, const char* call, const char* file, int line) {
  if (s != CUDNN_STATUS_SUCCESS) fail(call, file, line, cudnnGetErrorString(s));
}
void check(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) fail(call, file, line, cudaGetErrorString(e));
}
#define MG_CHECKED(call) check((call), #call, __FILE__, __LINE__)

struct Block {             // a parameter's place in the packed weight space
  std::size_t offset = 0;  // bytes
  std::size_t count = 0;   // floats
};

}  // namespace

struct CudnnLstmLayer::State {
  cudnnHandle_t handle = nullptr;
  cudnnDropoutDescriptor_t dropout = nullptr;
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnRNNDataDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnTensorDescriptor_t h_desc = nullptr;  // [D, N, H], for h and c
  DeviceBuffer<unsigned char> dropout_states, weights, grad_weights, workspace, reserve;
  DeviceBuffer<int32_t> lengths_device;
  std::vector<int> lengths;  // of the last forward
  bool have_reserve = false;
  Block mat[2][8], bias[2][8];

  ~State() {  // destroy functions only fail on invalid handles; nothing to report here
    if (h_desc != nullptr) cudnnDestroyTensorDescriptor(h_desc);
    if (y_desc != nullptr) cudnnDestroyRNNDataDescriptor(y_desc);
    if (x_desc != nullptr) cudnnDestroyRNNDataDescriptor(x_desc);
    if (rnn != nullptr) cudnnDestroyRNNDescriptor(rnn);
    if (dropout != nullptr) cudnnDestroyDropoutDescriptor(dropout);
    if (handle != nullptr) cudnnDestroy(handle);
  }
};

namespace {

// Grows `buf` to at least `bytes` (never shrinks: calls with other lengths reuse it).
void reserve_bytes(DeviceBuffer<unsigned char>& buf, std::size_t bytes) {
  if (buf.size() < bytes) buf = DeviceBuffer<unsigned char>(bytes);
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("CudnnLstmLayer: " + what);
}

}  // namespace

CudnnLstmLayer::CudnnLstmLayer(const CudnnLstmDims& dims) : dims_(dims), state_(new State) {
  const int64_t N = dims.batch, T = dims.steps, I = dims.input, H = dims.hidden;
  const int D = dims.directions;
  require(N >= 1 && T >= 1 && I >= 1 && H >= 1 && (D == 1 || D == 2),
          "dims need N, T, I, H >= 1 and D in {1, 2}");
  require(N * T * std::max(I, D * H) < (int64_t{1} << 31), "dims too large for cuDNN's int sizes");
  State& s = *state_;
  MG_CHECKED(cudnnCreate(&s.handle));
  MG_CHECKED(cudnnCreateDropoutDescriptor(&s.dropout));
  std::size_t states_bytes = 0;
  MG_CHECKED(cudnnDropoutGetStatesSize(s.handle, &states_bytes));
  s.dropout_states = DeviceBuffer<unsigned char>(states_bytes);
  MG_CHECKED(cudnnSetDropoutDescriptor(s.dropout, s.handle, 0.0f, s.dropout_states.data(),
                                       states_bytes, 0));
  MG_CHECKED(cudnnCreateRNNDescriptor(&s.rnn));
  MG_CHECKED(cudnnSetRNNDescriptor_v8(
      s.rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
      D == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
      CUDNN_DATA_FLOAT, dims.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH,
      static_cast<int32_t>(I), static_cast<int32_t>(H), static_cast<int32_t>(H), 1, s.dropout,
      CUDNN_RNN_PADDED_IO_ENABLED));
  MG_CHECKED(cudnnCreateRNNDataDescriptor(&s.x_desc));
  MG_CHECKED(cudnnCreateRNNDataDescriptor(&s.y_desc));
  MG_CHECKED(cudnnCreateTensorDescriptor(&s.h_desc));
  const int h_dims[3] = {D, static_cast<int>(N), static_cast<int>(H)};
  const int h_strides[3] = {static_cast<int>(N * H), static_cast<int>(H), 1};
  MG_CHECKED(cudnnSetTensorNdDescriptor(s.h_desc, CUDNN_DATA_FLOAT, 3, h_dims, h_strides));
  s.lengths_device = DeviceBuffer<int32_t>(static_cast<std::size_t>(N));

  std::size_t weight_bytes = 0;
  MG_CHECKED(cudnnGetRNNWeightSpaceSize(s.handle, s.rnn, &weight_bytes));
  s.weights = DeviceBuffer<unsigned char>(weight_bytes);
  s.grad_weights = DeviceBuffer<unsigned char>(weight_bytes);
  cudnnTensorDescriptor_t m_desc = nullptr, b_desc = nullptr;
  MG_CHECKED(cudnnCreateTensorDescriptor(&m_desc));
  MG_CHECKED(cudnnCreateTensorDescriptor(&b_desc));
  auto elements = [](cudnnTensorDescriptor_t desc) {
    cudnnDataType_t type;
    int nb = 0, dim[8] = {}, stride[8] = {};
    MG_CHECKED(cudnnGetTensorNdDescriptor(desc, 8, &type, &nb, dim, stride));
    std::size_t n = 1;
    for (int i = 0; i < nb; ++i) n *= static_cast<std::size_t>(dim[i]);
    return n;
  };
  try {
    for (int d = 0; d < D; ++d) {
      for (int lin = 0; lin < 8; ++lin) {
        void* m = nullptr;
        void* b = nullptr;
        MG_CHECKED(cudnnGetRNNWeightParams(s.handle, s.rnn, d, weight_bytes, s.weights.data(), lin,
                                           m_desc, &m, b_desc, &b));
        const auto base = reinterpret_cast<std::uintptr_t>(s.weights.data());
        s.mat[d][lin] = {reinterpret_cast<std::uintptr_t>(m) - base, elements(m_desc)};
        s.bias[d][lin] = {reinterpret_cast<std::uintptr_t>(b) - base, elements(b_desc)};
        const std::size_t want = static_cast<std::size_t>(H * (lin < 4 ? I : H));
        if (m == nullptr || b == nullptr || s.mat[d][lin].count != want ||
            s.bias[d][lin].count != static_cast<std::size_t>(H)) {
          throw std::runtime_error(
              "CudnnLstmLayer: cuDNN's weight space holds an unexpected "
              "layout for direction " +
              std::to_string(d) + ", matrix " + std::to_string(lin));
        }
      }
    }
  } catch (...) {
    cudnnDestroyTensorDescriptor(m_desc);
    cudnnDestroyTensorDescriptor(b_desc);
    throw;
  }
  MG_CHECKED(cudnnDestroyTensorDescriptor(m_desc));
  MG_CHECKED(cudnnDestroyTensorDescriptor(b_desc));
}

CudnnLstmLayer::~CudnnLstmLayer() = default;

std::size_t CudnnLstmLayer::weight_space_bytes() const { return state_->weights.size(); }

void CudnnLstmLayer::set_weights(const float* const w_ih[2], const float* const w_hh[2],
                                 const float* const b_ih[2], const float* const b_hh[2],
                                 Stream stream) {
  State& s = *state_;
  const std::size_t H = static_cast<std::size_t>(dims_.hidden),
                    I = static_cast<std::size_t>(dims_.input);
  for (int d = 0; d < dims_.directions; ++d) {
    require(w_ih[d] != nullptr && w_hh[d] != nullptr && b_ih[d] != nullptr && b_hh[d] != nullptr,
            "set_weights: a parameter of direction " + std::to_string(d) + " is null");
    for (int lin = 0; lin < 8; ++lin) {
      const int g = lin % 4;
      const float* m = lin < 4 ? w_ih[d] + g * H * I : w_hh[d] + g * H * H;
      const float* b = (lin < 4 ? b_ih[d] : b_hh[d]) + g * H;
      MG_CHECKED(cudaMemcpyAsync(s.weights.data() + s.mat[d][lin].offset, m,
                                 s.mat[d][lin].count * sizeof(float), cudaMemcpyDeviceToDevice,
                                 stream));
      MG_CHECKED(cudaMemcpyAsync(s.weights.data() + s.bias[d][lin].offset, b, H * sizeof(float),
                                 cudaMemcpyDeviceToDevice, stream));
    }
  }
}

void CudnnLstmLayer::forward(const CudnnLstmForwardParams& p, Stream stream) {
  State& s = *state_;
  const int64_t N = dims_.batch, T = dims_.steps;
  const int D = dims_.directions;
  require(p.x != nullptr && p.lengths_host != nullptr && p.output != nullptr,
          "forward: x, lengths_host and output are required");
  s.lengths.resize(static_cast<std::size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    const int64_t len = p.lengths_host[n];
    require(len >= 1 && len <= T, "forward: lengths[" + std::to_string(n) +
                                      "] = " + std::to_string(len) +
                                      " is outside [1, T = " + std::to_string(T) + "]");
    s.lengths[static_cast<std::size_t>(n)] = static_cast<int>(len);
  }
  float zero = 0.0f;
  MG_CHECKED(cudnnSetRNNDataDescriptor(
      s.x_desc, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, static_cast<int>(T),
      static_cast<int>(N), static_cast<int>(dims_.input), s.lengths.data(), &zero));
  MG_CHECKED(cudnnSetRNNDataDescriptor(
      s.y_desc, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, static_cast<int>(T),
      static_cast<int>(N), static_cast<int>(D * dims_.hidden), s.lengths.data(), &zero));
  // Pageable source: the copy has left s.lengths when cudaMemcpyAsync returns.
  MG_CHECKED(cudaMemcpyAsync(s.lengths_device.data(), s.lengths.data(),
                             s.lengths.size() * sizeof(int32_t), cudaMemcpyHostToDevice, stream));
  MG_CHECKED(cudnnSetStream(s.handle, stream));
  const cudnnForwardMode_t mode = p.training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE;
  std::size_t work_bytes = 0, reserve_bytes_needed = 0;
  MG_CHECKED(cudnnGetRNNTempSpaceSizes(s.handle, s.rnn, mode, s.x_desc, &work_bytes,
                                       &reserve_bytes_needed));
  reserve_bytes(s.workspace, work_bytes);
  reserve_bytes(s.reserve, reserve_bytes_needed);
  MG_CHECKED(cudnnRNNForward(s.handle, s.rnn, mode, s.lengths_device.data(), s.x_desc, p.x,
                             s.y_desc, p.output, s.h_desc, nullptr, p.h_n, s.h_desc, nullptr, p.c_n,
                             s.weights.size(), s.weights.data(), s.workspace.size(),
                             s.workspace.data(), s.reserve.size(), s.reserve.data()));
  s.have_reserve = p.training;
}

void CudnnLstmLayer::backward(const CudnnLstmBackwardParams& p, Stream stream) {
  State& s = *state_;
  if (!s.have_reserve) {
    throw std::logic_error(
        "CudnnLstmLayer: backward() needs a forward() with training = true first");
  }
  require(p.x != nullptr && p.output != nullptr && p.grad_output != nullptr && p.grad_x != nullptr,
          "backward: x, output, grad_output and grad_x are required");
  MG_CHECKED(cudnnSetStream(s.handle, stream));
  MG_CHECKED(cudnnRNNBackwardData_v8(s.handle, s.rnn, s.lengths_device.data(), s.y_desc, p.output,
                                     p.grad_output, s.x_desc, p.grad_x, s.h_desc, nullptr,
                                     p.grad_h_n, nullptr, s.h_desc, nullptr, p.grad_c_n, nullptr,
                                     s.weights.size(), s.weights.data(), s.workspace.size(),
                                     s.workspace.data(), s.reserve.size(), s.reserve.data()));
  // cuDNN only adds weight gradients (CUDNN_WGRAD_MODE_ADD): start from zero.
  MG_CHECKED(cudaMemsetAsync(s.grad_weights.data(), 0, s.grad_weights.size(), stream));
  MG_CHECKED(cudnnRNNBackwardWeights_v8(
      s.handle, s.rnn, CUDNN_WGRAD_MODE_ADD, s.lengths_device.data(), s.x_desc, p.x, s.h_desc,
      nullptr, s.y_desc, p.output, s.grad_weights.size(), s.grad_weights.data(), s.workspace.size(),
      s.workspace.data(), s.reserve.size(), s.reserve.data()));
  const std::size_t H = static_cast<std::size_t>(dims_.hidden),
                    I = static_cast<std::size_t>(dims_.input);
  for (int d = 0; d < dims_.directions; ++d) {
    for (int lin = 0; lin < 8; ++lin) {
      const int g = lin % 4;
      float* m = lin < 4 ? p.grad_w_ih[d] : p.grad_w_hh[d];
      float* b = lin < 4 ? p.grad_b_ih[d] : p.grad_b_hh[d];
      if (m != nullptr) {
        MG_CHECKED(cudaMemcpyAsync(
            m + g * H * (lin < 4 ? I : H), s.grad_weights.data() + s.mat[d][lin].offset,
            s.mat[d][lin].count * sizeof(float), cudaMemcpyDeviceToDevice, stream));
      }
      if (b != nullptr) {
        MG_CHECKED(cudaMemcpyAsync(b + g * H, s.grad_weights.data() + s.bias[d][lin].offset,
                                   H * sizeof(float), cudaMemcpyDeviceToDevice, stream));
      }
    }
  }
}

#else  // no cuDNN in this build

bool cudnn_rnn_available() { return false; }

struct CudnnLstmLayer::State {};

namespace {
[[noreturn]] void unavailable() {
  throw std::runtime_error(std::string("CudnnLstmLayer: cuDNN is not available in this build (") +
                           backend_name() + (MG_EMULATED ? ")" : " without cuDNN)"));
}
}  // namespace

// The constructor throws, so no other member can be reached; they throw all the same.
CudnnLstmLayer::CudnnLstmLayer(const CudnnLstmDims& dims) : dims_(dims) { unavailable(); }
CudnnLstmLayer::~CudnnLstmLayer() = default;
std::size_t CudnnLstmLayer::weight_space_bytes() const { unavailable(); }
void CudnnLstmLayer::set_weights(const float* const*, const float* const*, const float* const*,
                                 const float* const*, Stream) {
  unavailable();
}
void CudnnLstmLayer::forward(const CudnnLstmForwardParams&, Stream) { unavailable(); }
void CudnnLstmLayer::backward(const CudnnLstmBackwardParams&, Stream) { unavailable(); }

#endif

}  // namespace melgrad::kernels
