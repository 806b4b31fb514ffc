// main() of test_chroma. `test_chroma` runs the tests that need no music; `test_chroma --music`
// runs the parity tests on Debian's planetblupi-music-ogg tracks, or exits 77 (CTest: skipped)
// when the package is not installed (scripts/setup.sh installs it).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::string music_dir = "/usr/share/planetblupi/music";
  bool music = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--music")
      music = true;
    else
      args.push_back(argv[i]);
  }
  if (music && !std::filesystem::exists(music_dir + "/music009.ogg")) {
    std::printf(
        "test_chroma --music: %s/music009.ogg is missing "
        "(apt-get install planetblupi-music-ogg); skipping\n",
        music_dir.c_str());
    return 77;
  }
  doctest::Context context(int(args.size()), args.data());
  context.addFilter(music ? "test-case" : "test-case-exclude", "*music*");
  return context.run();
}
