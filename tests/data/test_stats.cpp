// data-stats: counts per class and split after mapping, lengths, skipped rows, JSON form;
// on a full-size generated set (tiny arrays) it reproduces the real counts of REFERENCE §1.
#include "datasets/stats.h"
#include "datasets/synth_dataset.h"
#include "tests/data/test_util.h"

using namespace melgrad::data;
using namespace melgrad::data::testing;

namespace {

const SubsetStats& of(const DataStats& s, Subset subset) {
  for (const SubsetStats& x : s.subsets)
    if (x.subset == subset) return x;
  throw std::runtime_error("no such sub-set in the stats");
}

}  // namespace

TEST_CASE("data-stats on the quirky fixture") {
  const DataStats st = compute_data_stats(fixture_dir(), 42);
  REQUIRE(st.subsets.size() == 4);
  const SubsetStats& g = of(st, Subset::genre);
  CHECK(g.counts.at("train") + g.counts.at("val") == 4);
  CHECK(g.counts.at("val") == 1);  // floor(4 / 3)
  CHECK(g.counts.at("test") == 2);
  CHECK(g.classes.at("test").at("Pop") == 1);
  CHECK(g.classes.at("test").at("Trip-Hop") == 1);
  CHECK(g.classes.at("train").at("Rock") + g.classes.at("val").at("Rock") == 1);
  CHECK(g.dropped_train == std::map<std::string, int64_t>{{"Soundtrack", 1}});
  CHECK(g.gzip_files == 1);
  CHECK(g.unlisted_files == 1);
  REQUIRE(g.skipped.size() == 1);
  CHECK(g.skipped[0].id == "104");
  CHECK(g.lengths.at("test").min == 4);
  CHECK(g.lengths.at("test").max == 5);
  CHECK(g.lengths.at("test").median == 4.5);
  const SubsetStats& m = of(st, Subset::multitask_beat);
  CHECK(m.counts.at("unlabelled") == 2);
  CHECK(m.counts.at("train") + m.counts.at("val") + m.counts.at("test") == 3);
  CHECK(m.lengths.at("unlabelled").max == 2);

  const std::string json = data_stats_json(st);
  for (const char* key :
       {"\"genre\": {", "\"genre_beat\": {", "\"multitask\": {", "\"multitask_beat\": {",
        "\"unlabelled\": 2,", "\"test\": {\"Blues\": 0, \"Classical\": 0,",
        "\"dropped_by_mapping\": {\"train\": {\"Soundtrack\": 1}, \"test\": {}}",
        "\"id\": \"104\""})
    CHECK_MESSAGE(contains(json, key), key);
  const std::string text = data_stats_text(st);
  CHECK(contains(text, "== genre (fma_genre_spectrograms)"));
  CHECK(contains(text, "skipped rows: 1"));
  CHECK(contains(text, "line 5 (id 104)"));
  CHECK(contains(data_error_of([&] { compute_data_stats(fixture_dir(), 42, true); }), "(id 104)"));
}

TEST_CASE("data-stats names a corrupt header and a truncated file") {
  TempDir dir;
  const std::string data = copy_fixture(dir);
  const std::string f = data + "/multitask_dataset/train/303.fused.full.npy";
  const std::string bytes = read_text(f);
  write_text(f, bytes.substr(0, bytes.size() - 1));
  CHECK(contains(data_error_of([&] { compute_data_stats(data); }), f + ": truncated"));
  write_text(f, "\x93NUMPY\x01\x00\x10\x00{'descr': '<i8'}");
  CHECK(contains(data_error_of([&] { compute_data_stats(data); }), f + ":"));
}

TEST_CASE("data-stats counts gzip files by their magic, not by their name") {
  TempDir dir;
  const std::string data = copy_fixture(dir);
  const std::string train = data + "/fma_genre_spectrograms/train";
  CHECK(of(compute_data_stats(data, 42), Subset::genre).gzip_files == 1);  // 102.fused.full.npy.gz
  // gzip content under a plain .npy name counts ...
  const std::string plain = read_text(train + "/101.fused.full.npy");
  const std::vector<uint8_t> packed =
      gzip(reinterpret_cast<const uint8_t*>(plain.data()), plain.size());
  write_text(train + "/101.fused.full.npy", std::string(packed.begin(), packed.end()));
  CHECK(of(compute_data_stats(data, 42), Subset::genre).gzip_files == 2);
  // ... and a plain file named .gz does not.
  fs::rename(train + "/103.fused.full.npy", train + "/103.fused.full.npy.gz");
  CHECK(of(compute_data_stats(data, 42), Subset::genre).gzip_files == 2);
}

TEST_CASE("data-stats on a full-size generated set reproduces the real counts") {
  TempDir dir;
  SynthOptions o;
  o.size = DatasetSize::full;
  o.short_arrays = true;  // real counts, tiny arrays: the counts are what is checked here
  o.progress = Progress::never;
  make_dataset(dir / "full", o);
  const DataStats st = compute_data_stats(dir / "full", 42);
  const std::map<std::string, int64_t> real_test = {
      {"Blues", 40}, {"Classical", 40}, {"Electronic", 80}, {"Folk", 80},  {"Hip-Hop", 40},
      {"Jazz", 40},  {"Metal", 78},     {"Pop", 40},        {"Rock", 103}, {"Trip-Hop", 34}};
  for (Subset s : {Subset::genre, Subset::genre_beat}) {
    CAPTURE(subset_key(s));
    const SubsetStats& g = of(st, s);
    CHECK(g.counts.at("train") + g.counts.at("val") == 2305);
    CHECK(g.counts.at("val") == 768);
    CHECK(g.counts.at("test") == 575);
    CHECK(g.classes.at("test") == real_test);
    int64_t dropped = 0;
    for (const auto& [genre, n] : g.dropped_train) dropped += n;
    CHECK(dropped == 3069 - 2305);
    dropped = 0;
    for (const auto& [genre, n] : g.dropped_test) dropped += n;
    CHECK(dropped == 765 - 575);
    CHECK(g.skipped.empty());
  }
  for (Subset s : {Subset::multitask, Subset::multitask_beat}) {
    const SubsetStats& m = of(st, s);
    CHECK(m.counts.at("train") + m.counts.at("val") + m.counts.at("test") == 1122);
    CHECK(m.counts.at("val") == 314);
    CHECK(m.counts.at("test") == 134);
    CHECK(m.counts.at("unlabelled") == 375);
  }
  CHECK(contains(data_stats_json(st),
                 "\"test\": {\"Blues\": 40, \"Classical\": 40, \"Electronic\": 80, \"Folk\": 80, "
                 "\"Hip-Hop\": 40, \"Jazz\": 40, \"Metal\": 78, \"Pop\": 40, \"Rock\": 103, "
                 "\"Trip-Hop\": 34}"));
}
