// Faults around the data layer (issue 12): damaged HDF5 caches (checksums, rebuild, said on
// stderr), temp files of killed processes removed on the next run, label files without a
// usable row, hexadecimal numbers, folders given as files, and a full disk named as such.
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "datasets/h5_cache.h"
#include "datasets/labels.h"
#include "datasets/patreco3.h"
#include "datasets/synth_dataset.h"
#include "tests/data/test_util.h"

using namespace melgrad::data;
using namespace melgrad::data::testing;

namespace {

LoadOptions cached(const std::string& cache_dir) {
  LoadOptions o;
  o.features = Features::fused;
  o.cache_dir = cache_dir;
  o.progress = Progress::never;
  return o;
}

// Overwrites element `index` (row-major) of the dataset `name` in place, same type and
// shape: what a bit flip or an edit of the file does.
template <class T>
void poke(const std::string& file, const char* name, hsize_t index, T value, hid_t mem_type) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  const hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  REQUIRE(ds >= 0);
  const hid_t space = H5Dget_space(ds);
  const int rank = H5Sget_simple_extent_ndims(space);
  hsize_t dims[2] = {1, 1}, start[2] = {index, 0}, count[2] = {1, 1};
  H5Sget_simple_extent_dims(space, dims, nullptr);
  if (rank == 2) {
    start[0] = index / dims[1];
    start[1] = index % dims[1];
  }
  REQUIRE(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0);
  const hid_t mem = H5Screate_simple(1, count, nullptr);
  CHECK(H5Dwrite(ds, mem_type, mem, space, H5P_DEFAULT, &value) >= 0);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(ds);
  H5Fclose(f);
}

// Captures what the process writes to stderr while `f` runs.
template <class F>
std::string stderr_of(F&& f) {
  std::fflush(stderr);
  char path[] = "/tmp/melgrad-stderr-XXXXXX";
  const int fd = ::mkstemp(path);
  const int saved = ::dup(2);
  ::dup2(fd, 2);
  f();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  const std::string text = read_text(path);
  ::unlink(path);
  return text;
}

// A PID that no process has (a child that has exited and been reaped).
long dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

}  // namespace

TEST_CASE("cache: damaged tables are caught by their checksums and the cache is rebuilt") {
  TempDir dir;
  const std::string data = copy_fixture(dir), cache = dir / "cache";
  const SubsetData first = load_subset(data, Subset::genre, cached(cache));
  const std::string file = first.report.cache_file;
  struct Damage {
    const char* table;
    std::function<void()> apply;
  };
  const std::vector<Damage> damages = {
      // Before: a huge clip length made the reader allocate without bound (std::bad_alloc).
      {"offsets", [&] { poke<int64_t>(file, "offsets", 1, int64_t(1) << 50, H5T_NATIVE_INT64); }},
      // Before: a class index of 57 reached cross_entropy without naming the cache.
      {"labels", [&] { poke<int64_t>(file, "labels", 0, 57, H5T_NATIVE_INT64); }},
      {"targets", [&] { poke<float>(file, "targets", 2, 0.75f, H5T_NATIVE_FLOAT); }},
      // Before: edited values were used silently.
      {"values", [&] { poke<float>(file, "values", 7, 1e30f, H5T_NATIVE_FLOAT); }},
      {"values", [&] {  // one flipped bit in the last value
         const float v = first.clips.back().values.back();
         uint32_t bits;
         std::memcpy(&bits, &v, 4);
         bits ^= 1u << 3;
         float flipped;
         std::memcpy(&flipped, &bits, 4);
         size_t total = 0;
         for (const Clip& c : first.clips) total += c.values.size();
         poke<float>(file, "values", total - 1, flipped, H5T_NATIVE_FLOAT);
       }}};
  for (const Damage& d : damages) {
    CAPTURE(d.table);
    REQUIRE(load_subset(data, Subset::genre, cached(cache)).report.from_cache);
    d.apply();
    SubsetData probe;
    probe.subset = Subset::genre;
    std::string damage;
    CHECK(!read_h5_cache(file, subset_fingerprint(data + "/fma_genre_spectrograms"),
                         Features::fused, probe, &damage));
    CHECK(contains(damage, std::string("'") + d.table + "'"));
    SubsetData again;
    const std::string said =
        stderr_of([&] { again = load_subset(data, Subset::genre, cached(cache)); });
    CHECK(!again.report.from_cache);
    CHECK(contains(said, "the HDF5 cache " + file + " is damaged"));
    CHECK(contains(said, "rebuilding it"));
    REQUIRE(again.clips.size() == first.clips.size());
    for (size_t i = 0; i < first.clips.size(); ++i) {
      CHECK(again.clips[i].values == first.clips[i].values);
      CHECK(again.clips[i].label == first.clips[i].label);
    }
  }
  CHECK(load_subset(data, Subset::genre, cached(cache)).report.from_cache);  // rebuilt and valid
}

