// conv2d_direct_isa.h — direct (no im2col) conv2d kernels for groups == 1 and C >= 5,
// one copy per ISA (csrc/cpu/isa/conv2d_direct.cpp). See docs/KERNELS.md.
//
// DirectConv describes one forward convolution x (N,H,W,C) * w -> y (N,OH,OW,K). The
// paddings pt/pl may be negative (a crop). Bottom/right padding is implied by OH/OW.
//
// DirectMap says how that view reads the filter and where it writes y. Backward-input
// is run as forward convs of dy, one per stride phase (ph, pw) of dx (stride 1: one
// phase): the dx pixels (ph + sh*i, pw + sw*j) only see the kernel rows kh with
// (ph + pt - kh*dh) % sh == 0 (kh_hi, kh_hi - kh_step, ...), read rotated (view row
// kh' is kh_hi - kh'*kh_step) with in/out channels swapped (`transposed`: w is the
// original filter (KH0,KW0,d.K,d.C)), and write y with pixel stride sw*C.
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

struct DirectMap {
  bool transposed;                           // false: w is (KH,KW,C,K), read as is
  int64_t KW0;                               // transposed: the original filter's KW
  int64_t kh_hi, kh_step, kw_hi, kw_step;    // transposed: view tap -> original tap
  int64_t y_img, y_row, y_pix, y_off;        // y(n, oh, ow) = y + n*y_img + oh*y_row + ow*y_pix + y_off
};

// wp: packed weights + bias; xp: the column-padded copy of x (0 when x is used in place).
PCN_DECLARE_ISA(void conv2d_direct_forward_scratch(const DirectConv& d, int64_t* wp_floats, int64_t* xp_floats))

// Runs nview <= kDirectMaxViews views that share x, b and act (the stride phases of a
// backward-input: one pass over x for all of them). Every y pixel of every view
// (N,OH,OW; K channels, placed by its map) is written. View i uses the scratch wp[i],
// xp[i] sized by conv2d_direct_forward_scratch(d[i]). b may be null; act: 0 none, 1 relu.
constexpr int kDirectMaxViews = 16;
PCN_DECLARE_ISA(void conv2d_direct_forward(int nview, const DirectConv* d, const DirectMap* m, const float* x,
                                           const float* w, const float* b, int act, float* y, float* const* wp,
                                           float* const* xp))

// dw (KH,KW,C,K) = (accumulate ? dw : 0) + sum over output pixels x_tap * dy; x is
// read in place. Threads own disjoint blocks of dw and sweep all pixels: the result
// does not depend on the thread count.
PCN_DECLARE_ISA(void conv2d_direct_backward_filter(const DirectConv& d, const float* dy, const float* x, float* dw,
                                                   bool accumulate))

}  // namespace pcn
