// GradientBuckets (experiments/distributed.h) on 2 ranks under mpirun and on 1 process: each
// rank's gradient of its shard, weighted by shard size and summed, equals the gradient of
// the whole batch that every rank also computes locally; buckets start during the backward;
// a rank without clips. Tolerance: the batch sum is taken in another order (per shard, then
// over ranks); a float32 sum of n terms is off by up to ~n * 6e-8 * sum|terms|, and where
// terms cancel that is large relative to the gradient itself, so the bound is 1e-5 of the
// tensor's largest gradient (a wrongly weighted shard is off by ~50% of it).
#include <doctest/doctest.h>

#include <cmath>

#include "datasets/batcher.h"
#include "engine/generator.h"
#include "engine/ops/ops.h"
#include "experiments/distributed.h"

using namespace melgrad;

namespace {

struct TwoLayerNet {
  Tensor w1, b1, w2;
  TwoLayerNet() {
    Generator g(3);
    w1 = Tensor::normal({5, 8}, 0, 0.5, g).requires_grad_();
    b1 = Tensor::normal({8}, 0, 0.5, g).requires_grad_();
    w2 = Tensor::normal({8, 3}, 0, 0.5, g).requires_grad_();
  }
  std::vector<Tensor> params() const { return {w1, b1, w2}; }
  // mean over rows of sum(y^2): a per-clip loss averaged over the batch, as the tasks'.
  Tensor loss(const Tensor& x) const {
    const Tensor y = matmul(relu(matmul(x, w1) + b1), w2);
    return mean(sum(y * y, {1}));
  }
};

std::vector<std::vector<double>> gradients(const std::vector<Tensor>& params) {
  std::vector<std::vector<double>> out;
  for (const Tensor& p : params) out.push_back(p.grad().to_vector());
  return out;
}

}  // namespace

TEST_CASE("summed shard gradients weighted by shard size equal the whole batch's gradient") {
  dist::Transport& world = dist::world();
  // 16 bytes: every parameter its own bucket (w2 first: reverse order), reduced in place in
  // the gradient; 1 MiB: one bucket, packed into a flat buffer and unpacked.
  for (const auto& [bucket_bytes, bucket_count] :
       {std::pair{int64_t(16), size_t(3)}, {int64_t(1) << 20, size_t(1)}})
    for (int64_t batch : {32, 31, 1}) {  // even shards, uneven ones, and a rank without clips
      CAPTURE(batch);
      CAPTURE(bucket_bytes);
      TwoLayerNet net;
      Generator g(11);
      const Tensor x = Tensor::normal({batch, 5}, 0, 1, g);
      net.loss(x).backward();
      const auto whole = gradients(net.params());

      experiments::GradientBuckets buckets(world, net.params(), bucket_bytes);
      CHECK(buckets.bucket_count() == bucket_count);
      const data::ShardRange mine = data::shard_of(batch, world.rank(), world.size());
      buckets.begin_step(double(mine.size()) / double(batch));
      if (mine.size() > 0) {
        for (Tensor& p : net.params()) p.zero_grad();
        LeafGradReadyGuard guard = buckets.guard();
        net.loss(x.narrow(0, mine.begin, mine.size())).backward();
        CHECK(buckets.buckets_started() ==
              bucket_count);  // each as soon as its gradients were complete
      } else {
        for (Tensor& p : net.params()) p.zero_grad();
      }
      buckets.finish();
      const auto summed = gradients(net.params());
      for (size_t k = 0; k < whole.size(); ++k) {
        double largest = 0;
        for (double v : whole[k]) largest = std::max(largest, std::abs(v));
        for (size_t i = 0; i < whole[k].size(); ++i)
          CHECK(std::abs(summed[k][i] - whole[k][i]) <= 1e-5 * largest);
      }
    }
}

TEST_CASE("one bucket holds every parameter when it is large enough") {
  TwoLayerNet net;
  experiments::GradientBuckets buckets(dist::world(), net.params(), 25 << 20);
  CHECK(buckets.bucket_count() == 1);
}
