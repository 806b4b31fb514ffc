// main() of test_audio. `test_audio` runs the tests that need no music; `test_audio --music`
// runs the parity tests on Debian's planetblupi-music-ogg tracks, or exits 77 (CTest: skipped)
// when the package is not installed (scripts/setup.sh installs it).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "audio_test_util.h"

int main(int argc, char** argv) {
  bool music = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--music")
      music = true;
    else
      args.push_back(argv[i]);
  }
  if (music && !std::filesystem::exists(melgrad::audio::testing::music_track("music004"))) {
    std::printf(
        "test_audio --music: %s is missing (apt-get install planetblupi-music-ogg); "
        "skipping\n",
        melgrad::audio::testing::kMusicDir.c_str());
    return 77;
  }
  doctest::Context context(int(args.size()), args.data());
  context.addFilter(music ? "test-case" : "test-case-exclude", "*music*");
  return context.run();
}
