// libFuzzer target for the .npy parser (datasets/npy.h) and the gzip layer under it.
// Any input must either parse or raise DataError; a crash, a sanitizer report, another
// exception type, a hang or an allocation beyond the RSS limit is a finding.
// Built and run by scripts/fuzz-npy.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "datasets/file_io.h"
#include "datasets/npy.h"

namespace {

void parse_checked(const uint8_t* data, size_t size) {
  using namespace melgrad::data;
  NpyArray a;
  try {
    a = parse_npy(data, size, "fuzz-input.npy");
  } catch (const DataError&) {
    return;
  }
  // A successful parse must be self-consistent.
  size_t count = 1;
  for (int64_t d : a.shape) count *= static_cast<size_t>(d);
  if (count != a.data.size()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace melgrad::data;
  parse_checked(data, size);
  try {
    parse_npy_header(data, size, "fuzz-input.npy");
  } catch (const DataError&) {
  }
  if (is_gzip(data, size)) {
    std::vector<uint8_t> inflated;
    try {
      inflated = gunzip(data, size, "fuzz-input.npy.gz", size_t(1) << 24);
    } catch (const DataError&) {
      return 0;
    }
    parse_checked(inflated.data(), inflated.size());
  }
  return 0;
}
