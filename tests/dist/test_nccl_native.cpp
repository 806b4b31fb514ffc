// The NCCL transport (engine/dist/nccl_transport.cpp) on one GPU, one rank: the only
// configuration a CI machine can have (a multi-GPU machine is not available to us). Its
// main exits with 77 (CTest: skipped) without a GPU.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "engine/cuda/cuda.h"
#include "engine/dist/transport.h"

using namespace melgrad;

TEST_CASE("NCCL collectives on one rank keep and gather CUDA tensors") {
  dist::Transport& w = dist::world();
  REQUIRE(w.size() == 1);
  std::unique_ptr<dist::Transport> nccl = dist::make_device_transport(w);
  CHECK(nccl->name() == "nccl");
  const Device gpu = Device::parse("cuda:0");
  Tensor x = Tensor::from_vector(std::vector<float>{1.5f, -2.0f, 3.25f}, {3}).to(gpu);
  nccl->all_reduce(x);
  CHECK(x.to_vector() == std::vector<double>{1.5, -2.0, 3.25});
  nccl->broadcast(x, 0);
  CHECK(x.to_vector() == std::vector<double>{1.5, -2.0, 3.25});
  Tensor all = nccl->all_gather(x);
  CHECK(all.shape() == Shape{1, 3});
  CHECK(all.device() == gpu);
  CHECK(all.to_vector() == std::vector<double>{1.5, -2.0, 3.25});
  Tensor host = Tensor::zeros({3});
  CHECK_THROWS_WITH_AS(nccl->all_reduce(host), doctest::Contains("CUDA tensor"),
                       std::invalid_argument);
}

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  if (!cuda::device_available()) {
    std::printf("test_dist_nccl_native: no CUDA device available; skipping\n");
    return 77;
  }
  const int rc = context.run();
  dist::finalize();
  return rc;
}
