// Streaming from the HDF5 cache (datasets/clip_stream.h): a streamed sub-set gives the
// in-memory batches and band statistics bit for bit; the chunked order; the prefetch thread
// (errors thrown by next(), stopped by the destructor mid-epoch); a damaged clip named with
// the cache file; a rank reading only its shard; the cache written a block at a time equal
// to the one written from memory; a load cancelled between clips (Ctrl-C) leaves no temp file.
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>

#include "datasets/batcher.h"
#include "datasets/clip_stream.h"
#include "datasets/h5_cache.h"
#include "datasets/splits.h"
#include "datasets/synth_dataset.h"
#include "tests/data/test_util.h"

using namespace melgrad::data;
using namespace melgrad::data::testing;

namespace {

LoadOptions options(const std::string& cache_dir, StreamMode stream, Features features) {
  LoadOptions o;
  o.features = features;
  o.cache_dir = cache_dir;
  o.progress = Progress::never;
  o.stream = stream;
  return o;
}

// The small generated set with tiny arrays (T 3-5): 288 + 72 genre clips; made once per
// process (read-only: each test case caches it in its own folder).
std::string small_set(const TempDir&) {
  static TempDir dir;
  static const std::string path = [] {
    SynthOptions o;
    o.short_arrays = true;
    o.progress = Progress::never;
    make_dataset(dir / "data", o);
    return dir / "data";
  }();
  return path;
}

void check_same_batch(const Batch& a, const Batch& b) {
  CHECK(a.shape == b.shape);
  CHECK(a.x == b.x);  // bit for bit: the same floats read and standardised the same way
  CHECK(a.lengths == b.lengths);
  CHECK(a.labels == b.labels);
  CHECK(a.ids == b.ids);
  CHECK(a.indices == b.indices);
  CHECK(std::memcmp(a.targets.data(), b.targets.data(), a.targets.size() * 4) == 0);  // NaNs
}

// Flips one bit of clip `clip`'s first value in the cache file, in place.
void flip_value_bit(const std::string& cache_file, const H5CacheIndex& index, size_t clip) {
  std::FILE* f = std::fopen(cache_file.c_str(), "r+b");
  REQUIRE(f);
  const long at = long(index.values_address + uint64_t(index.offsets[clip]) * kFileRows * 4);
  unsigned char byte = 0;
  REQUIRE(std::fseek(f, at, SEEK_SET) == 0);
  REQUIRE(std::fread(&byte, 1, 1, f) == 1);
  byte ^= 0x10;
  REQUIRE(std::fseek(f, at, SEEK_SET) == 0);
  REQUIRE(std::fwrite(&byte, 1, 1, f) == 1);
  std::fclose(f);
}

}  // namespace

TEST_CASE("stream: a streamed sub-set gives the in-memory batches and statistics bit for bit") {
  TempDir dir;
  const std::string data = copy_fixture(dir), cache = dir / "cache";
  for (Subset subset : {Subset::genre, Subset::multitask})
    for (Features features : {Features::mel, Features::chroma, Features::fused}) {
      CAPTURE(subset_key(subset));
      CAPTURE(features_name(features));
      SubsetData memory = load_subset(data, subset, options(cache, StreamMode::off, features));
      SubsetData streamed = load_subset(data, subset, options(cache, StreamMode::on, features));
      REQUIRE(streamed.stream);
      CHECK(streamed.report.streamed);
      CHECK(streamed.report.stream_reason == "--stream on");
      CHECK(!memory.stream);
      REQUIRE(streamed.clips.size() == memory.clips.size());
      CHECK(streamed.clips[0].values.empty());  // nothing held
      CHECK(streamed.train_pool == memory.train_pool);
      CHECK(streamed.test_given == memory.test_given);
      CHECK(streamed.skipped.size() == memory.skipped.size());
      const Splits splits = make_splits(memory);
      const BandStats a = standardise_on_train(memory, splits);
      const BandStats b = standardise_on_train(streamed, splits);
      CHECK(a.mean == b.mean);
      CHECK(a.std == b.std);
      std::vector<int64_t> all(memory.clips.size());
      for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(all.size() - 1 - i);  // any order
      check_same_batch(make_batch(memory, all, 6, 0), make_batch(streamed, all, 6, 0));
      check_same_batch(make_batch(memory, all, 0, 3), make_batch(streamed, all, 0, 3));
    }
}

