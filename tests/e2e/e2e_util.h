// Helpers for end-to-end tests that run the `melgrad` program: where it is, a tiny generated
// data set shared by the tests of one process, running the program with its output
// captured (optionally in the background, to send it signals), and reading its run folder.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "datasets/synth_dataset.h"

namespace e2e {

namespace fs = std::filesystem;

// The program is built next to the tests: build/tests/e2e/.. -> build/experiments/melgrad.
inline fs::path melgrad_exe() {
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path() /
         "experiments" / "melgrad";
}

// The same program with the kernel emulator as its CUDA device (runs --device cuda anywhere).
inline fs::path melgrad_emu_exe() { return melgrad_exe().parent_path() / "melgrad-emu"; }

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(read_text(p)); }

// A scratch folder for this test process (removed at exit), with MELGRAD_CACHE pointing
// into it so the tests never touch the user's cache.
inline const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("melgrad-e2e-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    ::setenv("MELGRAD_CACHE", (d / "cache").c_str(), 1);
    static struct Cleanup {
      fs::path path;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(path, ec);
      }
    } cleanup{d};
    return d;
  }();
  return dir;
}

// The small data set's counts with tiny arrays (full clips T 3-5, beat 1-3 frames): CNN
// runs pad them to --frames 16, enough for two 2x2 max-pools.
inline const std::string& tiny_data() {
  static const std::string dir = [] {
    fs::path d = scratch() / "tiny-data";
    melgrad::data::SynthOptions o;
    o.short_arrays = true;
    o.seed = 7;
    o.progress = melgrad::data::Progress::never;
    melgrad::data::make_dataset(d.string(), o);
    return d.string();
  }();
  return dir;
}

// A small, fast CNN genre run on tiny_data() (channels 1-4-8, 2x2 max-pools over 16 frames,
// one thread, no progress bar) into `out`, then `extra` (a test's own options).
inline std::vector<std::string> tiny_cnn_genre_args(const fs::path& out, int epochs,
                                                    const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a = {"genre",      "--data",   tiny_data(),           "--out",
                                out.string(), "--epochs", std::to_string(epochs)};
  for (const char* o :
       {"--frames", "16", "--channels", "1,4,8", "--pool", "2", "--threads", "1", "--no-progress"})
    a.push_back(o);
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// A study of one experiment (genre-cnn-mel-beat) on tiny_data() at 16 frames, one thread, no
// progress bar, into `out`, then `extra` (a test's own options).
inline std::vector<std::string> tiny_study_args(const fs::path& out, int epochs,
                                                const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a = {"study",      "--data",   tiny_data(),           "--out",
                                out.string(), "--epochs", std::to_string(epochs)};
  for (const char* o :
       {"--only", "genre-cnn-mel-beat", "--frames", "16", "--threads", "1", "--no-progress"})
    a.push_back(o);
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

struct Result {
  int code = -1;  // exit status, or 128 + signal
  std::string out, err;
};

// Starts melgrad with `args`, stdout/stderr into files below scratch(); returns the pid.
inline pid_t spawn(const std::vector<std::string>& args, const std::string& tag,
                   const fs::path& program = melgrad_exe()) {
  const std::string exe = program.string();
  const std::string out = (scratch() / (tag + ".out")).string(),
                    err = (scratch() / (tag + ".err")).string();
  pid_t pid = ::fork();
  if (pid == 0) {
    int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fo, 1);
    ::dup2(fe, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Polls `ready` every 5 ms until it holds or `timeout` has passed; returns whether it held.
inline bool wait_until(const std::function<bool()>& ready,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline Result wait_for(pid_t pid, const std::string& tag) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(scratch() / (tag + ".out"));
  r.err = read_text(scratch() / (tag + ".err"));
  return r;
}

inline Result run(const std::vector<std::string>& args, const fs::path& program = melgrad_exe()) {
  static int counter = 0;
  const std::string tag = "run" + std::to_string(++counter);
  return wait_for(spawn(args, tag, program), tag);
}

// The lines of a run's log.jsonl, one JSON object per epoch.
inline std::vector<nlohmann::json> log_lines(const fs::path& run) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(read_text(run / "log.jsonl"));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// metrics.json without the wall-clock field (the one value a seed cannot fix).
inline nlohmann::json timeless(nlohmann::json metrics) {
  metrics.erase("train_seconds");
  return metrics;
}

}  // namespace e2e
