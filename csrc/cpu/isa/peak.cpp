// peak.cpp — the machine's FMA peak: independent FMA chains on every thread,
// long enough to hide latency (compiled per ISA like every file here).
#include <omp.h>

#include "../../common.h"
#include "../../isa.h"
#include "peak_isa.h"

namespace pcn {
namespace PCN_ISA_NS {

#if defined(__AVX512F__)
constexpr int VW = 16;
#elif defined(__AVX2__)
constexpr int VW = 8;
#else
constexpr int VW = 4;
#endif
typedef float vf __attribute__((vector_size(VW * 4)));

// Runs `iters` rounds of 16 independent vector FMA chains on each thread and
// returns the number of floating-point operations done in total.
double fma_loop(int64_t iters, float* sink) {
  double total = 0;
#pragma omp parallel reduction(+ : total)
  {
    vf acc[16];
    for (int i = 0; i < 16; ++i) acc[i] = vf{} + float(i) * 1e-3f;
    const vf a = vf{} + 0.999999f, b = vf{} + 1e-7f;
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) acc[i] = acc[i] * a + b;
    }
    vf s = vf{};
    for (int i = 0; i < 16; ++i) s += acc[i];
    float r = 0;
    for (int j = 0; j < VW; ++j) r += s[j];
#pragma omp critical
    *sink += r;
    total += 2.0 * 16.0 * VW * double(iters);
  }
  return total;
}

}  // namespace PCN_ISA_NS
}  // namespace pcn
