// Streamed data under mpirun (datasets/clip_stream.h): each rank reads only the clips of its
// shard of every global batch from the HDF5 cache, and the ranks' shards in rank order give
// back the single process's chunked order. Also runs as one process (reads everything).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>

#include "datasets/batcher.h"
#include "datasets/clip_stream.h"
#include "datasets/splits.h"
#include "datasets/synth_dataset.h"
#include "engine/dist/transport.h"

using namespace melgrad;

TEST_CASE("streamed batches: every rank reads only its shard; the shards give the whole order") {
  dist::Transport& world = dist::world();
  namespace fs = std::filesystem;
  std::string folder;
  if (world.rank() == 0) {
    std::string tmpl = (fs::temp_directory_path() / "melgrad-stream-shards-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()));
    folder = tmpl;
    data::SynthOptions o;
    o.short_arrays = true;
    o.progress = data::Progress::never;
    data::make_dataset(folder + "/data", o);
  }
  world.broadcast_bytes(folder, 0);
  data::LoadOptions lo;
  lo.features = data::Features::mel;
  lo.cache_dir = folder + "/cache";
  lo.progress = data::Progress::never;
  lo.stream = data::StreamMode::on;
  // Rank 0 writes the cache; the others read it after.
  data::SubsetData streamed;
  for (int turn = 0; turn < 2; ++turn) {
    if ((turn == 0) == (world.rank() == 0))
      streamed = data::load_subset(folder + "/data", data::Subset::genre, lo);
    world.barrier();
  }
  REQUIRE(streamed.stream);
  const data::Splits splits = data::make_splits(streamed);
  const data::BatcherOptions options{.batch_size = 12,
                                     .seed = 9,
                                     .shard_rank = world.rank(),
                                     .shard_count = world.size(),
                                     .chunk_clips = 24};
  data::Batcher batcher(streamed, splits.train, options);
  batcher.start_epoch(1);
  const std::vector<int64_t> order = batcher.epoch_order();
  std::string mine;  // this rank's clip indices, batch by batch: "i,i,...;"
  int64_t clips = 0;
  data::Batch b;
  while (batcher.next(b)) {
    clips += b.size();
    for (int64_t i : b.indices) mine += std::to_string(i) + ",";
    mine += ";";
  }
  CHECK(streamed.stream->clips_read() == clips);  // nothing but its shard was read
  if (world.size() > 1) CHECK(clips < int64_t(splits.train.size()));
  const std::vector<std::string> all = world.all_gather_bytes(mine);
  // Batch k of every rank, in rank order, is the global batch k of the single order.
  std::vector<std::vector<std::string>> batches(all.size());
  for (size_t r = 0; r < all.size(); ++r) {
    size_t start = 0;
    for (size_t end; (end = all[r].find(';', start)) != std::string::npos; start = end + 1)
      batches[r].push_back(all[r].substr(start, end - start));
  }
  std::string joined;
  for (size_t k = 0; k < batches[0].size(); ++k)
    for (size_t r = 0; r < batches.size(); ++r) joined += batches[r].at(k);
  std::string expected;
  for (int64_t i : order) expected += std::to_string(i) + ",";
  CHECK(joined == expected);
  world.barrier();
  if (world.rank() == 0) fs::remove_all(folder);
}
