// `mpirun -np 2 melgrad extract` against `melgrad extract` on the same folder: five short
// WAV files of different lengths and one that is not audio (2 cores, oversubscribed). The
// ranks share the files out, so the output folder must hold the same files with the same
// bytes (each file is extracted by one process either way, with the same code and one
// thread), the summary and the failure line must be printed once, by rank 0, for all
// files, and both runs exit 1 (one file failed).
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "tests/audio/audio_test_util.h"
#include "tests/dist/mpirun_util.h"
#include "tests/e2e/e2e_util.h"

using namespace e2e;
using namespace melgrad::audio::testing;

namespace {

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every regular file below `dir` (relative path -> bytes).
std::map<std::string, std::string> folder_files(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = file_bytes(e.path());
  return out;
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("mpirun -np 2 melgrad extract writes what one process writes and reports once") {
  const fs::path in = scratch() / "audio-in";
  fs::create_directories(in);
  for (int k = 0; k < 5; ++k)  // 1.0 .. 3.0 s at 22050 Hz, mono and stereo
    write_sound((in / ("tone" + std::to_string(k) + ".wav")).string(),
                tones(22050 + k * 11025, 1 + k % 2, 22050), 1 + k % 2, 22050,
                SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  std::ofstream(in / "broken.wav") << "text, not audio";

  const fs::path one = scratch() / "extract-1", two = scratch() / "extract-2";
  const std::vector<std::string> common = {in.string(), "--beat", "--threads", "1"};
  std::vector<std::string> a1 = {"extract", "--out", one.string()}, a2 = a1;
  a1.insert(a1.end(), common.begin(), common.end());
  a2[2] = two.string();
  a2.insert(a2.end(), common.begin(), common.end());
  const Result single = run(a1);
  const Result ranks = mpirun(2, a2);
  INFO(single.err);
  INFO(ranks.err);
  CHECK(single.code == 1);  // broken.wav
  CHECK(ranks.code == 1);

  const auto expected = folder_files(one), got = folder_files(two);
  CHECK(expected.size() == 10);  // 5 full + 5 beat arrays
  REQUIRE(got.size() == expected.size());
  for (const auto& [name, bytes] : expected) {
    CAPTURE(name);
    REQUIRE(got.count(name) == 1);
    CHECK(got.at(name) == bytes);
  }

  // The files were shared out: 3 (tone0, tone2, tone4) and 3 (broken, tone1, tone3).
  CHECK(count(ranks.err, "extract: 6 files over 2 ranks: rank 0 3 files in ") == 1);
  CHECK(count(ranks.err, ", rank 1 3 files in ") == 1);

  // One summary and one failure line, for all six files (the folder name differs).
  CHECK(count(ranks.out, "extracted 5 of 6 files") == 1);
  CHECK(count(single.out, "extracted 5 of 6 files") == 1);
  CHECK(count(ranks.err, "1 file(s) failed:") == 1);
  CHECK(count(ranks.err, "broken.wav") >= 1);
  CHECK(count(ranks.err, "broken.wav") == count(single.err, "broken.wav"));
}
