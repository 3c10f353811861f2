// pool_isa.h — pooling kernels: the per-ISA entry points (csrc/cpu/isa/pool2d.cpp)
// and the CPU kernels the pooling fronts register (csrc/cpu/pool2d.cpp).
// Only common.h/isa.h here: this header is included by the ISA builds.
#pragma once
#include "../../common.h"
#include "../../isa.h"

namespace pcn {

// Global pooling over the spatial axes: x (N,HW,C) contiguous -> y (N,C).
struct GlobalPoolParams {
  int64_t N = 0, HW = 0, C = 0;
  PoolMode mode = PoolMode::Avg;
};

// Shapes as in ops/pool2d.h. All outputs are overwritten, every element written.
PCN_DECLARE_ISA(void pool2d_forward(const Pool2dParams& p, const float* x, float* y))
PCN_DECLARE_ISA(void pool2d_backward(const Pool2dParams& p, const float* dy, const float* x, float* dx))
PCN_DECLARE_ISA(void global_pool_forward(const GlobalPoolParams& p, const float* x, float* y))
PCN_DECLARE_ISA(void global_pool_backward(const GlobalPoolParams& p, const float* dy, const float* x, float* dx))

namespace cpu {
// Run-time ISA choice around the functions above (csrc/cpu/pool2d.cpp).
void pool2d_forward(const Pool2dParams& p, const float* x, float* y);
void pool2d_backward(const Pool2dParams& p, const float* dy, const float* x, float* dx);
void global_pool_forward(const GlobalPoolParams& p, const float* x, float* y);
void global_pool_backward(const GlobalPoolParams& p, const float* dy, const float* x, float* dx);
}  // namespace cpu

}  // namespace pcn
