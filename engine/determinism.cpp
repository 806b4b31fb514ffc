// The determinism setting (see determinism.h).
#include "engine/determinism.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace melgrad {

namespace {
std::atomic<bool>& setting() {
  static std::atomic<bool> on = [] {
    const char* env = std::getenv("MELGRAD_DETERMINISTIC");
    return env == nullptr || *env == '\0' || parse_deterministic("MELGRAD_DETERMINISTIC", env);
  }();
  return on;
}
}  // namespace

bool parse_deterministic(std::string_view what, std::string_view text) {
  if (text == "on" || text == "1") return true;
  if (text == "off" || text == "0") return false;
  throw std::invalid_argument(std::string(what) + ": expected on or off, got '" +
                              std::string(text) + "'");
}

bool deterministic_algorithms() { return setting().load(); }
void set_deterministic_algorithms(bool on) { setting().store(on); }

}  // namespace melgrad
