// Label files as they really are, CLASS_MAPPING, and bad rows named by file and line.
#include "datasets/genres.h"
#include "datasets/labels.h"
#include "tests/data/test_util.h"

using namespace melgrad::data;
using namespace melgrad::data::testing;

TEST_CASE("genres: CLASS_MAPPING gives the study's 10 classes") {
  CHECK(raw_genres().size() == 20);
  CHECK(genre_classes() == std::vector<std::string>{"Blues", "Classical", "Electronic", "Folk",
                                                    "Hip-Hop", "Jazz", "Metal", "Pop", "Rock",
                                                    "Trip-Hop"});
  auto cls = [](const char* g) { return genre_classes()[static_cast<size_t>(map_genre(g))]; };
  CHECK(cls("Psych-Rock") == "Rock");
  CHECK(cls("Post-Rock") == "Rock");
  CHECK(cls("Psych-Folk") == "Folk");
  CHECK(cls("Punk") == "Metal");
  CHECK(cls("Chiptune") == "Electronic");
  CHECK(cls(" Trip-Hop\r") == "Trip-Hop");
  for (const char* dropped : {"Indie-Rock", "Post-Punk", "Soundtrack", "International", "Old-Time"})
    CHECK(map_genre(dropped) == kDroppedGenre);
  CHECK(map_genre("Polka") == kUnknownGenre);
  CHECK(map_genre("rock") == kUnknownGenre);  // the files use one spelling; no guessing
}

TEST_CASE("labels: clip ids are the text before the first dot") {
  CHECK(clip_id_of("1042.fused.full.npy.gz") == "1042");
  CHECK(clip_id_of("1042.beatsync.fused.npy") == "1042");
  CHECK(clip_id_of("dir/1042.full.fused.npy") == "1042");
  CHECK(clip_id_of("1042") == "1042");
}

TEST_CASE("labels: the genre TSV with CRLF, a blank line and mismatched suffixes") {
  const auto rows = read_genre_labels(fixture_dir() + "/fma_genre_spectrograms/train_labels.txt");
  REQUIRE(rows.size() == 6);
  CHECK(rows[0].id == "101");
  CHECK(rows[0].name == "101.fused.full.npy.gz");
  CHECK(rows[0].genre == "Blues");
  CHECK(rows[0].line == 2);
  CHECK(rows[1].label == map_genre("Rock"));
  CHECK(rows[2].label == kDroppedGenre);
  const auto beat =
      read_genre_labels(fixture_dir() + "/fma_genre_spectrograms_beat/train_labels.txt");
  CHECK(beat[5].name == "106.beatsync.fused.npy");
  CHECK(beat[5].id == "106");
}

TEST_CASE("labels: the multitask CSV, columns found by name") {
  const auto a = read_multitask_labels(fixture_dir() + "/multitask_dataset/train_labels.txt");
  const auto b = read_multitask_labels(fixture_dir() + "/multitask_dataset_beat/train_labels.txt");
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].id == b[i].id);
    CHECK(a[i].targets == b[i].targets);  // same values, columns in another order
  }
  CHECK(a[1].id == "302");
  CHECK(a[1].targets == std::array<float, 3>{0.0f, 1.0f, 0.125f});
}

TEST_CASE("labels: bad rows are errors naming the file, the line and the id") {
  TempDir dir;
  const std::string f = dir / "train_labels.txt";
  auto genre_error = [&](const std::string& text) {
    write_text(f, text);
    return data_error_of([&] { read_genre_labels(f); });
  };
  const std::string unknown = genre_error("Id\tGenre\n1.a.npy\tRock\n2.fused.full.npy.gz\tPolka\n");
  CHECK(contains(unknown, f + " line 3"));
  CHECK(contains(unknown, "2.fused.full.npy.gz"));
  CHECK(contains(unknown, "unknown genre 'Polka'"));
  CHECK(contains(genre_error("Id,Genre\n1.npy,Rock\n"),
                 f + " line 1: expected the header 'Id<TAB>Genre'"));
  CHECK(contains(genre_error("Id\tGenre\n1.npy Rock\n"),
                 f + " line 2: expected 2 tab-separated fields"));
  CHECK(contains(genre_error("Id\tGenre\n1.npy\tRock\n1.other.npy\tPop\n"),
                 "clip id 1 already labelled on line 2"));
  CHECK(contains(genre_error(""), f + ": empty label file"));
  CHECK(contains(genre_error("Id\tGenre\n.npy\tRock\n"), "empty clip id"));

  auto mt_error = [&](const std::string& text) {
    write_text(f, text);
    return data_error_of([&] { read_multitask_labels(f); });
  };
  CHECK(contains(mt_error("Id,valence,energy\n1,0.5,0.5\n"), "lacks the column 'danceability'"));
  const std::string range = mt_error("Id,valence,energy,danceability\n7,0.5,1.5,0.5\n");
  CHECK(contains(range,
                 f + " line 2 (id 7): field 'energy' must be a number in [0, 1], found '1.5'"));
  CHECK(contains(mt_error("Id,valence,energy,danceability\n7,0.5,nan,0.5\n"), "found 'nan'"));
  CHECK(contains(mt_error("Id,valence,energy,danceability\n7,0.5,x,0.5\n"), "found 'x'"));
  CHECK(contains(mt_error("Id,valence,energy,danceability\n7,0.5,0.5\n"),
                 f + " line 2: expected 4 comma-separated"));
  CHECK(contains(mt_error("Id,valence,energy,danceability\n7,0,0,0\n7,1,1,1\n"),
                 "already labelled on line 2"));
  CHECK(contains(data_error_of([&] { read_genre_labels(dir / "missing.txt"); }),
                 "cannot open label file"));
}
