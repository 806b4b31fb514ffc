// Implementation selection for the CNN layers (kernels/cudnn.h): parsing the MELGRAD_CONV /
// MELGRAD_POOL / MELGRAD_BATCHNORM variables and resolving `automatic`. Plain host code in
// both builds; whether cuDNN is linked comes from MELGRAD_HAVE_CUDNN (nvcc build only).
// clang-format off: the CUDA / emulator shim comes first
#include "kernels/emu/cuda_compat.h"
// clang-format on
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/cudnn.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels {

DnnImpl parse_dnn_impl(std::string_view variable, std::string_view text) {
  if (text.empty() || text == "auto") return DnnImpl::automatic;
  if (text == "melgrad") return DnnImpl::melgrad;
  if (text == "cudnn") return DnnImpl::cudnn;
  throw std::invalid_argument(std::string(variable) + ": unknown implementation '" +
                              std::string(text) + "' (expected melgrad or cudnn)");
}

const char* dnn_impl_name(DnnImpl impl) {
  switch (impl) {
    case DnnImpl::melgrad:
      return "melgrad";
    case DnnImpl::cudnn:
      return "cudnn";
    default:
      return "auto";
  }
}

bool cudnn_built() {
#if !MG_EMULATED && defined(MELGRAD_HAVE_CUDNN)
  return true;
#else
  return false;
#endif
}

std::vector<DnnImpl> available_dnn_impls() {
  if (cudnn_built()) return {DnnImpl::melgrad, DnnImpl::cudnn};
  return {DnnImpl::melgrad};
}

namespace detail {

DnnImpl dnn_impl_from_env(const char* variable) {
  const char* env = std::getenv(variable);
  return parse_dnn_impl(variable, env != nullptr ? env : "");
}

DnnImpl resolve_dnn_impl(const char* launcher, DnnImpl requested, DnnImpl process_default,
                         bool cudnn_supports, const char* unsupported_reason) {
  DnnImpl impl = requested == DnnImpl::automatic ? process_default : requested;
  if (impl == DnnImpl::automatic) {
    return cudnn_built() && cudnn_supports ? DnnImpl::cudnn : DnnImpl::melgrad;
  }
  if (impl == DnnImpl::cudnn) {
    if (!cudnn_built()) {
      invalid_params(launcher,
                     "the cuDNN implementation was requested but this build has no cuDNN (" +
                         std::string(MG_EMULATED ? "the emulator build" : "cuDNN was not found") +
                         "); use melgrad");
    }
    if (!cudnn_supports) {
      invalid_params(launcher, std::string("cuDNN cannot do this call: ") + unsupported_reason +
                                   "; use melgrad");
    }
  }
  if (impl != DnnImpl::melgrad && impl != DnnImpl::cudnn) {
    invalid_params(launcher, "unknown impl " + std::to_string(static_cast<int>(impl)));
  }
  return impl;
}

}  // namespace detail
}  // namespace melgrad::kernels
