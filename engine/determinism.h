// Whether the backends must run bit-reproducible algorithms, as PyTorch's
// torch.backends.cudnn.deterministic: on by default, so that the same seed gives the same
// numbers from run to run and a CUDA-graphed training step equals an eager one bit for bit.
//   CPU          always deterministic (fixed summation orders; threads split work at fixed
//                boundaries, engine/cpu/parallel.h), whatever the setting;
//   cuda, ours   the melgrad kernels are deterministic (no floating-point atomics; split
//                sums are added in a fixed order), whatever the setting;
//   cuda, cuDNN  convolutions take the first deterministic algorithm of cuDNN's heuristic
//                ranking when on, the fastest cudnnFind* measures when off (timing noise
//                may pick another one in another run, and cuDNN's atomics-based backward
//                algorithms differ from call to call); pooling and batch norm are
//                deterministic either way (kernels/cudnn_layers_impl.cuh);
//   cuda, cuBLAS deterministic for a given GPU model and library version (one workspace
//                per stream, kernels/gemm_cublas.cu).
// Initial value: MELGRAD_DETERMINISTIC (on/1 or off/0; unset: on); training commands take
// --deterministic on|off (experiments/experiment_cli.cpp).
#pragma once

#include <string_view>

namespace melgrad {

bool deterministic_algorithms();
void set_deterministic_algorithms(bool on);

// "on"/"1" -> true, "off"/"0" -> false; anything else throws std::invalid_argument naming
// `what` (the variable or option) and the value.
bool parse_deterministic(std::string_view what, std::string_view text);

}  // namespace melgrad
