// gemm_isa.h — the per-ISA SGEMM entry points (defined in csrc/cpu/isa/gemm.cpp).
// Callers use cpu::sgemm (csrc/cpu/gemm.h), which picks the path at run time.
#pragma once
#include "../../common.h"
#include "../../isa.h"

namespace pcn {
// p as in GemmParams; A, B, C host pointers. Parallel (OpenMP) unless called
// from inside a parallel region, then it runs on the calling thread.
PCN_DECLARE_ISA(void sgemm(const GemmParams& p, const float* A, const float* B, float* C))
}  // namespace pcn
