// The patreco3 loader on the hand-made quirky fixture set, and every bad input named.
#include <cmath>

#include "datasets/genres.h"
#include "datasets/npy.h"
#include "datasets/patreco3.h"
#include "tests/data/test_util.h"

using namespace melgrad::data;
using namespace melgrad::data::testing;

namespace {

float fixture_value(int id, int64_t r, int64_t t) {
  if (r < 128) return -static_cast<float>((r + 2 * t + id % 7) % 80);
  return static_cast<float>((r - 128 + t + id % 5) % 16) / 16.0f;
}

LoadOptions quiet(Features f = Features::fused) {
  LoadOptions o;
  o.features = f;
  o.use_cache = false;
  o.progress = Progress::never;
  return o;
}

std::vector<std::string> ids_of(const SubsetData& d) {
  std::vector<std::string> ids;
  for (const Clip& c : d.clips) ids.push_back(c.id);
  return ids;
}

}  // namespace

TEST_CASE("loader: genre sub-sets of the quirky fixture") {
  for (Subset s : {Subset::genre, Subset::genre_beat}) {
    CAPTURE(subset_key(s));
    const SubsetData d = load_subset(fixture_dir(), s, quiet());
    const int64_t base = s == Subset::genre ? 4 : 2;
    // 103 is Soundtrack (dropped), 104 has no file, 199 has no label row.
    CHECK(ids_of(d) == std::vector<std::string>{"101", "102", "105", "106", "201", "202"});
    CHECK(d.train_pool == std::vector<int64_t>{0, 1, 2, 3});
    CHECK(d.test_given == std::vector<int64_t>{4, 5});
    CHECK(d.class_names.size() == 10);
    auto label = [&](size_t i) { return d.class_names[static_cast<size_t>(d.clips[i].label)]; };
    CHECK(label(0) == "Blues");
    CHECK(label(1) == "Rock");        // Psych-Rock
    CHECK(label(2) == "Electronic");  // Chiptune
    CHECK(label(3) == "Metal");       // Punk
    CHECK(label(4) == "Pop");
    CHECK(label(5) == "Trip-Hop");
    CHECK(d.clips[1].path.ends_with("102.fused.full.npy.gz"));  // found by id, gzip
    CHECK(d.clips[4].path.ends_with("201.fused.full.npy"));     // row said .full.fused.npy.gz
    CHECK(d.clips[0].frames == base);
    CHECK(d.clips[1].frames == base + 1);
    CHECK(d.clips[3].frames == base + 2);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].id == "104");
    CHECK(d.skipped[0].line == 5);
    CHECK(d.skipped[0].label_file.ends_with(subset_folder(s) + "/train_labels.txt"));
    CHECK(std::isnan(d.clips[0].targets[0]));
    CHECK(d.report.clips == 6);
    CHECK(!d.report.from_cache);
  }
  const SubsetIndex index = scan_subset(fixture_dir(), Subset::genre);
  CHECK(index.dropped_train == std::map<std::string, int64_t>{{"Soundtrack", 1}});
  CHECK(index.unlisted_files == 1);
}

TEST_CASE("loader: clips are [T, F] time-major for every feature selection") {
  for (Features f : {Features::fused, Features::mel, Features::chroma}) {
    CAPTURE(features_name(f));
    const SubsetData d = load_subset(fixture_dir(), Subset::genre, quiet(f));
    const FeatureRows rows = feature_rows(f);
    CHECK(d.feature_dim == rows.count());
    int bad = 0;
    for (const Clip& c : d.clips) {
      REQUIRE(c.values.size() == static_cast<size_t>(c.frames * d.feature_dim));
      const int id = std::stoi(c.id);
      for (int64_t t = 0; t < c.frames; ++t)
        for (int64_t k = 0; k < d.feature_dim; ++k)
          bad += c.values[static_cast<size_t>(t * d.feature_dim + k)] !=
                 fixture_value(id, rows.begin + k, t);
    }
    CHECK(bad == 0);  // f8, f4, Fortran, v2, v3 and gzip files all land exactly
  }
  CHECK(feature_rows(Features::mel).count() == 128);
  CHECK(feature_rows(Features::chroma).begin == 128);
  CHECK(feature_rows(Features::chroma).count() == 12);
}

TEST_CASE("loader: multitask sub-sets, labelled train and unlabelled test") {
  for (Subset s : {Subset::multitask, Subset::multitask_beat}) {
    CAPTURE(subset_key(s));
    const SubsetData d = load_subset(fixture_dir(), s, quiet(Features::mel));
    CHECK(ids_of(d) == std::vector<std::string>{"301", "302", "303", "401", "402"});
    CHECK(d.train_pool.size() == 3);
    CHECK(d.test_given.size() == 2);
    CHECK(d.target_names == std::vector<std::string>{"valence", "energy", "danceability"});
    CHECK(d.clips[0].targets == std::array<float, 3>{0.5f, 0.25f, 0.75f});
    CHECK(d.clips[1].targets == std::array<float, 3>{0.0f, 1.0f, 0.125f});
    CHECK(std::isnan(d.clips[3].targets[0]));
    CHECK(d.clips[3].label == -1);
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].id == "304");
  }
}

