// conv2d_direct_isa.h — direct (no im2col) conv2d kernels for groups == 1 and C >= 5,
// one copy per ISA (csrc/cpu/isa/conv2d_direct.cpp). See docs/KERNELS.md.
//
// DirectConv describes one forward convolution x (N,H,W,C) * w -> y (N,OH,OW,K). The
// paddings pt/pl may be negative (a crop): backward-input at stride 1 is run as the
// forward conv of dy with pt' = (KH-1)*dh - pt, pl' = (KW-1)*dw - pl, and the weights
// rotated by 180 degrees with C and K swapped (`transposed`).
// Bottom/right padding is implied by OH/OW.
//
// Scratch is allocated by the caller (csrc/cpu/conv2d.cpp) with the sizes the
// *_scratch functions return (floats), outside any parallel region.
#pragma once
#include "../../common.h"
#include "../../isa.h"

namespace pcn {

struct DirectConv {
  int64_t N, H, W, C, K, KH, KW, sh, sw, dh, dw, pt, pl, OH, OW;
};

// wp: packed weights + bias; xp: the column-padded copy of x (0 when x is used in place).
PCN_DECLARE_ISA(void conv2d_direct_forward_scratch(const DirectConv& d, int64_t* wp_floats, int64_t* xp_floats))

// y (N,OH,OW,K) fully written. w is HWIO (KH,KW,C,K); with `transposed` it is the
// filter (KH,KW,K,C) of the conv whose backward-input this is (read rotated by 180
// degrees, channels swapped). b may be null; act: 0 none, 1 relu.
PCN_DECLARE_ISA(void conv2d_direct_forward(const DirectConv& d, const float* x, const float* w, bool transposed,
                                           const float* b, int act, float* y, float* wp, float* xp))

// dw (KH,KW,C,K) = (accumulate ? dw : 0) + sum over output pixels x_tap * dy; x is
// read in place. Threads own disjoint blocks of dw and sweep all pixels: the result
// does not depend on the thread count.
PCN_DECLARE_ISA(void conv2d_direct_backward_filter(const DirectConv& d, const float* dy, const float* x, float* dw,
                                                   bool accumulate))

}  // namespace pcn
