// The emulator's per-launch counters (emu_counters.h): accesses are grouped into warp
// requests while kernels run and turned into sectors, wavefronts and conflicts by finish().
// Thread identity comes from the running thread's context (emu.h: detail::ctx()); nothing
// in the emulator's launch machinery calls in here.
#include "kernels/emu/emu_counters.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/emu/cuda_compat.h"

namespace melgrad::emu::counters {
namespace {

struct LaneAccess {
  uint64_t addr;
  uint8_t lane;
  uint8_t bytes;
};

struct Request {
  int kind = 0;  // Access, or 4 for a branch
  std::vector<LaneAccess> lanes;
  uint32_t taken = 0, not_taken = 0;
};

struct RequestKey {
  uint64_t block;
  uint32_t site;
  uint32_t warp;
  uint32_t epoch;  // MG_BARRIERs the thread passed before
  uint32_t k;
  bool operator==(const RequestKey&) const = default;
};
struct RequestKeyHash {
  std::size_t operator()(const RequestKey& r) const {
    uint64_t h = r.block * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t{r.site} << 40) ^ (uint64_t{r.warp} << 32) ^ (uint64_t{r.epoch} << 20) ^ r.k;
    return static_cast<std::size_t>(h * 0xBF58476D1CE4E5B9ull >> 7);
  }
};

struct State {
  std::mutex mutex;
  std::map<std::tuple<const char*, int, int>, uint32_t> sites;
  std::unordered_map<uint64_t, uint32_t> occurrences;  // (block, site, thread, epoch) -> count
  std::unordered_map<uint64_t, uint32_t> epochs;       // (block, thread) -> barriers passed
  std::unordered_map<RequestKey, Request, RequestKeyHash> requests;
  uint64_t barriers = 0;
};

std::atomic<bool> g_active{false};
State& state() {
  static State s;
  return s;
}

struct Where {
  uint64_t block;
  uint32_t thread;
};
Where where() {
  const detail::ThreadCtx& c = detail::ctx();
  const uint64_t block =
      c.block_idx.x +
      uint64_t{c.grid_dim.x} * (c.block_idx.y + uint64_t{c.grid_dim.y} * c.block_idx.z);
  const uint32_t thread =
      c.thread_idx.x + c.block_dim.x * (c.thread_idx.y + c.block_dim.y * c.thread_idx.z);
  return {block, thread};
}

// The request this execution of (file, line) by the calling thread belongs to.
Request& request_of(State& s, int kind, const char* file, int line, uint8_t& lane) {
  const auto [it, added] =
      s.sites.try_emplace({file, line, kind}, static_cast<uint32_t>(s.sites.size()));
  const uint32_t site = it->second;
  const Where w = where();
  const uint32_t epoch = s.epochs[(w.block << 11) ^ w.thread];
  const uint64_t occurrence_key =
      (w.block << 40) ^ (uint64_t{epoch} << 24) ^ (uint64_t{site} << 11) ^ w.thread;
  const uint32_t k = s.occurrences[occurrence_key]++;
  lane = static_cast<uint8_t>(w.thread % 32);
  Request& r = s.requests[RequestKey{w.block, site, w.thread / 32, epoch, k}];
  r.kind = kind;
  return r;
}

// Distinct 32-byte sectors of a global request.
uint64_t sectors_of(const Request& r) {
  std::vector<uint64_t> sectors;
  for (const LaneAccess& a : r.lanes)
    for (uint64_t s = a.addr / 32; s <= (a.addr + a.bytes - 1) / 32; ++s) sectors.push_back(s);
  std::sort(sectors.begin(), sectors.end());
  return static_cast<uint64_t>(std::unique(sectors.begin(), sectors.end()) - sectors.begin());
}

// Shared memory: {wavefronts, phases}. Lanes are served in phases (32 / (bytes / 4) lanes
// each for 8- and 16-byte accesses); a phase takes as many passes as the busiest of the 32
// banks has distinct 4-byte words to deliver.
std::pair<uint64_t, uint64_t> wavefronts_of(const Request& r) {
  const unsigned width = std::max<unsigned>(4, r.lanes.empty() ? 4 : r.lanes[0].bytes);
  const unsigned lanes_per_phase = 32 / std::min<unsigned>(width / 4, 32);
  std::map<unsigned, std::array<std::vector<uint64_t>, 32>> phases;  // phase -> per bank, words
  for (const LaneAccess& a : r.lanes) {
    auto& banks = phases[a.lane / lanes_per_phase];
    for (uint64_t word = a.addr / 4; word <= (a.addr + a.bytes - 1) / 4; ++word)
      banks[word % 32].push_back(word);
  }
  uint64_t wavefronts = 0;
  for (auto& [phase, banks] : phases) {
    std::size_t busiest = 1;
    for (auto& words : banks) {
      std::sort(words.begin(), words.end());
      busiest = std::max<std::size_t>(
          busiest,
          static_cast<std::size_t>(std::unique(words.begin(), words.end()) - words.begin()));
    }
    wavefronts += busiest;
  }
  return {wavefronts, phases.size()};
}

}  // namespace

