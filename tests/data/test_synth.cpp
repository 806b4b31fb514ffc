// The embedded data-set generator: layout, names and quirks, counts after CLASS_MAPPING,
// value ranges, determinism per seed, a learnable but imperfect signal, and the default
// data set generated once into the cache folder.
#include <stdlib.h>

#include <algorithm>
#include <map>

#include "datasets/default_data.h"
#include "datasets/genres.h"
#include "datasets/npy.h"
#include "datasets/patreco3.h"
#include "datasets/splits.h"
#include "datasets/synth_dataset.h"
#include "tests/data/baseline.h"
#include "tests/data/test_util.h"

using namespace melgrad::data;
using namespace melgrad::data::testing;

namespace {

SynthOptions quiet_options(DatasetSize size, uint64_t seed, bool short_arrays = false) {
  SynthOptions o;
  o.size = size;
  o.seed = seed;
  o.short_arrays = short_arrays;
  o.progress = Progress::never;
  return o;
}

// The small set with seed 42, generated once per test process.
const std::string& small_set() {
  static TempDir dir;
  static const std::string path = [] {
    const std::string p = dir / "small";
    make_dataset(p, quiet_options(DatasetSize::small, 42));
    return p;
  }();
  return path;
}

LoadOptions direct() {
  LoadOptions o;
  o.use_cache = false;
  o.progress = Progress::never;
  return o;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::stringstream ss(read_text(path));
  std::string l;
  while (std::getline(ss, l)) lines.push_back(l);
  return lines;
}

// Expected clips per mapped class from the generator's raw table.
std::map<std::string, int64_t> mapped_counts(DatasetSize size, bool train) {
  std::map<std::string, int64_t> m;
  for (const GenreCount& c : genre_counts(size))
    if (int k = map_genre(c.genre); k >= 0)
      m[genre_classes()[static_cast<size_t>(k)]] += train ? c.train : c.test;
  return m;
}

std::map<std::string, std::string> tree_bytes(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file())
      files[fs::relative(e.path(), root).string()] = read_text(e.path().string());
  return files;
}

}  // namespace

TEST_CASE("generator: the full table maps to the real counts of REFERENCE section 1") {
  const auto train = mapped_counts(DatasetSize::full, true),
             test = mapped_counts(DatasetSize::full, false);
  int64_t raw_train = 0, raw_test = 0, mapped_train = 0;
  for (const GenreCount& c : genre_counts(DatasetSize::full))
    raw_train += c.train, raw_test += c.test;
  for (const auto& [k, n] : train) mapped_train += n;
  CHECK(genre_counts(DatasetSize::full).size() == 20);
  CHECK(raw_train == 3069);
  CHECK(raw_test == 765);
  CHECK(mapped_train == 2305);
  CHECK(test == std::map<std::string, int64_t>{{"Blues", 40},
                                               {"Classical", 40},
                                               {"Electronic", 80},
                                               {"Folk", 80},
                                               {"Hip-Hop", 40},
                                               {"Jazz", 40},
                                               {"Metal", 78},
                                               {"Pop", 40},
                                               {"Rock", 103},
                                               {"Trip-Hop", 34}});
  CHECK(multitask_count(DatasetSize::full, true) == 1122);
  CHECK(multitask_count(DatasetSize::full, false) == 375);
}

