// Where a tensor's memory lives: the host (cpu) or a CUDA device (cuda:N).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace melgrad {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::cuda, i}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool operator==(const Device&) const = default;

  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

  // "cpu", "cuda", "cuda:1".
  static Device parse(const std::string& s) {
    if (s == "cpu") return cpu();
    if (s == "cuda") return cuda(0);
    if (s.rfind("cuda:", 0) == 0) {
      try {
        return cuda(std::stoi(s.substr(5)));
      } catch (const std::exception&) {
      }
    }
    throw std::invalid_argument("unknown device '" + s + "' (expected cpu, cuda or cuda:N)");
  }
};

}  // namespace melgrad
