// EMULATED-DEVICE BUILD (cuda/emu/run_device.sh): stands in for csrc/no_cuda.cpp.
// The whole CUDA backend (runtime.cu, stream.cu and every kernel family .cu,
// rewritten by transform.py --device) is compiled for the host against
// cuda_runtime_emu.h and defines cuda_api.h's entry points itself, exactly as
// in a real CUDA build; this file adds only the emulator's own pieces: the
// fiber context switch, the exit report and the ctypes entry points below.
#include <cstdio>
#include <cstdlib>

#define PCN_EMU_DEFINE_SWITCH
#include "emu/emu.h"

#ifndef PCN_EMU_DEVICE
#error "device_main.cpp is built with -DPCN_EMU_DEVICE=1 (run_device.sh)"
#endif

#define PCN_EMU_EXPORT extern "C" __attribute__((visibility("default")))

// Transfer counters since start (or the last reset): out[0..11] = H2D calls,
// H2D bytes, D2H calls, D2H bytes, D2D calls, D2D bytes, memset calls, memset
// bytes, cudaMalloc calls, cudaFree calls, kernel launches, live device bytes,
// uses of the legacy default stream (out[12]).
PCN_EMU_EXPORT void pcn_emu_device_stats(long long* out) {
  auto& a = emu::dev::arena();
  std::lock_guard<std::recursive_mutex> g(a.mu);
  for (int i = 0; i < emu::dev::kNStat; ++i) out[i] = emu::dev::stats[i];
  out[emu::dev::kNStat] = emu::launches;
  out[emu::dev::kNStat + 1] = (long long)a.used;
  out[emu::dev::kNStat + 2] = emu::dev::null_stream_uses;
}
PCN_EMU_EXPORT void pcn_emu_device_stats_reset() {
  auto& a = emu::dev::arena();
  std::lock_guard<std::recursive_mutex> g(a.mu);
  for (auto& s : emu::dev::stats) s = 0;
  emu::launches = 0;
}
// 1 when p points into a live device allocation (tests of the emulator).
PCN_EMU_EXPORT int pcn_emu_is_device_pointer(const void* p) {
  auto& a = emu::dev::arena();
  std::lock_guard<std::recursive_mutex> g(a.mu);
  return emu::dev::in_arena(p) && emu::dev::allocation_of(p, 1) != 0;
}

namespace {
struct Report {
  ~Report() {
    using namespace emu::dev;
    if (std::getenv("PCN_EMU_COUNT"))
      std::fprintf(stderr,
                   "\nemu device: %lld kernel launches; H2D %lld copies (%lld B), D2H %lld (%lld B), D2D %lld "
                   "(%lld B), memset %lld; cudaMalloc %lld, cudaFree %lld\n",
                   emu::launches, stats[kH2D], stats[kH2DBytes], stats[kD2H], stats[kD2HBytes], stats[kD2D],
                   stats[kD2DBytes], stats[kMemset], stats[kMalloc], stats[kFree]);
    if (const char* path = std::getenv("PCN_EMU_COVERAGE")) {
      if (FILE* f = std::fopen(path, "a")) {
        for (const auto& kv : emu::coverage())
          std::fprintf(f, "%lld\t%s\t%s\n", kv.second, kv.first.first.c_str(), kv.first.second.c_str());
        std::fclose(f);
      }
    }
  }
} g_report;
}  // namespace