double Totals::sectors_per_request(Access a) const {
  const int i = static_cast<int>(a);
  return requests[i] == 0 ? 0.0
                          : static_cast<double>(sectors[i]) / static_cast<double>(requests[i]);
}

uint64_t Totals::global_bytes_moved() const {
  return 32 * (sectors[static_cast<int>(Access::global_load)] +
               sectors[static_cast<int>(Access::global_store)]);
}

bool active() { return g_active.load(std::memory_order_relaxed); }

Session::Session() {
  bool expected = false;
  if (!g_active.compare_exchange_strong(expected, true))
    throw std::logic_error("emu counters: a counting session is already open");
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.sites.clear();
  s.occurrences.clear();
  s.epochs.clear();
  s.requests.clear();
  s.barriers = 0;
}

Session::~Session() {
  if (open_) g_active.store(false);
}

Totals Session::finish() {
  if (!open_) throw std::logic_error("emu counters: finish() called twice");
  open_ = false;
  g_active.store(false);
  State& s = state();
  std::lock_guard lock(s.mutex);
  Totals t;
  t.barriers = s.barriers;
  for (const auto& [key, r] : s.requests) {
    if (r.kind == 4) {
      ++t.branches;
      if (r.taken > 0 && r.not_taken > 0) ++t.divergent_branches;
      continue;
    }
    const int i = r.kind;
    ++t.requests[i];
    for (const LaneAccess& a : r.lanes) t.bytes[i] += a.bytes;
    if (i == static_cast<int>(Access::global_load) || i == static_cast<int>(Access::global_store)) {
      t.sectors[i] += sectors_of(r);
    } else {
      const auto [wavefronts, phases] = wavefronts_of(r);
      t.wavefronts[i] += wavefronts;
      t.conflicts[i] += wavefronts - phases;
    }
  }
  s.requests.clear();
  s.occurrences.clear();
  s.epochs.clear();
  return t;
}

void record_access(Access kind, const void* p, unsigned bytes, const char* file, int line) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  uint8_t lane = 0;
  Request& r = request_of(s, static_cast<int>(kind), file, line, lane);
  r.lanes.push_back({reinterpret_cast<uint64_t>(p), lane, static_cast<uint8_t>(bytes)});
}

void record_branch(bool taken, const char* file, int line) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  uint8_t lane = 0;
  Request& r = request_of(s, 4, file, line, lane);
  (taken ? r.taken : r.not_taken) += 1;
}

void record_barrier() {
  const Where w = where();
  State& s = state();
  std::lock_guard lock(s.mutex);
  ++s.epochs[(w.block << 11) ^ w.thread];
  if (w.thread == 0) ++s.barriers;  // counted once per block
}

}  // namespace melgrad::emu::counters
