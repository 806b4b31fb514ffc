// The softmax ladder's front door (softmax_ladder.h): the rungs, the variant parser, the
// launcher that validates and dispatches, and the CPU reference (kernels/softmax.h's).
#include <stdexcept>
#include <string>

#include "kernels/emu/cuda_compat.h"
#include "kernels/ladder/softmax_ladder.h"
#include "kernels/softmax.h"

namespace melgrad::kernels {

const std::vector<LadderSoftmaxRung>& ladder_softmax_rungs() {
  static const std::vector<LadderSoftmaxRung> rungs{
      {"naive", "one thread per row, three strided passes"},
      {"shared_tree", "one block per row, a tree in shared memory, a barrier per level"},
      {"warp_shuffle", "one warp per row, a butterfly of __shfl_xor_sync, no barriers"},
      {"online", "one warp per row, max and sum in one pass, float4"},
      {"production", "kernels/softmax.cu, what the engine runs"}};
  return rungs;
}

int ladder_softmax_find(std::string_view variant) {
  const auto& rungs = ladder_softmax_rungs();
  std::string names;
  for (int i = 0; i < static_cast<int>(rungs.size()); ++i) {
    const std::string number = std::to_string(i + 1);
    if (variant == rungs[i].name || variant == number || variant == "v" + number) return i;
    names += (i ? ", v" : "v") + number + " " + rungs[i].name;
  }
  throw std::invalid_argument("softmax ladder: unknown variant '" + std::string(variant) +
                              "' (expected one of: " + names + ")");
}

void ladder_softmax(int rung, const LadderSoftmaxParams& p, Stream stream) {
  const auto& rungs = ladder_softmax_rungs();
  if (rung < 0 || rung >= static_cast<int>(rungs.size()))
    throw std::invalid_argument("softmax ladder: rung " + std::to_string(rung) +
                                " out of range 0.." + std::to_string(rungs.size() - 1));
  if (p.rows < 0 || p.cols < 1)
    throw std::invalid_argument("softmax ladder: need rows >= 0 and cols >= 1, got rows=" +
                                std::to_string(p.rows) + " cols=" + std::to_string(p.cols));
  if (p.rows * p.cols > 2147483647)
    throw std::invalid_argument("softmax ladder: more than 2^31 elements are not supported");
  if (p.rows == 0) return;
  if (p.x == nullptr || p.y == nullptr)
    throw std::invalid_argument("softmax ladder: x and y must be device pointers (one is null)");
  switch (rung) {
    case 0:
      return ladder::softmax_v1_naive(p, stream);
    case 1:
      return ladder::softmax_v2_shared_tree(p, stream);
    case 2:
      return ladder::softmax_v3_warp_shuffle(p, stream);
    case 3:
      return ladder::softmax_v4_online(p, stream);
    default:
      softmax_forward({.x = p.x, .y = p.y, .rows = p.rows, .cols = p.cols}, stream);
  }
}

void ladder_softmax_reference(const LadderSoftmaxParams& p) {
  softmax_forward_reference({.x = p.x, .y = p.y, .rows = p.rows, .cols = p.cols});
}

}  // namespace melgrad::kernels
