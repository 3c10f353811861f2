// elementwise_isa.h — per-ISA hot loops of the elementwise family (defined in
// csrc/cpu/isa/elementwise.cpp, compiled once per ISA; see isa.h). Serial: the
// caller (csrc/cpu/elementwise.cpp) splits the work among OpenMP threads.
// act is the int value of pcn::Act (ops/elementwise.h); kept as int so this
// header stays free of std containers.
#pragma once
#include "../../common.h"
#include "../../isa.h"

namespace pcn {
// x (n) -> y (n)
PCN_DECLARE_ISA(void act_forward_span(int act, float alpha, int64_t n, const float* x, float* y))
// dy, x, y (n) -> dx (n); x or y may be null as promised by the front
PCN_DECLARE_ISA(void act_backward_span(int act, float alpha, int64_t n, const float* dy, const float* x,
                                       const float* y, float* dx))
// rows of n contiguous values: y = softmax(x) (log: log_softmax) per row
PCN_DECLARE_ISA(void softmax_rows_span(int64_t rows, int64_t n, bool log, const float* x, float* y))
}  // namespace pcn