TEST_CASE("loader: parallel loading gives the same result as one thread") {
  LoadOptions one = quiet(), many = quiet();
  one.threads = 1;
  many.threads = 4;
  const SubsetData a = load_subset(fixture_dir(), Subset::genre, one);
  const SubsetData b = load_subset(fixture_dir(), Subset::genre, many);
  REQUIRE(a.clips.size() == b.clips.size());
  for (size_t i = 0; i < a.clips.size(); ++i) {
    CHECK(a.clips[i].id == b.clips[i].id);
    CHECK(a.clips[i].values == b.clips[i].values);
  }
}

TEST_CASE("loader: a row whose file is missing is skipped, or an error with strict") {
  LoadOptions strict = quiet();
  strict.strict = true;
  const std::string e = data_error_of([&] { load_subset(fixture_dir(), Subset::genre, strict); });
  CHECK(contains(e, "fma_genre_spectrograms/train_labels.txt line 5 (id 104)"));
  CHECK(contains(e, "no .npy or .npy.gz file for id 104"));
  CHECK(contains(data_error_of([&] { scan_subset(fixture_dir(), Subset::multitask, true); }),
                 "(id 304)"));
}

TEST_CASE("loader: missing folders and label files are errors naming them") {
  TempDir dir;
  const std::string nowhere = dir / "no-such-data";
  CHECK(contains(data_error_of([&] { load_subset(nowhere, Subset::genre, quiet()); }),
                 "data directory '" + nowhere + "' does not exist"));
  const std::string data = copy_fixture(dir);
  fs::remove_all(data + "/multitask_dataset_beat");
  const std::string e = data_error_of([&] { load_subset(data, Subset::multitask_beat, quiet()); });
  CHECK(contains(e, "'" + data + "' has no sub-folder 'multitask_dataset_beat'"));
  fs::remove_all(data + "/multitask_dataset/test");
  CHECK(contains(data_error_of([&] { load_subset(data, Subset::multitask, quiet()); }),
                 "sub-folder '" + data + "/multitask_dataset/test' does not exist"));
  fs::remove(data + "/fma_genre_spectrograms/test_labels.txt");
  CHECK(
      contains(data_error_of([&] { load_subset(data, Subset::genre, quiet()); }),
               "label file '" + data + "/fma_genre_spectrograms/test_labels.txt' does not exist"));
}

TEST_CASE("loader: corrupt arrays, wrong shapes, NaN and Inf are errors naming the file") {
  TempDir dir;
  const std::string data = copy_fixture(dir);
  const std::string f101 = data + "/fma_genre_spectrograms/train/101.fused.full.npy";
  const std::string original = read_text(f101);

  write_text(f101, original.substr(0, original.size() - 100));  // truncated
  const std::string trunc = data_error_of([&] { load_subset(data, Subset::genre, quiet()); });
  CHECK(contains(trunc, f101 + ": truncated"));

  write_text(f101, "garbage that is not an array");
  CHECK(contains(data_error_of([&] { load_subset(data, Subset::genre, quiet()); }),
                 f101 + ": not a .npy file"));

  std::vector<double> v(128 * 4, -1.0);
  write_npy(f101, {128, 4}, v.data());
  CHECK(contains(data_error_of([&] { load_subset(data, Subset::genre, quiet()); }),
                 f101 + ": expected a clip of shape (140, T) with T >= 1, found (128, 4)"));

  v.assign(140 * 4, -1.0);
  v[3 * 4 + 2] = std::nan("");
  write_npy(f101, {140, 4}, v.data());
  const std::string nan = data_error_of([&] { load_subset(data, Subset::genre, quiet()); });
  CHECK(contains(nan, f101 + ": non-finite value nan at row 3, frame 2"));

  v[3 * 4 + 2] = -1.0;
  v[139 * 4 + 0] = INFINITY;
  write_npy(f101, {140, 4}, v.data());
  CHECK(contains(data_error_of([&] { load_subset(data, Subset::genre, quiet()); }),
                 f101 + ": non-finite value inf"));

  v[139 * 4 + 0] = 1e300;  // finite in float64, infinite in float32
  write_npy(f101, {140, 4}, v.data());
  CHECK(contains(data_error_of([&] { load_subset(data, Subset::genre, quiet()); }),
                 "beyond the float32 range"));

  write_text(f101, original);
  CHECK(load_subset(data, Subset::genre, quiet()).clips.size() == 6);
}

TEST_CASE("loader: an unknown genre is an error naming the row and the file") {
  TempDir dir;
  const std::string data = copy_fixture(dir);
  const std::string labels = data + "/fma_genre_spectrograms_beat/test_labels.txt";
  write_text(labels, "Id\tGenre\n201.beatsync.fused.npy\tPop\n202.beatsync.fused.npy\tVaporwave\n");
  const std::string e = data_error_of([&] { load_subset(data, Subset::genre_beat, quiet()); });
  CHECK(contains(e, labels + " line 3 (202.beatsync.fused.npy): unknown genre 'Vaporwave'"));
}

TEST_CASE("loader: names of sub-sets and features parse both ways") {
  for (Subset s : kAllSubsets) {
    CHECK(parse_subset(subset_key(s)) == s);
    CHECK(parse_subset(subset_folder(s)) == s);
  }
  for (Features f : {Features::mel, Features::chroma, Features::fused})
    CHECK(parse_features(features_name(f)) == f);
  CHECK_THROWS_AS(parse_subset("genres"), std::invalid_argument);
  CHECK_THROWS_AS(parse_features("mfcc"), std::invalid_argument);
}
