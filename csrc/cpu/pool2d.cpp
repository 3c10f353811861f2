// cpu/pool2d.cpp — CPU pooling kernels: pick the SIMD build at run time.
// The loops live in csrc/cpu/isa/pool2d.cpp (compiled once per ISA).
#include "isa/pool_isa.h"

namespace pcn {
namespace cpu {

void pool2d_forward(const Pool2dParams& p, const float* x, float* y) { PCN_ISA_CALL(pool2d_forward, p, x, y); }
void pool2d_backward(const Pool2dParams& p, const float* dy, const float* x, float* dx) {
  PCN_ISA_CALL(pool2d_backward, p, dy, x, dx);
}
void global_pool_forward(const GlobalPoolParams& p, const float* x, float* y) {
  PCN_ISA_CALL(global_pool_forward, p, x, y);
}
void global_pool_backward(const GlobalPoolParams& p, const float* dy, const float* x, float* dx) {
  PCN_ISA_CALL(global_pool_backward, p, dy, x, dx);
}

}  // namespace cpu
}  // namespace pcn
