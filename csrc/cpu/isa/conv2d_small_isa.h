// conv2d_small_isa.h — direct conv2d kernels for few input channels (first
// layers: C = 1..4, any kernel/stride/dilation/padding, groups == 1), one copy
// per ISA (csrc/cpu/isa/conv2d_small.cpp). See docs/KERNELS.md.
//
// Common scratch (allocated by the caller, csrc/cpu/conv2d.cpp, outside any
// parallel region; nt = the number of threads the kernel will use):
//   rowbuf: nt * (KH + 1) * Wneed * C floats, Wneed = (OW-1)*sw + (KW-1)*dw + 1
//           (zero-padded copies of input rows + one zero row per thread)
//   rowptr: nt * KH pointers
#pragma once
#include "../../common.h"
#include "../../isa.h"

namespace pcn {

// Weights packed as wp[tap][Kp], tap = (kh*KW + kw)*C + c, Kp = K rounded up to 16,
// zero in the padding; bp[Kp] the bias (zeros when there is none).
// y (N,OH,OW,K) fully written; p.activation applied.
PCN_DECLARE_ISA(void conv2d_small_forward(const Conv2dParams& p, const float* x, const float* wp, const float* bp,
                                          float* y, int64_t Kp, float* rowbuf, const float** rowptr, int nt))

// dw (KH,KW,C,K) = (accumulate ? dw : 0) + sum over pixels x_tap * dy.
// part: nt * KKC * Kp floats (per-thread partials); dyrow: nt * OW * Kp floats
// (padded copies of dy rows when K % 16 != 0); taps: 2 * KKC int64.
// dyt (may be null): nt * dyt_per_thread floats for the K <= 8, C == 1, stride_w 1
// path (AVX-512; vectors over pixels), used when
// K * round_up(OW, 16) + KH*KW*K*16 <= dyt_per_thread.
PCN_DECLARE_ISA(void conv2d_small_backward_filter(const Conv2dParams& p, const float* dy, const float* x, float* dw,
                                                  bool accumulate, int64_t Kp, float* part, float* dyrow,
                                                  float* rowbuf, const float** rowptr, int64_t* taps, float* dyt,
                                                  int64_t dyt_per_thread, int nt))

}  // namespace pcn

namespace pcn {
// Backward-input for groups == 1, C == 1, K <= 8, stride 1 (LeNet c1), AVX-512 only:
// dy of one image is de-interleaved into rows dT[oh][k][BW] (zero margins) and dx rows
// are gathered over 16-pixel vectors. scratch: nt * per_thread floats; returns false
// (nothing written) when the shape is not handled or an image's dT does not fit
// (OH * K * BW floats, BW = max(round16(W) + pad_left, round16(OW)) + ML + 16,
// ML = max(0, (KW-1)*dw - pad_left)); the caller then uses the GEMM path.
PCN_DECLARE_ISA(bool conv2d_small_backward_input(const Conv2dParams& p, const float* dy, const float* w,
                                                 float* dx, float* scratch, int64_t per_thread, int nt))
}  // namespace pcn
