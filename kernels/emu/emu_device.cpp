// The emulated device: its profiles (MELGRAD_EMU_DEVICE: small, h100, h200, a100), what a
// kernel declares about its resources (__launch_bounds__, read back from the NOPs that
// cuda_compat.h has GCC put at the kernel's entry; a declared register count), and the
// occupancy that follows from them: cudaOccupancyMaxActiveBlocksPerMultiprocessor and the
// co-residency limit of cooperative launches.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "kernels/emu/emu.h"

namespace melgrad::emu {
namespace {

constexpr std::size_t KiB = 1024;
// name, SMs, registers, threads, blocks, shared memory per SM, per block (opt-in), reserved.
// Source: NVIDIA's CUDA C++ Programming Guide, "Technical Specifications per Compute
// Capability" (8.0 and 9.0), and the H100 / A100 datasheets for the SM counts.
constexpr std::array<DeviceProfile, 4> kProfiles{{
    {"small", 4, 65536, 2048, 32, 228 * KiB, 227 * KiB, 1 * KiB},
    {"h100", 132, 65536, 2048, 32, 228 * KiB, 227 * KiB, 1 * KiB},
    {"h200", 132, 65536, 2048, 32, 228 * KiB, 227 * KiB, 1 * KiB},
    {"a100", 108, 65536, 2048, 32, 164 * KiB, 163 * KiB, 1 * KiB},
}};

const DeviceProfile* find_profile(std::string_view name) {
  for (const DeviceProfile& p : kProfiles) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

std::mutex g_device_mutex;
const DeviceProfile*& device_slot() {
  static const DeviceProfile* p = [] {
    const char* env = std::getenv("MELGRAD_EMU_DEVICE");
    if (env == nullptr || *env == '\0') return &kProfiles[0];
    const DeviceProfile* found = find_profile(env);
    if (found == nullptr) {
      throw std::invalid_argument("MELGRAD_EMU_DEVICE='" + std::string(env) +
                                  "': expected small, h100, h200 or a100");
    }
    return found;
  }();
  return p;
}

std::mutex g_registers_mutex;
std::map<const void*, int>& declared_registers() {  // kernel function -> registers per thread
  static std::map<const void*, int> m;
  return m;
}

int round_up(int n, int step) { return (n + step - 1) / step * step; }

}  // namespace

const DeviceProfile& device() {
  std::lock_guard lock(g_device_mutex);
  return *device_slot();
}

void set_device(std::string_view name) {
  const DeviceProfile* p = find_profile(name);
  if (p == nullptr) {
    throw std::invalid_argument("emulated device '" + std::string(name) +
                                "': expected small, h100, h200 or a100");
  }
  std::lock_guard lock(g_device_mutex);
  device_slot() = p;
}

std::vector<std::string> device_names() {
  std::vector<std::string> names;
  for (const DeviceProfile& p : kProfiles) names.emplace_back(p.name);
  return names;
}

namespace detail {

// Counts the NOPs at the kernel's entry (after the CET/BTI landing pad the compiler may put
// first) and decodes launch_bounds_nops().
LaunchBounds launch_bounds_of(const void* fn) {
  if (fn == nullptr) return {};
  int nops = 0;
#if defined(__x86_64__)
  const auto* code = static_cast<const unsigned char*>(fn);
  static constexpr unsigned char kEndbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};
  if (std::memcmp(code, kEndbr64, sizeof kEndbr64) == 0) code += sizeof kEndbr64;
  while (code[nops] == 0x90 && nops < 33 * 32) ++nops;
#elif defined(__aarch64__)
  const auto* code = static_cast<const unsigned char*>(fn);
  auto word = [&code](int i) {
    uint32_t w = 0;
    std::memcpy(&w, code + 4 * i, 4);
    return w;
  };
  if (word(0) == 0xd503245fu) code += 4;  // bti c
  while (word(nops) == 0xd503201fu && nops < 33 * 32) ++nops;
#endif
  if (nops == 0) return {};
  const int extra_blocks = (nops - 1) / 33;
  return {32 * (nops - 33 * extra_blocks), 1 + extra_blocks};
}

}  // namespace detail

void declare_registers(const void* fn, int registers_per_thread) {
  if (registers_per_thread < 1 || registers_per_thread > 255) {
    throw std::invalid_argument("declare_registers: " + std::to_string(registers_per_thread) +
                                " registers per thread (a kernel uses 1 to 255)");
  }
  std::lock_guard lock(g_registers_mutex);
  declared_registers()[fn] = registers_per_thread;
}

KernelResources kernel_resources(const void* fn) {
  KernelResources r;
  const detail::LaunchBounds b = detail::launch_bounds_of(fn);
  r.max_threads = b.max_threads;
  r.min_blocks = b.min_blocks;
  {
    std::lock_guard lock(g_registers_mutex);
    const auto it = declared_registers().find(fn);
    if (it != declared_registers().end()) {
      r.registers = it->second;
      r.registers_declared = true;
      return r;
    }
  }
  if (b.max_threads > 0) {  // nvcc keeps max_threads × min_blocks threads within the file
    const int cap = device().registers_per_sm / (b.max_threads * b.min_blocks) / 8 * 8;
    r.registers = std::clamp(cap, 8, 255);
  } else {
    r.registers = kEstimatedRegisters;
  }
  return r;
}

int max_active_blocks_per_sm(const void* fn, unsigned threads_per_block, std::size_t dynamic_smem) {
  const DeviceProfile& d = device();
  const KernelResources r = kernel_resources(fn);
  const int threads = static_cast<int>(threads_per_block);
  if (threads < 1 || threads > 1024 || (r.max_threads > 0 && threads > r.max_threads) ||
      dynamic_smem > d.smem_per_block_optin) {
    return 0;
  }
  const int warps = (threads + 31) / 32;
  const int by_threads = d.threads_per_sm / 32 / warps;
  const int registers_per_warp = round_up(r.registers * 32, 256);
  const int by_registers = d.registers_per_sm / registers_per_warp / warps;
  const auto by_smem = static_cast<int>(d.smem_per_sm / (dynamic_smem + d.smem_reserved_per_block));
  return std::min({d.blocks_per_sm, by_threads, by_registers, by_smem});
}

int cooperative_max_blocks(const void* fn, unsigned threads_per_block, std::size_t dynamic_smem) {
  return device().sms * max_active_blocks_per_sm(fn, threads_per_block, dynamic_smem);
}

}  // namespace melgrad::emu