TEST_CASE("cache: temp files of dead processes are removed on the next load, and said so") {
  TempDir dir;
  const std::string data = copy_fixture(dir), cache = dir / "cache";
  load_subset(data, Subset::multitask, cached(cache));
  const std::string stale = cache + "/multitask-0123.h5.tmp-" + std::to_string(dead_pid());
  const std::string live = cache + "/multitask-0123.h5.tmp-" + std::to_string(::getpid());
  write_text(stale, std::string(1000, 'x'));
  write_text(live, "being written");
  const std::string said = stderr_of([&] { load_subset(data, Subset::multitask, cached(cache)); });
  CHECK(!fs::exists(stale));
  CHECK(fs::exists(live));  // a running process's temp file is never touched
  CHECK(contains(said, "removed 1 temporary file(s) (0.0 MB) left in " + cache));
}

TEST_CASE("make_dataset removes the temp folder of a killed generator") {
  TempDir dir;
  const std::string stale = dir / ("D.tmp-" + std::to_string(dead_pid()));
  fs::create_directories(stale + "/fma_genre_spectrograms");
  SynthOptions o;
  o.short_arrays = true;
  o.progress = Progress::never;
  const std::string said = stderr_of([&] { make_dataset(dir / "D", o); });
  CHECK(!fs::exists(stale));
  CHECK(fs::is_regular_file(dir / "D/melgrad-synthetic.txt"));
  CHECK(contains(said, "removed 1 temporary file(s)"));
}

TEST_CASE("loader: a label file without a usable row is an error naming it") {
  TempDir dir;
  const std::string data = copy_fixture(dir);
  const std::string labels = data + "/multitask_dataset/train_labels.txt";
  write_text(labels, "Id,valence,energy,danceability\n9991,0.5,0.5,0.5\n9992,0.1,0.2,0.3\n");
  const std::string e =
      data_error_of([&] { load_subset(data, Subset::multitask, cached(dir / "c")); });
  CHECK(contains(e, labels + ": no usable label rows (2 row(s): 2 without a clip file"));
  write_text(labels, "Id,valence,energy,danceability\n");
  CHECK(contains(data_error_of([&] { load_subset(data, Subset::multitask, cached(dir / "c")); }),
                 labels + ": no usable label rows (0 row(s)"));
}

TEST_CASE("labels: only decimal numbers are accepted (no hexadecimal, inf or nan)") {
  TempDir dir;
  const std::string f = dir / "train_labels.txt";
  for (const char* bad : {"0x1p-1", "0X.8p0", "inf", "infinity", "nan"}) {
    CAPTURE(bad);
    write_text(f, std::string("Id,valence,energy,danceability\n7,0.5,") + bad + ",0.5\n");
    CHECK(contains(data_error_of([&] { read_multitask_labels(f); }),
                   "field 'energy' must be a number in [0, 1], found '" + std::string(bad) + "'"));
  }
  write_text(f, "Id,valence,energy,danceability\n7,5e-1,.25,1E0\n");
  const auto rows = read_multitask_labels(f);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].targets[0] == 0.5f);
  CHECK(rows[0].targets[1] == 0.25f);
  CHECK(rows[0].targets[2] == 1.0f);
}

TEST_CASE("file_io: a folder given as a file, and a full disk, are named as such") {
  TempDir dir;
  CHECK(contains(data_error_of([&] { read_file_bytes(dir.path()); }),
                 "'" + dir.path() + "' is a folder, not a file"));
  // The temp file of the atomic write is a link to /dev/full, whose writes fail with ENOSPC.
  const std::string target = dir / "out.json";
  fs::create_symlink("/dev/full", target + ".tmp-" + std::to_string(::getpid()));
  const std::string e = data_error_of([&] { write_file_atomic(target, std::string(100000, 'x')); });
  CHECK(contains(e, target + ".tmp-"));
  CHECK(contains(e, "No space left on device"));
  CHECK(!fs::exists(target));
}
