// ops/pool2d.h — 2-D pooling front (max/avg, spatial and depth windows) and
// global pooling: validation, shapes, allocation, dispatch.
#pragma once
#include <string>
#include <variant>
#include <vector>

#include "../cpu/isa/pool_isa.h"
#include "../dispatch.h"
#include "padding.h"
#include "../tensor.h"

namespace pcn {

// ---- kernels (raw pointers + Params; CPU in csrc/cpu/pool2d.cpp, a CUDA twin may register later)
// x (N,H,W,C), y (N,OH,OW,OC) NHWC contiguous; p fully resolved (pads, OH/OW/OC).
// Every y element is written. Output channel oc reads input channels
// [oc*sc, oc*sc+kc); the depth axis is never padded.
using Pool2dFwdFn = void (*)(const Pool2dParams& p, const float* x, float* y);
// dy (N,OH,OW,OC), x (N,H,W,C), dx (N,H,W,C) overwritten (every element written).
using Pool2dBwdFn = void (*)(const Pool2dParams& p, const float* dy, const float* x, float* dx);
extern OpTable<Pool2dFwdFn> pool2d_forward_table;
extern OpTable<Pool2dBwdFn> pool2d_backward_table;

// Global pooling over H*W: GlobalPoolParams (csrc/cpu/isa/pool_isa.h), x (N,HW,C) -> y (N,C).
using GlobalPoolFwdFn = void (*)(const GlobalPoolParams& p, const float* x, float* y);
// dy (N,C), x (N,HW,C), dx (N,HW,C) overwritten.
using GlobalPoolBwdFn = void (*)(const GlobalPoolParams& p, const float* dy, const float* x, float* dx);
extern OpTable<GlobalPoolFwdFn> global_pool_forward_table;
extern OpTable<GlobalPoolBwdFn> global_pool_backward_table;

// ---- fronts
// padding: "valid" / "same" (case-insensitive, TF arithmetic, extra pad at
// bottom/right) or 4 ints [top, bottom, left, right] (each >= 0; a pad may be
// >= the window: an all-padding window outputs 0 and passes no gradient).


// Resolve mode/ksize/strides/padding against x's shape (N,H,W,C); throws
// ValueError naming max_pool / avg_pool. ksize/strides: (kh,kw) or (kh,kw,kc).
Pool2dParams make_pool2d_params(const std::vector<int64_t>& xshape, const std::string& mode,
                                const std::vector<int64_t>& ksize, const std::vector<int64_t>& strides,
                                const PaddingArg& padding);

Tensor pool2d_forward(const Tensor& x, const std::string& mode, const std::vector<int64_t>& ksize,
                      const std::vector<int64_t>& strides, const PaddingArg& padding);
Tensor pool2d_backward(const Tensor& dy, const Tensor& x, const std::string& mode,
                       const std::vector<int64_t>& ksize, const std::vector<int64_t>& strides,
                       const PaddingArg& padding);

// x (N,H,W,C) -> (N,C); mode "max" | "avg".
Tensor global_pool_forward(const Tensor& x, const std::string& mode);
Tensor global_pool_backward(const Tensor& dy, const Tensor& x, const std::string& mode);

}  // namespace pcn
