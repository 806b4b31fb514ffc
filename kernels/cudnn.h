// Which implementation runs a CNN layer's kernels (convolution, max-pooling, batch norm):
//   melgrad: the hand-written kernels of kernels/{conv,pool,batchnorm}*.cu; the only one in
//            the emulator build (melgrad_kernels_emu);
//   cudnn:   NVIDIA cuDNN, the reference and fast path of the nvcc build when cuDNN was
//            found at configure time (MELGRAD_HAVE_CUDNN).
// Chosen per call (the params' `impl`) or for the process through an environment variable
// per layer family: MELGRAD_CONV, MELGRAD_POOL, MELGRAD_BATCHNORM = melgrad | cudnn.
// Unset: cudnn where it is built and supports the call, else melgrad. Asking for cudnn
// where it is not built, or for a call cuDNN cannot do (e.g. ceil-mode pooling), throws.
// Plain C++: host code includes it in both builds.
#pragma once

#include <string_view>
#include <vector>

namespace melgrad::kernels {

enum class DnnImpl : int {
  automatic,  // the family's environment variable, else the build's default (see above)
  melgrad,
  cudnn,
};

// "melgrad" | "cudnn" | "" or "auto" (automatic); anything else throws std::invalid_argument
// naming `variable` (e.g. "MELGRAD_CONV").
DnnImpl parse_dnn_impl(std::string_view variable, std::string_view text);
const char* dnn_impl_name(DnnImpl impl);
bool cudnn_built();  // true in an nvcc build linked with cuDNN
// The implementations this build provides: {melgrad} or {melgrad, cudnn}.
std::vector<DnnImpl> available_dnn_impls();

namespace detail {
// Reads `variable` (e.g. "MELGRAD_CONV") and parses it; automatic when unset or empty.
DnnImpl dnn_impl_from_env(const char* variable);
// Resolves `requested` (automatic -> `process_default`, then automatic -> cudnn when built
// and `cudnn_supports`, else melgrad); an explicit cudnn request that cannot be served
// throws std::invalid_argument from `launcher` saying why (`unsupported_reason`).
DnnImpl resolve_dnn_impl(const char* launcher, DnnImpl requested, DnnImpl process_default,
                         bool cudnn_supports, const char* unsupported_reason);
}  // namespace detail

}  // namespace melgrad::kernels