TEST_CASE("stream: the chunked order, prefetched batches and one chunk = the whole-list order") {
  TempDir dir;
  const std::string data = small_set(dir), cache = dir / "cache";
  const SubsetData memory =
      load_subset(data, Subset::genre, options(cache, StreamMode::off, Features::mel));
  const SubsetData streamed =
      load_subset(data, Subset::genre, options(cache, StreamMode::on, Features::mel));
  const Splits splits = make_splits(memory);
  const int64_t n = int64_t(memory.clips.size());
  BatcherOptions whole{.batch_size = 7, .seed = 5};
  BatcherOptions one_chunk = whole;
  one_chunk.chunk_clips = n;
  BatcherOptions chunked = whole;
  chunked.chunk_clips = 16;
  Batcher in_memory(memory, splits.train, whole), streamed_one(streamed, splits.train, one_chunk),
      streamed_chunked(streamed, splits.train, chunked);
  for (int64_t epoch : {1, 2}) {
    in_memory.start_epoch(epoch);
    streamed_one.start_epoch(epoch);
    streamed_chunked.start_epoch(epoch);
    CHECK(streamed_one.epoch_order() == in_memory.epoch_order());
    // Chunked: a permutation of the split whose chunks come whole, one after another.
    const std::vector<int64_t>& order = streamed_chunked.epoch_order();
    CHECK(std::multiset<int64_t>(order.begin(), order.end()) ==
          std::multiset<int64_t>(splits.train.begin(), splits.train.end()));
    CHECK(order != in_memory.epoch_order());
    std::set<int64_t> chunks_done;
    for (size_t k = 1; k < order.size(); ++k)
      if (order[k] / 16 != order[k - 1] / 16) {
        CHECK(chunks_done.insert(order[k - 1] / 16).second);
        CHECK(!chunks_done.count(order[k] / 16));
      }
    Batch a, b, c;
    int64_t batches = 0;
    size_t position = 0;
    while (in_memory.next(a)) {
      REQUIRE(streamed_one.next(b));
      REQUIRE(streamed_chunked.next(c));
      check_same_batch(a, b);
      check_same_batch(make_batch(memory, c.indices, 0, 0), c);
      CHECK(std::equal(c.indices.begin(), c.indices.end(), order.begin() + long(position)));
      position += c.indices.size();
      ++batches;
    }
    CHECK(!streamed_one.next(b));
    CHECK(!streamed_chunked.next(c));
    CHECK(batches == in_memory.batches_per_epoch());
  }
  // skip() passes over batches as next() would, also with the thread running.
  Batcher skipping(streamed, splits.train, chunked);
  skipping.start_epoch(3);
  Batch first, later, expected;
  REQUIRE(skipping.next(first));
  skipping.skip(2);
  REQUIRE(skipping.next(later));
  Batcher reference(streamed, splits.train, chunked);
  reference.start_epoch(3);
  for (int k = 0; k < 4; ++k) REQUIRE(reference.next(expected));
  check_same_batch(later, expected);
}

