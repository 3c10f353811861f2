// cpu/conv2d.h — CPU conv2d kernels (OpenMP; GEMM-based, depthwise in isa/).
// Shapes: x (N,H,W,C) NHWC; w (KH,KW,C/groups,K) HWIO; b (K); y/dy (N,OH,OW,K).
// Preconditions: p validated and resolved by conv2d_make_params.
#pragma once
#include "../common.h"
#include "../isa.h"

namespace pcn {
namespace cpu {
void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y);
void conv2d_backward_input(const Conv2dParams& p, const float* dy, const float* w, float* dx);
void conv2d_backward_filter(const Conv2dParams& p, const float* dy, const float* x, float* dw, bool accumulate);
void conv2d_backward_bias(int64_t rows, int64_t K, const float* dy, float* db, bool accumulate);
}  // namespace cpu

// Depthwise kernels (C/groups == 1, groups == C, K = C*m), one copy per ISA
// (csrc/cpu/isa/conv2d_dw.cpp). OpenMP-parallel, deterministic.
//   forward: y fully written (bias may be null; p.activation applied).
//   backward_input: dx fully written (gather form, no atomics).
//   backward_filter: scratch holds nscratch * KH*KW*K floats (per-thread partials,
//     nscratch >= the region's thread count); dw = (accumulate ? dw : 0) + sum.
PCN_DECLARE_ISA(void conv2d_dw_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                                       float* y))
PCN_DECLARE_ISA(void conv2d_dw_backward_input(const Conv2dParams& p, const float* dy, const float* w, float* dx))
PCN_DECLARE_ISA(void conv2d_dw_backward_filter(const Conv2dParams& p, const float* dy, const float* x, float* dw,
                                               bool accumulate, float* scratch, int nscratch))
}  // namespace pcn
