// The HDF5 cache: same data as a direct load, feature selection from the fused cache,
// invalidation when source files change, atomic writes, recovery from a broken cache.
#include <hdf5.h>

#include <chrono>
#include <thread>

#include "datasets/h5_cache.h"
#include "datasets/npy.h"
#include "datasets/patreco3.h"
#include "tests/data/test_util.h"

using namespace melgrad::data;
using namespace melgrad::data::testing;

namespace {

LoadOptions cached(const std::string& cache_dir, Features f = Features::fused) {
  LoadOptions o;
  o.features = f;
  o.cache_dir = cache_dir;
  o.progress = Progress::never;
  return o;
}

void check_same(const SubsetData& a, const SubsetData& b) {
  REQUIRE(a.clips.size() == b.clips.size());
  CHECK(a.feature_dim == b.feature_dim);
  CHECK(a.train_pool == b.train_pool);
  CHECK(a.test_given == b.test_given);
  CHECK(a.class_names == b.class_names);
  CHECK(a.skipped.size() == b.skipped.size());
  for (size_t i = 0; i < a.clips.size(); ++i) {
    CAPTURE(a.clips[i].id);
    CHECK(a.clips[i].id == b.clips[i].id);
    CHECK(a.clips[i].path == b.clips[i].path);
    CHECK(a.clips[i].frames == b.clips[i].frames);
    CHECK(a.clips[i].label == b.clips[i].label);
    CHECK(a.clips[i].values == b.clips[i].values);
    for (int k = 0; k < 3; ++k)
      CHECK((a.clips[i].targets[k] == b.clips[i].targets[k] ||
             (std::isnan(a.clips[i].targets[k]) && std::isnan(b.clips[i].targets[k]))));
  }
}

// Replaces the uint8 text dataset `name` of a cache file (layout in h5_cache.h).
void rewrite_cache_text(const std::string& file, const char* name, const std::string& text) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  REQUIRE(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
  const hsize_t n = text.size();
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  const hid_t ds = H5Dcreate2(f, name, H5T_STD_U8LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(ds >= 0);
  CHECK(H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data()) >= 0);
  H5Dclose(ds);
  H5Sclose(space);
  H5Fclose(f);
}

size_t files_in(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

}  // namespace

TEST_CASE("cache: the second load comes from HDF5 and equals a direct load") {
  TempDir dir;
  const std::string data = copy_fixture(dir), cache = dir / "cache";
  for (Subset s : kAllSubsets) {
    CAPTURE(subset_key(s));
    LoadOptions direct = cached(cache);
    direct.use_cache = false;
    const SubsetData ref = load_subset(data, s, direct);
    const SubsetData first = load_subset(data, s, cached(cache));
    CHECK(!first.report.from_cache);
    CHECK(fs::is_regular_file(first.report.cache_file));
    const SubsetData second = load_subset(data, s, cached(cache));
    CHECK(second.report.from_cache);
    CHECK(second.report.cache_file == first.report.cache_file);
    check_same(ref, first);
    check_same(ref, second);
    CHECK(second.skipped.front().id == ref.skipped.front().id);
    CHECK(second.skipped.front().line == ref.skipped.front().line);
  }
  CHECK(files_in(cache) == 4);  // one file per sub-set, no temp files left
  // Mel or chroma read from the fused cache equal a direct load of that selection.
  for (Features f : {Features::mel, Features::chroma}) {
    LoadOptions direct = cached(cache, f);
    direct.use_cache = false;
    const SubsetData from_cache = load_subset(data, Subset::genre, cached(cache, f));
    CHECK(from_cache.report.from_cache);
    check_same(load_subset(data, Subset::genre, direct), from_cache);
  }
  // --strict still sees the skipped rows recorded in the cache.
  LoadOptions strict = cached(cache);
  strict.strict = true;
  CHECK(contains(data_error_of([&] { load_subset(data, Subset::genre, strict); }), "(id 104)"));
}

TEST_CASE("cache: invalidated when a source file changes, is added or removed") {
  TempDir dir;
  const std::string data = copy_fixture(dir), cache = dir / "cache";
  const std::string root = data + "/fma_genre_spectrograms";
  const std::string fp0 = subset_fingerprint(root);
  CHECK(subset_fingerprint(root) == fp0);
  load_subset(data, Subset::genre, cached(cache));
  CHECK(load_subset(data, Subset::genre, cached(cache)).report.from_cache);

  // Same size, new content and mtime.
  const std::string f = root + "/train/101.fused.full.npy";
  std::vector<double> v(140 * 4, -5.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_npy(f, {140, 4}, v.data());
  CHECK(subset_fingerprint(root) != fp0);
  const SubsetData reloaded = load_subset(data, Subset::genre, cached(cache));
  CHECK(!reloaded.report.from_cache);
  CHECK(reloaded.clips[0].values[0] == -5.0f);
  CHECK(load_subset(data, Subset::genre, cached(cache)).report.from_cache);

  // The missing file appears: the skipped row becomes a clip.
  fs::copy_file(root + "/train/199.fused.full.npy", root + "/train/104.fused.full.npy");
  const SubsetData grown = load_subset(data, Subset::genre, cached(cache));
  CHECK(!grown.report.from_cache);
  CHECK(grown.skipped.empty());
  CHECK(grown.clips.size() == 7);

  // A label file edit.
  write_text(root + "/test_labels.txt", "Id\tGenre\n201.x.npy\tPop\n");
  const SubsetData fewer = load_subset(data, Subset::genre, cached(cache));
  CHECK(!fewer.report.from_cache);
  CHECK(fewer.test_given.size() == 1);
  CHECK(files_in(cache) == 1);  // rewritten in place
}

TEST_CASE("cache: a broken cache file is rebuilt, not an error") {
  TempDir dir;
  const std::string data = copy_fixture(dir), cache = dir / "cache";
  const SubsetData first = load_subset(data, Subset::multitask, cached(cache));
  write_text(first.report.cache_file, "this is not HDF5");
  const SubsetData again = load_subset(data, Subset::multitask, cached(cache));
  CHECK(!again.report.from_cache);
  check_same(first, again);
  CHECK(load_subset(data, Subset::multitask, cached(cache)).report.from_cache);
  // Cache files of different data folders do not collide.
  const std::string other = dir / "other";
  fs::copy(data, other, fs::copy_options::recursive);
  CHECK(cache_file_for(cache, other + "/multitask_dataset", Subset::multitask) !=
        first.report.cache_file);
  CHECK(!load_subset(other, Subset::multitask, cached(cache)).report.from_cache);
}

TEST_CASE("cache: a corrupt skipped-rows table makes the cache stale, not an error") {
  TempDir dir;
  const std::string data = copy_fixture(dir), cache = dir / "cache";
  const SubsetData first = load_subset(data, Subset::genre, cached(cache));
  REQUIRE(first.skipped.size() == 1);
  // Rows of file TAB line TAB id TAB reason whose line is not a line number.
  for (const char* line : {"not-a-number", "99999999999999999999999", "-3", "5x", ""}) {
    CAPTURE(line);
    rewrite_cache_text(first.report.cache_file, "skipped",
                       "labels.txt\t" + std::string(line) + "\t104\tno file for id 104\n");
    const SubsetData again = load_subset(data, Subset::genre, cached(cache));
    CHECK(!again.report.from_cache);
    check_same(first, again);
    REQUIRE(again.skipped.size() == 1);
    CHECK(again.skipped.front().line == first.skipped.front().line);
    CHECK(load_subset(data, Subset::genre, cached(cache)).report.from_cache);  // rebuilt
  }
}