TEST_CASE("stream: a damaged clip is a DataError naming the cache file; the thread stops") {
  TempDir dir;
  const std::string data = small_set(dir), cache = dir / "cache";
  SubsetData streamed =
      load_subset(data, Subset::genre, options(cache, StreamMode::on, Features::mel));
  const std::string file = streamed.report.cache_file;
  H5CacheIndex index;
  REQUIRE(read_h5_cache_index(file, subset_fingerprint(data + "/fma_genre_spectrograms"), index));
  const Splits splits = make_splits(streamed);
  Batcher batcher(streamed, splits.train, {.batch_size = 8, .seed = 1, .chunk_clips = 32});
  batcher.start_epoch(1);
  const std::vector<int64_t> order = batcher.epoch_order();
  const int64_t damaged = order[8 * 5 + 3];  // a clip of the sixth batch
  flip_value_bit(file, index, size_t(damaged));
  Batch b;
  for (int k = 0; k < 5; ++k) REQUIRE(batcher.next(b));
  const std::string error = data_error_of([&] { batcher.next(b); });
  CHECK(contains(error, file + ": the checksum of table 'values' does not match at clip " +
                            streamed.clips[size_t(damaged)].id));
  CHECK(contains(error, "delete it and it is rebuilt"));
  // The run-time error does not leave the thread behind: the batcher restarts cleanly.
  batcher.start_epoch(2);
  CHECK(contains(data_error_of([&] { make_batch(streamed, {damaged}, 0, 0); }), file));
  // A non-streamed load of the damaged cache rebuilds it, as before.
  const SubsetData rebuilt =
      load_subset(data, Subset::genre, options(cache, StreamMode::off, Features::mel));
  CHECK(!rebuilt.report.from_cache);
  CHECK(load_subset(data, Subset::genre, options(cache, StreamMode::on, Features::mel))
            .report.from_cache);
}

TEST_CASE("stream: the prefetch thread stops promptly when the batcher goes mid-epoch") {
  TempDir dir;
  const std::string data = small_set(dir), cache = dir / "cache";
  const SubsetData streamed =
      load_subset(data, Subset::genre, options(cache, StreamMode::on, Features::mel));
  const Splits splits = make_splits(streamed);
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < 50; ++round) {  // thread blocked on a full queue, then destroyed
    Batcher batcher(streamed, splits.train,
                    {.batch_size = 4, .seed = 2, .chunk_clips = 8, .prefetch = 1});
    Batch b;
    REQUIRE(batcher.next(b));
    if (round % 2) batcher.skip(3);  // restarts the thread at a later batch
  }                                  // the test hangs (CTest timeout) if a join never returns
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
}

TEST_CASE("stream: a rank reads only the clips of its shard") {
  TempDir dir;
  const std::string data = small_set(dir), cache = dir / "cache";
  const SubsetData memory =
      load_subset(data, Subset::genre, options(cache, StreamMode::off, Features::mel));
  const Splits splits = make_splits(memory);
  std::multiset<int64_t> union_of_ranks;
  for (int rank = 0; rank < 3; ++rank) {
    const SubsetData streamed =
        load_subset(data, Subset::genre, options(cache, StreamMode::on, Features::mel));
    Batcher batcher(
        streamed, splits.train,
        {.batch_size = 10, .seed = 3, .shard_rank = rank, .shard_count = 3, .chunk_clips = 20});
    batcher.start_epoch(1);
    Batch b;
    int64_t mine = 0;
    while (batcher.next(b)) {
      mine += b.size();
      union_of_ranks.insert(b.indices.begin(), b.indices.end());
    }
    CHECK(streamed.stream->clips_read() == mine);
    CHECK(mine < int64_t(splits.train.size()) / 2);
  }
  CHECK(union_of_ranks == std::multiset<int64_t>(splits.train.begin(), splits.train.end()));
}

TEST_CASE("stream: the cache written a block at a time equals the one written from memory") {
  TempDir dir;
  const std::string data = copy_fixture(dir);
  const SubsetData streamed =
      load_subset(data, Subset::genre, options(dir / "a", StreamMode::on, Features::fused));
  CHECK(!streamed.report.from_cache);  // written by blocks, then streamed
  const SubsetData memory =
      load_subset(data, Subset::genre, options(dir / "b", StreamMode::off, Features::fused));
  CHECK(!memory.report.from_cache);
  const std::string fp = subset_fingerprint(data + "/fma_genre_spectrograms");
  SubsetData a, b;
  REQUIRE(read_h5_cache(streamed.report.cache_file, fp, Features::fused, a));
  REQUIRE(read_h5_cache(memory.report.cache_file, fp, Features::fused, b));
  REQUIRE(a.clips.size() == b.clips.size());
  for (size_t i = 0; i < a.clips.size(); ++i) {
    CHECK(a.clips[i].id == b.clips[i].id);
    CHECK(a.clips[i].values == b.clips[i].values);
    CHECK(a.clips[i].label == b.clips[i].label);
  }
  CHECK(a.skipped.size() == b.skipped.size());
}

