// main() of test_beat: the parity suite (--test-suite=beat_parity) needs Debian's
// planetblupi-music-ogg; without it the run prints why and exits 77, which CTest reports as
// skipped. Everything else runs as a plain doctest executable.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/audio/beat_test_util.h"

int main(int argc, char** argv) {
  bool parity = false;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--test-suite=beat_parity") parity = true;
  if (parity && !std::filesystem::exists(melgrad::test::music_path("music000"))) {
    std::printf("SKIPPED: %s not found (apt-get install planetblupi-music-ogg)\n",
                melgrad::test::music_path("music000").c_str());
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
