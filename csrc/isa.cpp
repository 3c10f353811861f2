// isa.cpp — which SIMD path the kernels run (see isa.h).
#include "isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace pcn {

Isa best_isa() {
  static const Isa best = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      return Isa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
    return Isa::Base;
  }();
  return best;
}

static std::atomic<int> g_forced{-1};

static int env_isa() {
  // PYCONVNET_ISA=base|avx2|avx512 caps the path (read once).
  static const int v = [] {
    const char* e = std::getenv("PYCONVNET_ISA");
    if (!e) return -1;
    if (!std::strcmp(e, "base")) return 0;
    if (!std::strcmp(e, "avx2")) return 1;
    if (!std::strcmp(e, "avx512")) return 2;
    return -1;
  }();
  return v;
}

Isa active_isa() {
  int f = g_forced.load(std::memory_order_relaxed);
  if (f < 0) f = env_isa();
  const int b = int(best_isa());
  return Isa(f < 0 || f > b ? b : f);
}

void force_isa(Isa isa) { g_forced = int(isa) > int(best_isa()) ? int(best_isa()) : int(isa); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "base";
  }
}

}  // namespace pcn
