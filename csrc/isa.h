// isa.h — run-time choice of the SIMD code path.
//
// Every file in csrc/cpu/isa/ is compiled three times (see CMakeLists.txt):
//   avx512: -march=x86-64-v4 -mprefer-vector-width=512
//   avx2:   -march=x86-64-v3
//   base:   the compiler's default x86-64 (SSE2)
// with PCN_ISA_NS defined to avx512 / avx2 / base, so each copy lives in its
// own namespace pcn::<isa>. Callers pick one copy at run time with PCN_ISA_CALL.
//
// Rule for files in csrc/cpu/isa/: include only common.h, isa.h and C headers
// (<cmath>, <cstring>, <immintrin.h>, <omp.h>); no std containers or other
// inline templates, whose out-of-line copies could be merged across the three
// builds by the linker and run AVX-512 code on a CPU without it.
#pragma once
#include <cstdint>

namespace pcn {

enum class Isa : int { Base = 0, Avx2 = 1, Avx512 = 2 };

Isa best_isa();               // what this CPU supports
Isa active_isa();             // what the kernels use now (best unless forced)
void force_isa(Isa isa);      // tests: run every path; clamps to best_isa()
const char* isa_name(Isa isa);

// Declare a function in all three namespaces: PCN_DECLARE_ISA(void f(int x))
#define PCN_DECLARE_ISA(decl) \
  namespace avx512 { decl; }  \
  namespace avx2 { decl; }    \
  namespace base { decl; }

#define PCN_ISA_CALL(fn, ...)                                       \
  (::pcn::active_isa() == ::pcn::Isa::Avx512 ? ::pcn::avx512::fn(__VA_ARGS__) \
   : ::pcn::active_isa() == ::pcn::Isa::Avx2 ? ::pcn::avx2::fn(__VA_ARGS__)   \
                                             : ::pcn::base::fn(__VA_ARGS__))

}  // namespace pcn