TEST_CASE("generator: small set has the real layout, names and quirks") {
  const std::string root = small_set();
  const std::string g = root + "/fma_genre_spectrograms",
                    gb = root + "/fma_genre_spectrograms_beat";
  auto train_rows = lines_of(g + "/train_labels.txt");
  REQUIRE(train_rows.size() > 1);
  CHECK(train_rows[0] == "Id\tGenre");
  for (size_t i = 1; i < train_rows.size(); ++i)
    CHECK(train_rows[i].find(".fused.full.npy.gz\t") != std::string::npos);
  int full_fused = 0;
  for (const std::string& r : lines_of(g + "/test_labels.txt"))
    full_fused += r.find(".full.fused.npy.gz\t") != std::string::npos;
  CHECK(full_fused > 0);
  for (const std::string& r : lines_of(gb + "/train_labels.txt"))
    CHECK((r == "Id\tGenre" || r.find(".beatsync.fused.npy\t") != std::string::npos));
  const auto mt = lines_of(root + "/multitask_dataset/train_labels.txt");
  CHECK(mt[0] == "Id,valence,energy,danceability");
  CHECK(mt[1].substr(0, mt[1].find(',')).find('.') == std::string::npos);  // bare id
  CHECK(mt.size() == 1 + 280);
  // Files: mostly plain .npy, a few real gzip ones; float64 (140, T) arrays.
  for (Subset s : kAllSubsets) {
    CAPTURE(subset_key(s));
    int plain = 0, gz = 0;
    for (const char* part : {"train", "test"})
      for (const auto& e : fs::directory_iterator(root + "/" + subset_folder(s) + "/" + part)) {
        const std::string p = e.path().string();
        if (p.ends_with(".npy.gz")) {
          ++gz;
          const std::string raw = read_text(p).substr(0, 2);
          CHECK(is_gzip(reinterpret_cast<const uint8_t*>(raw.data()), 2));
        } else {
          ++plain;
          CHECK(p.ends_with(".fused.full.npy"));
        }
        const NpyHeader h = read_npy_header(p);
        CHECK(h.dtype == NpyDtype::f8);
        REQUIRE(h.shape.size() == 2);
        CHECK(h.shape[0] == 140);
        const bool beat = s == Subset::genre_beat || s == Subset::multitask_beat;
        CHECK(h.shape[1] >= (beat ? 24 : 128));
        CHECK(h.shape[1] <= (beat ? 40 : 160));
      }
    CHECK(gz >= 2);
    CHECK(plain > 10 * gz);
  }
}

