// The softmax ladder: the row reduction behind softmax written five ways, for learning
// how a GPU reduces (docs/KERNEL_LADDER.md, second half). Every rung computes, per row of
// x [rows, cols] (row-major float32, any sizes >= 1):
//   y = exp(x - max(x)) / sum(exp(x - max(x)))
// Rungs (kernels/ladder/softmax_vN_*.cu):
//   1 naive         one thread per row, three sequential passes (max, sum, write)
//   2 shared_tree   one block per row: strided partials, then a tree in shared memory
//                   with a barrier per level
//   3 warp_shuffle  one warp per row: the tree in registers with __shfl_xor_sync, no
//                   shared memory and no barrier
//   4 online        one warp per row, float4 loads, and the "online" softmax: max and sum
//                   in one pass (the sum rescaled when the max grows), two reads of x
//                   instead of three
//   5 production    kernels/softmax.cu (what the engine runs)
// Launchers validate (std::invalid_argument naming the field) and launch on `stream`;
// ladder_softmax_reference is the CPU loop (kernels/softmax.h's reference, double sums).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/runtime.h"

namespace melgrad::kernels {

struct LadderSoftmaxParams {
  int64_t rows = 0, cols = 0;
  const float* x = nullptr;  // [rows, cols]
  float* y = nullptr;        // [rows, cols]
};

struct LadderSoftmaxRung {
  std::string name;
  std::string summary;
};

const std::vector<LadderSoftmaxRung>& ladder_softmax_rungs();
// "v2", "2" or "shared_tree" -> index; else std::invalid_argument listing the names.
int ladder_softmax_find(std::string_view variant);
void ladder_softmax(int rung, const LadderSoftmaxParams& p, Stream stream = nullptr);
void ladder_softmax_reference(const LadderSoftmaxParams& p);  // host pointers

namespace ladder {
void softmax_v1_naive(const LadderSoftmaxParams& p, Stream stream);
void softmax_v2_shared_tree(const LadderSoftmaxParams& p, Stream stream);
void softmax_v3_warp_shuffle(const LadderSoftmaxParams& p, Stream stream);
void softmax_v4_online(const LadderSoftmaxParams& p, Stream stream);
}  // namespace ladder

}  // namespace melgrad::kernels
