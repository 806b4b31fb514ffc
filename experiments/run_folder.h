// Run folders (the contract in docs/EXPERIMENTS.md): where a run's files go, refusing to overwrite
// a finished run, JSON files written atomically, the per-epoch log, and a description of
// the data folder a run used.
//
//   RUN_DIR/config.json  log.jsonl  best.h5  last.h5  metrics.json  predictions.json
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "experiments/run_folder_lock.h"

namespace melgrad::experiments {

constexpr const char* kMelgradVersion = "0.1.0";

// Files a run writes (what --force removes; nothing else in the folder is touched).
constexpr const char* kRunFiles[] = {"config.json", "log.jsonl",    "best.h5",
                                     "last.h5",     "metrics.json", "predictions.json"};

std::string iso_time_now();  // "2024-05-01T12:34:56Z" (UTC)
// Creates and returns "runs/<command>-YYYYmmdd-HHMMSS" (with "-2", "-3", ... when taken).
std::string default_run_dir(const std::string& command);

enum class RunDirMode {
  fresh,   // the folder must be missing or empty
  resume,  // the folder must hold config.json and last.h5
  force,   // the run's own files are replaced (replace_run_files: checked first, never half)
};
// Creates the folder (and parents) as the mode requires, locks it (the returned lock must
// live as long as the run writes there), removes temp files that dead processes left in
// it (saying so on stderr), and checks it; errors say which option to use.
RunFolderLock prepare_run_dir(const std::string& dir, RunDirMode mode);
// The folder of a study, grid or --seeds run, which holds runs of its own, locked for the
// whole of it: fresh, as prepare_run_dir(dir, fresh); else created if missing and locked.
RunFolderLock lock_parent_run_dir(const std::string& dir, bool fresh);

void write_json_file(const std::string& path,
                     const nlohmann::json& value);       // atomic, 2-space indent
nlohmann::json read_json_file(const std::string& path);  // errors name the file

// log.jsonl: one JSON object per line.
void append_json_line(const std::string& path, const nlohmann::json& value);
std::vector<nlohmann::json> read_json_lines(const std::string& path);  // missing file: empty
// Rewrites the log keeping only epochs <= last_epoch (for resume after a crash).
void truncate_log(const std::string& path, int64_t last_epoch);

struct DataInfo {
  std::string path;
  bool synthetic = false;
  std::string name;  // "synthetic patreco3 (small, seed 42)" or "patreco3 at /path"
  nlohmann::json to_json() const {
    return {{"path", path}, {"synthetic", synthetic}, {"name", name}};
  }
};
// Reads the generator's marker file (melgrad-synthetic.txt) when there is one.
DataInfo describe_data_dir(const std::string& dir);

}  // namespace melgrad::experiments