TEST_CASE("stream: automatic mode decides from the data's size and the memory left") {
  TempDir dir;
  const std::string data = copy_fixture(dir), cache = dir / "cache";
  const SubsetData small =
      load_subset(data, Subset::genre, options(cache, StreamMode::automatic, Features::mel));
  CHECK(!small.stream);  // a few KB fit
  CHECK(contains(small.report.stream_reason, "--stream auto: "));
  CHECK(contains(small.report.stream_reason, "within the"));
  CHECK(available_memory_bytes() > 0);
  CHECK(parse_stream_mode("auto") == StreamMode::automatic);
  CHECK_THROWS_AS(parse_stream_mode("yes"), std::invalid_argument);
  LoadOptions no_cache = options(cache, StreamMode::on, Features::mel);
  no_cache.use_cache = false;
  CHECK(contains(data_error_of([&] { load_subset(data, Subset::genre, no_cache); }), "HDF5 cache"));
}

TEST_CASE("cancel: a load cancelled between clips throws LoadCancelled and leaves no temp file") {
  TempDir dir;
  const std::string data = copy_fixture(dir);
  auto temp_files = [](const std::string& cache) {
    int n = 0;
    if (std::filesystem::exists(cache))
      for (const auto& e : std::filesystem::directory_iterator(cache))
        n += e.path().filename().string().find(".tmp-") != std::string::npos;
    return n;
  };
  for (StreamMode mode : {StreamMode::off, StreamMode::on}) {
    CAPTURE(int(mode));
    // How many times an uncancelled first load (clip files read, cache written) and a second
    // one (the cache read, or streamed) poll: every point of either is then cancelled once.
    std::atomic<int> polls{0};
    const std::string counted = dir / ("count-" + std::to_string(int(mode)));
    LoadOptions counting = options(counted, mode, Features::mel);
    counting.threads = 1;
    counting.cancelled = [&] { return ++polls, false; };
    load_subset(data, Subset::genre, counting);
    const int first = polls.exchange(0);
    load_subset(data, Subset::genre, counting);
    const int second = polls.load();
    CHECK(first >= 6);
    for (int stop : {1, first / 3, 2 * first / 3, first}) {
      CAPTURE(stop);
      const std::string cache =
          dir / ("cache-" + std::to_string(int(mode)) + "-" + std::to_string(stop));
      LoadOptions o = options(cache, mode, Features::mel);
      o.threads = 1;
      std::atomic<int> n{0};
      o.cancelled = [&] { return ++n >= stop; };
      CHECK_THROWS_AS(load_subset(data, Subset::genre, o), LoadCancelled);
      CHECK(temp_files(cache) == 0);
      CHECK_FALSE(std::filesystem::exists(
          cache_file_for(cache, subset_root(data, Subset::genre), Subset::genre)));
    }
    if (second > 0) {  // the cached second load is cancelled too
      LoadOptions o = options(counted, mode, Features::mel);
      o.cancelled = [] { return true; };
      CHECK_THROWS_AS(load_subset(data, Subset::genre, o), LoadCancelled);
    }
  }
  // The streamed statistics pass.
  SubsetData streamed =
      load_subset(data, Subset::genre, options(dir / "stats", StreamMode::on, Features::mel));
  const Splits splits = make_splits(streamed);
  CHECK_THROWS_AS(standardise_on_train(streamed, splits, [] { return true; }), LoadCancelled);
}
