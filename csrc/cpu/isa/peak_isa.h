// peak_isa.h — FMA-loop peak measurement (csrc/cpu/isa/peak.cpp).
#pragma once
#include "../../isa.h"
#include <cstdint>

namespace pcn {
PCN_DECLARE_ISA(double fma_loop(int64_t iters, float* sink))
}  // namespace pcn
