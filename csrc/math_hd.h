// math_hd.h — what makes one function compile for the CPU kernels and the CUDA
// kernels alike: PCN_HD (__host__ __device__ under nvcc, plain inline elsewhere,
// including the host emulation of cuda/emu/; common.h's shape arithmetic uses it
// too) and the few primitives whose spelling differs (floor, fabs, float from
// bits, +inf). Macros only, so it may be included anywhere; the shared math is in
// math_act.h and math_gate.h.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define PCN_HD __host__ __device__ __forceinline__
#else
#define PCN_HD inline
#endif

#if defined(__CUDA_ARCH__)
#define PCN_FLOORF(x) floorf(x)
#define PCN_FABSF(x) fabsf(x)
#define PCN_BITS_TO_FLOAT(i) __int_as_float(i)
#else
#define PCN_FLOORF(x) __builtin_floorf(x)
#define PCN_FABSF(x) __builtin_fabsf(x)
#define PCN_BITS_TO_FLOAT(i) __builtin_bit_cast(float, static_cast<int32_t>(i))
#endif
#define PCN_INFF PCN_BITS_TO_FLOAT(0x7f800000)
