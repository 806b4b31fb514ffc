// The cuBLAS path of gemm() (see gemm_cublas.h). cuBLAS is column-major: a row-major
// matrix X [r, c] with row stride ld is the column-major X^T [c, r] with the same leading
// dimension, so the row-major C = op(A) op(B) is computed as the column-major
// C^T = op(B)^T op(A)^T, i.e. cublasSgemm(opB, opA, n, m, k, B, A, C) on the same buffers.
// One cuBLAS handle per host thread (cuBLAS handles are not safe to share between threads
// that set different streams), created on first use; FP32 math (CUBLAS_DEFAULT_MATH), so
// it computes what the melgrad kernel computes (no TF32 unless NVIDIA_TF32_OVERRIDE asks).
// Each stream the thread runs GEMMs on gets its own workspace (kCublasWorkspaceBytes, what
// NVIDIA recommends for Hopper), given to cuBLAS with cublasSetWorkspace after every
// cublasSetStream (which resets it): cuBLAS then never allocates one of its own while a CUDA
// graph is captured, picks the same kernels captured and eager (so a graphed step equals an
// eager one bit for bit), and concurrent streams never share scratch (NVIDIA's condition for
// reproducible results). The workspaces live as long as the thread, so a graph that
// captured a GEMM never points at freed memory.
#include <climits>
#include <map>
#include <stdexcept>
#include <string>

#include "kernels/emu/cuda_compat.h"
#include "kernels/gemm_cublas.h"
#include "kernels/launch_checks.h"

#if !MG_EMULATED
#include <cublas_v2.h>
#endif

namespace melgrad::kernels::detail {

#if MG_EMULATED

bool cublas_built() { return false; }

void gemm_cublas(const GemmParams&, Stream) {
  throw std::runtime_error(
      "gemm: the cuBLAS implementation was requested (MELGRAD_GEMM=cublas or "
      "GemmParams::impl = cublas) but this is the emulator build, which has no cuBLAS; use "
      "MELGRAD_GEMM=melgrad");
}

#else

namespace {

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(call) + " failed: " + cublasGetStatusName(status) + " (" +
                             cublasGetStatusString(status) + ") at " + file + ":" +
                             std::to_string(line));
  }
}
#define MG_CUBLAS_CHECK(call) check_cublas((call), #call, __FILE__, __LINE__)

constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;

class CublasHandle {
 public:
  CublasHandle() {
    MG_CUBLAS_CHECK(cublasCreate(&handle_));
    MG_CUBLAS_CHECK(cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH));
  }
  ~CublasHandle() {
    if (handle_ != nullptr) cublasDestroy(handle_);  // may run after the context is gone
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;

  // The handle, set to `stream` and to that stream's workspace.
  cublasHandle_t on(Stream stream) {
    auto it = workspaces_.find(stream);
    if (it == workspaces_.end())
      it = workspaces_.emplace(stream, DeviceBuffer<unsigned char>(kCublasWorkspaceBytes)).first;
    MG_CUBLAS_CHECK(cublasSetStream(handle_, stream));
    MG_CUBLAS_CHECK(cublasSetWorkspace(handle_, it->second.data(), it->second.size()));
    return handle_;
  }

 private:
  cublasHandle_t handle_ = nullptr;
  std::map<Stream, DeviceBuffer<unsigned char> > workspaces_;  // per stream, for good
};

CublasHandle& thread_handle() {
  thread_local CublasHandle handle;
  return handle;
}

int as_int(const char* field, int64_t v) {
  if (v > INT_MAX) {
    invalid_params("gemm (cublas)",
                   std::string(field) + " = " + std::to_string(v) + " exceeds cuBLAS's int range");
  }
  return static_cast<int>(v);
}

}  // namespace

bool cublas_built() { return true; }

void gemm_cublas(const GemmParams& p, Stream stream) {
  const cublasHandle_t h = thread_handle().on(stream);
  const cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  MG_CUBLAS_CHECK(cublasSgemmStridedBatched(
      h, op_b, op_a, as_int("n", p.n), as_int("m", p.m), as_int("k", p.k), &p.alpha, p.b,
      as_int("ldb", p.ldb), p.stride_b, p.a, as_int("lda", p.lda), p.stride_a, &p.beta, p.c,
      as_int("ldc", p.ldc), p.stride_c, as_int("batch", p.batch)));
}

#endif

}  // namespace melgrad::kernels::detail
