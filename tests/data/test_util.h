// Helpers for the data-layer tests: temporary folders, the fixture path, and capturing the
// message of an expected DataError so tests can check that it names the file / row.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "datasets/file_io.h"

namespace melgrad::data::testing {

namespace fs = std::filesystem;

// A fresh folder under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/melgrad-data-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline std::string fixture_dir() {
  return std::string(MELGRAD_SOURCE_DIR) + "/tests/data/fixtures/quirky";
}

// A writable copy of the quirky fixture set in `dir`/quirky; returns its path.
inline std::string copy_fixture(const TempDir& dir) {
  const std::string dst = dir / "quirky";
  fs::copy(fixture_dir(), dst, fs::copy_options::recursive);
  return dst;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs f; returns the DataError message, or "<no error>" / "<other: ...>".
template <class F>
std::string data_error_of(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<other: ") + e.what() + ">";
  }
  return "<no error>";
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace melgrad::data::testing