TEST_CASE("generator: the loader reads every sub-set with the expected counts and ranges") {
  for (Subset s : kAllSubsets) {
    CAPTURE(subset_key(s));
    const SubsetData d = load_subset(small_set(), s, direct());
    CHECK(d.skipped.empty());
    if (is_genre_subset(s)) {
      std::map<std::string, int64_t> train, test;
      for (int64_t i : d.train_pool)
        ++train[d.class_names[static_cast<size_t>(d.clips[static_cast<size_t>(i)].label)]];
      for (int64_t i : d.test_given)
        ++test[d.class_names[static_cast<size_t>(d.clips[static_cast<size_t>(i)].label)]];
      CHECK(train == mapped_counts(DatasetSize::small, true));
      CHECK(test == mapped_counts(DatasetSize::small, false));
      CHECK(d.train_pool.size() == 288);
      CHECK(d.test_given.size() == 72);
    } else {
      CHECK(d.train_pool.size() == 280);
      CHECK(d.test_given.size() == 94);
      for (int64_t i : d.train_pool)
        for (float t : d.clips[static_cast<size_t>(i)].targets) CHECK((t > 0.0f && t < 1.0f));
    }
    const bool beat = s == Subset::genre_beat || s == Subset::multitask_beat;
    int bad = 0;
    for (const Clip& c : d.clips) {
      float mel_max = -1e9f;
      for (int64_t t = 0; t < c.frames; ++t) {
        float chroma_max = 0;
        for (int64_t f = 0; f < 140; ++f) {
          const float v = c.values[static_cast<size_t>(t * 140 + f)];
          if (f < 128) {
            bad += v < -80.0f || v > 0.0f;
            mel_max = std::max(mel_max, v);
          } else {
            bad += v < 0.0f || v > 1.0f;
            chroma_max = std::max(chroma_max, v);
          }
        }
        if (!beat) bad += chroma_max != 1.0f;  // librosa chroma: max 1 per frame
      }
      if (!beat) bad += mel_max != 0.0f;  // power_to_db(ref=max)
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("generator: deterministic per seed and independent of the thread count") {
  TempDir dir;
  SynthOptions a = quiet_options(DatasetSize::small, 7, true), b = a, c = a;
  a.threads = 1;
  b.threads = 2;
  c.seed = 8;
  make_dataset(dir / "a", a);
  make_dataset(dir / "b", b);
  make_dataset(dir / "c", c);
  const auto ta = tree_bytes(dir / "a"), tb = tree_bytes(dir / "b"), tc = tree_bytes(dir / "c");
  CHECK(ta.size() == 2 * (383 + 97 + 280 + 94) + 7);
  CHECK(ta == tb);
  CHECK(ta != tc);
  for (const auto& e : fs::directory_iterator(dir.path()))  // no temp folders left behind
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
  const std::string e = data_error_of([&] { make_dataset(dir / "a", a); });
  CHECK(contains(e, "output folder '" + (dir / "a") + "' already exists and is not empty"));
}

TEST_CASE("generator: classes and targets carry a learnable but imperfect signal") {
  // Genre: nearest class mean on 25 hand-made features, fitted on train+val, tested on test/.
  const SubsetData g = load_subset(small_set(), Subset::genre, direct());
  std::vector<std::vector<double>> X;
  std::vector<int64_t> y;
  for (const Clip& c : g.clips) {
    X.push_back(clip_features(c, g.feature_dim));
    y.push_back(c.label);
  }
  standardise_rows(X, g.train_pool);
  const double acc = nearest_centroid_accuracy(X, y, g.train_pool, g.test_given, 10);
  MESSAGE("nearest-centroid genre accuracy on the small test set: " << acc);
  CHECK(acc > 0.30);  // chance 0.10, majority class 0.18
  CHECK(acc < 0.90);  // not trivially separable

  // Regression: ridge on the same features, Spearman on the held-out val+test clips.
  const SubsetData m = load_subset(small_set(), Subset::multitask, direct());
  const Splits sp = make_splits(m, 42);
  std::vector<std::vector<double>> Xm;
  for (const Clip& c : m.clips) Xm.push_back(clip_features(c, m.feature_dim));
  standardise_rows(Xm, sp.train);
  std::vector<int64_t> held = sp.val;
  held.insert(held.end(), sp.test.begin(), sp.test.end());
  double mean_rho = 0;
  for (int k = 0; k < 3; ++k) {
    std::vector<double> target(m.clips.size(), 0.0);
    for (size_t i = 0; i < m.clips.size(); ++i)
      target[i] = m.clips[i].targets[static_cast<size_t>(k)];
    const auto pred = ridge_predict(Xm, target, sp.train, 1.0);
    std::vector<double> p, t;
    for (int64_t i : held)
      p.push_back(pred[static_cast<size_t>(i)]), t.push_back(target[static_cast<size_t>(i)]);
    const double rho = spearman(p, t);
    MESSAGE(m.target_names[static_cast<size_t>(k)] << " Spearman (ridge baseline): " << rho);
    CHECK(rho > 0.2);
    CHECK(rho < 0.95);
    mean_rho += rho / 3;
  }
  CHECK(mean_rho > 0.3);
}

TEST_CASE("default data set: generated once into the cache folder, atomically") {
  TempDir dir;
  const std::string cache = dir / "cache";
  const char* old = std::getenv("MELGRAD_CACHE");
  const std::string saved = old ? old : "";
  ::setenv("MELGRAD_CACHE", cache.c_str(), 1);
  CHECK(cache_root() == cache);
  const std::string name = "patreco3-synthetic-small-seed42-v" + std::to_string(kGeneratorVersion);
  const std::string stale = cache + "/datasets/" + name + ".staging-999999999";  // beyond any pid
  fs::create_directories(stale + "/fma_genre_spectrograms");
  const std::string path = default_data_dir(DatasetSize::small, 42, false);
  CHECK(path == cache + "/datasets/" + name);
  CHECK(!fs::exists(stale));
  CHECK(fs::is_regular_file(path + "/melgrad-synthetic.txt"));
  const auto stamp = fs::last_write_time(path + "/melgrad-synthetic.txt");
  CHECK(default_data_dir(DatasetSize::small, 42, false) == path);  // reused, not regenerated
  CHECK(fs::last_write_time(path + "/melgrad-synthetic.txt") == stamp);
  CHECK(resolve_data_dir("", 42) == path);
  CHECK(resolve_data_dir("/x/y", 42) == "/x/y");
  // Same bytes as make_dataset with the same seed.
  CHECK(tree_bytes(path).at("multitask_dataset/train_labels.txt") ==
        tree_bytes(small_set()).at("multitask_dataset/train_labels.txt"));
  if (old)
    ::setenv("MELGRAD_CACHE", saved.c_str(), 1);
  else
    ::unsetenv("MELGRAD_CACHE");
}
