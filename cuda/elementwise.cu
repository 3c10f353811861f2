// elementwise.cu — CUDA twins of csrc/cpu/elementwise.cpp (see ops/elementwise.h
// for every Params struct and its layout). Same formulas as the CPU kernels:
// activations use the CPU's polynomial exp/erf/tanh (csrc/cpu/isa/elementwise.cpp),
// dropout the same splitmix64 hash of (seed, index), casts the same saturation
// rules. Kernels trust their Params (the fronts validated them); every index is
// int64 unless the launcher proved that int32 cannot overflow.
//
// Shapes of the kernels:
//   pointwise / activations / dropout / axpby   grid-stride over n, float4 when every pointer is 16-B aligned
//   binary                                       grid-stride over c's n elements, offsets by dims (<= 6)
//   reduce                                       warp per (output, chunk) when the reduced dims are innermost,
//                                                thread per (output, chunk) otherwise; chunks combined by a
//                                                second kernel in a fixed order (deterministic, no atomics)
//   softmax                                      block per row (inner == 1), thread per column otherwise
//   copy / cast / index                          grid-stride over elements
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../csrc/math_hd.h"
#include "../csrc/ops/elementwise.h"
#include "check.cuh"
#include "kernel_util.cuh"
#include "stream.cuh"

namespace pcn {
namespace {

using namespace kutil;  // grid_for, aligned16, gtid/gstride, warp/block_reduce, Add/Max/OrOp

// ---------------------------------------------------------------- activation math
// The same text as the CPU kernels (csrc/math_act.h): vexp, vexpm1, verf,
// vnormcdf, vlog1p_unit, vsigmoid, vtanh and the SELU/GELU constants.
#include "../csrc/math_act.h"

// csrc/cpu/elementwise.cpp's scalar sigmoid (libm exp): never exponentiates a positive number
__device__ __forceinline__ float sigmoid_libm(float x) {
  if (x >= 0.f) {
    const float z = expf(-x);
    return 1.f / (1.f + z);
  }
  const float z = expf(x);
  return z / (1.f + z);
}

// ---------------------------------------------------------------- generic maps
// y[i] = f(x[i]); x may equal y. vec: x and y 16-byte aligned.
template <class F>
__global__ void map1_kernel(int64_t n, F f, const float* x, float* y, bool vec) {
  const int64_t t = gtid(), st = gstride();
  int64_t start = 0;
  if (vec) {
    const int64_t n4 = n >> 2;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = t; i < n4; i += st) {
      float4 v = x4[i];
      v.x = f(v.x); v.y = f(v.y); v.z = f(v.z); v.w = f(v.w);
      y4[i] = v;
    }
    start = n4 << 2;
  }
  for (int64_t i = start + t; i < n; i += st) y[i] = f(x[i]);
}

template <class F>
void launch_map1(int64_t n, F f, const float* x, float* y) {
  cudaStream_t s = cuda::activate(cuda::device_of(y));
  const bool vec = aligned16(x) && aligned16(y);
  map1_kernel<F><<<grid_for(vec ? (n + 3) / 4 : n), kThreads, 0, s>>>(n, f, x, y, vec);
  PCN_CUDA_LAUNCH_CHECK();
}

// y[i] = v (n)
__global__ void fill_kernel(int64_t n, float v, float* y, bool vec) {
  const int64_t t = gtid(), st = gstride();
  int64_t start = 0;
  if (vec) {
    const int64_t n4 = n >> 2;
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = t; i < n4; i += st) y4[i] = make_float4(v, v, v, v);
    start = n4 << 2;
  }
  for (int64_t i = start + t; i < n; i += st) y[i] = v;
}

// ---------------------------------------------------------------- pointwise
template <int OP>
struct PwF {
  float a, b;
  __device__ __forceinline__ float operator()(float v) const {
    constexpr PwOp op = PwOp(OP);
    if constexpr (op == PwOp::Neg) return -v;
    else if constexpr (op == PwOp::Exp) return expf(v);
    else if constexpr (op == PwOp::Log) return logf(v);
    else if constexpr (op == PwOp::Sqrt) return sqrtf(v);
    else if constexpr (op == PwOp::Rsqrt) return 1.f / sqrtf(v);
    else if constexpr (op == PwOp::Square) return v * v;
    else if constexpr (op == PwOp::Abs) return fabsf(v);
    else if constexpr (op == PwOp::Sign) return (v > 0.f) ? 1.f : (v < 0.f ? -1.f : (v == 0.f ? 0.f : v));
    else if constexpr (op == PwOp::Reciprocal) return 1.f / v;
    else if constexpr (op == PwOp::Sin) return sinf(v);
    else if constexpr (op == PwOp::Cos) return cosf(v);
    else if constexpr (op == PwOp::Floor) return floorf(v);
    else if constexpr (op == PwOp::Round) return rintf(v);  // half to even
    else if constexpr (op == PwOp::Tanh) return tanhf(v);
    else if constexpr (op == PwOp::Sigmoid) return sigmoid_libm(v);
    else if constexpr (op == PwOp::Log1p) return log1pf(v);
    else if constexpr (op == PwOp::Expm1) return expm1f(v);
    else if constexpr (op == PwOp::AddS) return v + a;
    else if constexpr (op == PwOp::SubS) return v - a;
    else if constexpr (op == PwOp::RSubS) return a - v;
    else if constexpr (op == PwOp::MulS) return v * a;
    else if constexpr (op == PwOp::DivS) return v / a;
    else if constexpr (op == PwOp::RDivS) return a / v;
    else if constexpr (op == PwOp::MaxS) return (v != v) ? v : fmaxf(v, a);
    else if constexpr (op == PwOp::MinS) return (v != v) ? v : fminf(v, a);
    else if constexpr (op == PwOp::PowS) return powf(v, a);
    else if constexpr (op == PwOp::RPowS) return powf(a, v);
    else if constexpr (op == PwOp::Clip) return (v != v) ? v : fminf(fmaxf(v, a), b);
    else return v;
  }
};

// x (n), y (n), may alias; x unused for Fill.
void pointwise_cuda(const PointwiseParams& p, const float* x, float* y) {
  if (p.n <= 0) return;
  if (p.op == PwOp::Fill) {
    cudaStream_t s = cuda::activate(cuda::device_of(y));
    const bool vec = aligned16(y);
    fill_kernel<<<grid_for(vec ? (p.n + 3) / 4 : p.n), kThreads, 0, s>>>(p.n, p.a, y, vec);
    PCN_CUDA_LAUNCH_CHECK();
    return;
  }
  switch (p.op) {
#define PCN_PW(OP) \
  case PwOp::OP: launch_map1(p.n, PwF<int(PwOp::OP)>{p.a, p.b}, x, y); break;
    PCN_PW(Neg) PCN_PW(Exp) PCN_PW(Log) PCN_PW(Sqrt) PCN_PW(Rsqrt) PCN_PW(Square) PCN_PW(Abs) PCN_PW(Sign)
    PCN_PW(Reciprocal) PCN_PW(Sin) PCN_PW(Cos) PCN_PW(Floor) PCN_PW(Round) PCN_PW(Tanh) PCN_PW(Sigmoid)
    PCN_PW(Log1p) PCN_PW(Expm1) PCN_PW(AddS) PCN_PW(SubS) PCN_PW(RSubS) PCN_PW(MulS) PCN_PW(DivS)
    PCN_PW(RDivS) PCN_PW(MaxS) PCN_PW(MinS) PCN_PW(PowS) PCN_PW(RPowS) PCN_PW(Clip)
#undef PCN_PW
    default: PCN_THROW(RuntimeError, "pointwise (cuda): unknown op " << int(p.op));
  }
}

// ---------------------------------------------------------------- axpby
// y[i] = alpha*x[i] + beta*y[i]; rounded as the CPU loop (no fused multiply-add).
__global__ void axpby_kernel(int64_t n, float al, float be, const float* x, float* y, bool vec) {
  const int64_t t = gtid(), st = gstride();
  const bool b1 = be == 1.f;
  auto f = [al, be, b1](float xv, float yv) {
    return b1 ? __fadd_rn(yv, __fmul_rn(al, xv)) : __fadd_rn(__fmul_rn(al, xv), __fmul_rn(be, yv));
  };
  int64_t start = 0;
  if (vec) {
    const int64_t n4 = n >> 2;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (int64_t i = t; i < n4; i += st) {
      const float4 a = x4[i];
      float4 b = y4[i];
      b.x = f(a.x, b.x); b.y = f(a.y, b.y); b.z = f(a.z, b.z); b.w = f(a.w, b.w);
      y4[i] = b;
    }
    start = n4 << 2;
  }
  for (int64_t i = start + t; i < n; i += st) y[i] = f(x[i], y[i]);
}

// x (n), y (n) in place
void axpby_cuda(const AxpbyParams& p, const float* x, float* y) {
  if (p.n <= 0) return;
  cudaStream_t s = cuda::activate(cuda::device_of(y));
  const bool vec = aligned16(x) && aligned16(y);
  axpby_kernel<<<grid_for(vec ? (p.n + 3) / 4 : p.n), kThreads, 0, s>>>(p.n, p.alpha, p.beta, x, y, vec);
  PCN_CUDA_LAUNCH_CHECK();
}

// ---------------------------------------------------------------- activations
template <int A>
struct ActFwdF {
  float al;
  __device__ __forceinline__ float operator()(float v) const {
    constexpr Act act = Act(A);
    if constexpr (act == Act::Linear) return v;
    else if constexpr (act == Act::Relu) return v > 0.f ? v : (v != v ? v : 0.f);
    else if constexpr (act == Act::Relu6) return v != v ? v : (v < 0.f ? 0.f : (v > 6.f ? 6.f : v));
    else if constexpr (act == Act::LeakyRelu) return v >= 0.f ? v : al * v;
    else if constexpr (act == Act::Elu) return v > 0.f ? v : al * vexpm1(v);
    else if constexpr (act == Act::Selu) return v > 0.f ? kSeluScale * v : kSeluScale * kSeluAlpha * vexpm1(v);
    else if constexpr (act == Act::Sigmoid) return vsigmoid(v);
    else if constexpr (act == Act::HardSigmoid)
      return v != v ? v : (v < -3.f ? 0.f : (v > 3.f ? 1.f : (v + 3.f) * (1.f / 6.f)));
    else if constexpr (act == Act::Tanh) return vtanh(v);
    else if constexpr (act == Act::Softplus) return (v > 0.f ? v : 0.f) + vlog1p_unit(vexp(-fabsf(v)));
    else if constexpr (act == Act::Softsign) return v / (1.f + fabsf(v));
    else if constexpr (act == Act::Swish) return v * vsigmoid(v);
    else if constexpr (act == Act::Gelu) return v * vnormcdf(v);
    else if constexpr (act == Act::GeluTanh) return 0.5f * v * (1.f + vtanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
    else if constexpr (act == Act::Exponential) return vexp(v);
    else return v;
  }
};

void act_forward_cuda(const ActParams& p, const float* x, float* y) {
  if (p.n <= 0) return;
  switch (p.act) {
#define PCN_AF(A) \
  case Act::A: launch_map1(p.n, ActFwdF<int(Act::A)>{p.alpha}, x, y); break;
    PCN_AF(Linear) PCN_AF(Relu) PCN_AF(Relu6) PCN_AF(LeakyRelu) PCN_AF(Elu) PCN_AF(Selu) PCN_AF(Sigmoid)
    PCN_AF(HardSigmoid) PCN_AF(Tanh) PCN_AF(Softplus) PCN_AF(Softsign) PCN_AF(Swish) PCN_AF(Gelu)
    PCN_AF(GeluTanh) PCN_AF(Exponential)
#undef PCN_AF
    default: PCN_THROW(RuntimeError, "activation_forward (cuda): unknown activation " << int(p.act));
  }
}

// dx = f'(g; x, y). Which of x / y an activation reads is fixed by the front (act_needs_x / act_needs_y);
// relu reads x when given, else y; elu reads y when given (dy*(y+alpha)), else exp(x).
template <int A>
struct ActBwdF {
  float al;
  bool has_x, has_y;
  static constexpr bool kX = !(Act(A) == Act::Linear || Act(A) == Act::Sigmoid || Act(A) == Act::Tanh ||
                               Act(A) == Act::Exponential);
  static constexpr bool kY = Act(A) == Act::Sigmoid || Act(A) == Act::Tanh || Act(A) == Act::Exponential ||
                             Act(A) == Act::Relu || Act(A) == Act::Elu;
  __device__ __forceinline__ float operator()(float g, float xv, float yv) const {
    constexpr Act act = Act(A);
    if constexpr (act == Act::Linear) return g;
    else if constexpr (act == Act::Relu) return has_x ? (xv > 0.f ? g : 0.f) : (yv > 0.f ? g : 0.f);
    else if constexpr (act == Act::Relu6) return (xv > 0.f && xv < 6.f) ? g : 0.f;
    else if constexpr (act == Act::LeakyRelu) return xv > 0.f ? g : al * g;  // alpha at 0 (TF, PyTorch)
    else if constexpr (act == Act::Elu) return xv > 0.f ? g : (has_y ? g * (yv + al) : g * al * vexp(xv));
    else if constexpr (act == Act::Selu) return xv > 0.f ? g * kSeluScale : g * (kSeluScale * kSeluAlpha) * vexp(xv);
    else if constexpr (act == Act::Sigmoid) return g * yv * (1.f - yv);
    else if constexpr (act == Act::HardSigmoid) return (xv > -3.f && xv < 3.f) ? g * (1.f / 6.f) : 0.f;
    else if constexpr (act == Act::Tanh) return g * (1.f - yv * yv);
    else if constexpr (act == Act::Softplus) return g * vsigmoid(xv);
    else if constexpr (act == Act::Softsign) return g / ((1.f + fabsf(xv)) * (1.f + fabsf(xv)));
    else if constexpr (act == Act::Swish) {
      const float s = vsigmoid(xv);
      return g * (s + xv * s * (1.f - s));
    } else if constexpr (act == Act::Gelu) {
      const float cdf = vnormcdf(xv);
      const float pdf = kInvSqrt2Pi * vexp(-0.5f * xv * xv);
      return g * (cdf + xv * pdf);
    } else if constexpr (act == Act::GeluTanh) {
      const float t = vtanh(kSqrt2OverPi * (xv + 0.044715f * xv * xv * xv));
      const float du = kSqrt2OverPi * (1.f + 3.f * 0.044715f * xv * xv);
      return g * (0.5f * (1.f + t) + 0.5f * xv * (1.f - t * t) * du);
    } else if constexpr (act == Act::Exponential) return g * yv;
    else return g;
  }
};

// dy (n), x (n) or null, y (n) or null -> dx (n). vec: every pointer read is 16-B aligned.
template <class F>
__global__ void act_bwd_kernel(int64_t n, F f, const float* dy, const float* x, const float* y, float* dx,
                               bool vec) {
  const bool rx = F::kX && x != nullptr, ry = F::kY && y != nullptr;
  const int64_t t = gtid(), st = gstride();
  int64_t start = 0;
  if (vec) {
    const int64_t n4 = n >> 2;
    const float4 z4 = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int64_t i = t; i < n4; i += st) {
      const float4 g = reinterpret_cast<const float4*>(dy)[i];
      const float4 a = rx ? reinterpret_cast<const float4*>(x)[i] : z4;
      const float4 b = ry ? reinterpret_cast<const float4*>(y)[i] : z4;
      float4 r;
      r.x = f(g.x, a.x, b.x); r.y = f(g.y, a.y, b.y); r.z = f(g.z, a.z, b.z); r.w = f(g.w, a.w, b.w);
      reinterpret_cast<float4*>(dx)[i] = r;
    }
    start = n4 << 2;
  }
  for (int64_t i = start + t; i < n; i += st) dx[i] = f(dy[i], rx ? x[i] : 0.f, ry ? y[i] : 0.f);
}

template <int A>
void launch_act_bwd(const ActParams& p, const float* dy, const float* x, const float* y, float* dx) {
  using F = ActBwdF<A>;
  F f{p.alpha, x != nullptr, y != nullptr};
  cudaStream_t s = cuda::activate(cuda::device_of(dx));
  const bool vec = aligned16(dy) && aligned16(x) && aligned16(y) && aligned16(dx);
  act_bwd_kernel<F><<<grid_for(vec ? (p.n + 3) / 4 : p.n), kThreads, 0, s>>>(p.n, f, dy, x, y, dx, vec);
  PCN_CUDA_LAUNCH_CHECK();
}

void act_backward_cuda(const ActParams& p, const float* dy, const float* x, const float* y, float* dx) {
  if (p.n <= 0) return;
  switch (p.act) {
#define PCN_AB(A) \
  case Act::A: launch_act_bwd<int(Act::A)>(p, dy, x, y, dx); break;
    PCN_AB(Linear) PCN_AB(Relu) PCN_AB(Relu6) PCN_AB(LeakyRelu) PCN_AB(Elu) PCN_AB(Selu) PCN_AB(Sigmoid)
    PCN_AB(HardSigmoid) PCN_AB(Tanh) PCN_AB(Softplus) PCN_AB(Softsign) PCN_AB(Swish) PCN_AB(Gelu)
    PCN_AB(GeluTanh) PCN_AB(Exponential)
#undef PCN_AB
    default: PCN_THROW(RuntimeError, "activation_backward (cuda): unknown activation " << int(p.act));
  }
}

// ---------------------------------------------------------------- binary
template <int OP>
__device__ __forceinline__ float bin_apply(float u, float v) {
  constexpr BinOp op = BinOp(OP);
  if constexpr (op == BinOp::Add) return u + v;
  else if constexpr (op == BinOp::Sub) return u - v;
  else if constexpr (op == BinOp::Mul) return u * v;
  else if constexpr (op == BinOp::Div) return u / v;
  else if constexpr (op == BinOp::Maximum) return (u != u || v != v) ? u + v : (u > v ? u : v);
  else if constexpr (op == BinOp::Minimum) return (u != u || v != v) ? u + v : (u < v ? u : v);
  else return powf(u, v);
}

// Same shape, both contiguous: c[i] = a[i] op b[i].
template <int OP>
__global__ void binary_same_kernel(int64_t n, const float* a, const float* b, float* c, bool vec) {
  const int64_t t = gtid(), st = gstride();
  int64_t start = 0;
  if (vec) {
    const int64_t n4 = n >> 2;
    for (int64_t i = t; i < n4; i += st) {
      const float4 u = reinterpret_cast<const float4*>(a)[i];
      const float4 v = reinterpret_cast<const float4*>(b)[i];
      float4 r;
      r.x = bin_apply<OP>(u.x, v.x); r.y = bin_apply<OP>(u.y, v.y);
      r.z = bin_apply<OP>(u.z, v.z); r.w = bin_apply<OP>(u.w, v.w);
      reinterpret_cast<float4*>(c)[i] = r;
    }
    start = n4 << 2;
  }
  for (int64_t i = start + t; i < n; i += st) c[i] = bin_apply<OP>(a[i], b[i]);
}

// General: c (shape) row-major; a, b at element strides sa, sb. I: index type (int32 when safe).
template <int OP, class I>
__global__ void binary_bcast_kernel(BinaryParams p, const float* a, const float* b, float* c) {
  const int nd = p.ndim;
  for (int64_t i = gtid(); i < p.n; i += gstride()) {
    I rem = I(i), oa = 0, ob = 0;
#pragma unroll
    for (int d = kMaxBcastDims - 1; d >= 0; --d) {
      if (d >= nd) continue;
      const I sh = I(p.shape[d]);
      const I k = rem % sh;
      rem /= sh;
      oa += k * I(p.sa[d]);
      ob += k * I(p.sb[d]);
    }
    c[i] = bin_apply<OP>(a[oa], b[ob]);
  }
}

// Largest |offset| reachable with these strides over shape.
int64_t max_offset(const int64_t* shape, const int64_t* stride, int nd) {
  int64_t m = 0;
  for (int d = 0; d < nd; ++d) m += (shape[d] - 1) * (stride[d] < 0 ? -stride[d] : stride[d]);
  return m;
}

template <int OP>
void launch_binary(const BinaryParams& p, const float* a, const float* b, float* c) {
  cudaStream_t s = cuda::activate(cuda::device_of(c));
  if (p.ndim == 1 && p.sa[0] == 1 && p.sb[0] == 1) {
    const bool vec = aligned16(a) && aligned16(b) && aligned16(c);
    binary_same_kernel<OP><<<grid_for(vec ? (p.n + 3) / 4 : p.n), kThreads, 0, s>>>(p.n, a, b, c, vec);
  } else {
    const int64_t lim = int64_t(INT32_MAX);
    const bool small = p.n < lim && max_offset(p.shape, p.sa, p.ndim) < lim && max_offset(p.shape, p.sb, p.ndim) < lim;
    bool nonneg = true;
    for (int d = 0; d < p.ndim; ++d) nonneg = nonneg && p.sa[d] >= 0 && p.sb[d] >= 0;
    if (small && nonneg)
      binary_bcast_kernel<OP, int32_t><<<grid_for(p.n), kThreads, 0, s>>>(p, a, b, c);
    else
      binary_bcast_kernel<OP, int64_t><<<grid_for(p.n), kThreads, 0, s>>>(p, a, b, c);
  }
  PCN_CUDA_LAUNCH_CHECK();
}

void binary_cuda(const BinaryParams& p, const float* a, const float* b, float* c) {
  if (p.n <= 0) return;
  switch (p.op) {
    case BinOp::Add: launch_binary<int(BinOp::Add)>(p, a, b, c); break;
    case BinOp::Sub: launch_binary<int(BinOp::Sub)>(p, a, b, c); break;
    case BinOp::Mul: launch_binary<int(BinOp::Mul)>(p, a, b, c); break;
    case BinOp::Div: launch_binary<int(BinOp::Div)>(p, a, b, c); break;
    case BinOp::Maximum: launch_binary<int(BinOp::Maximum)>(p, a, b, c); break;
    case BinOp::Minimum: launch_binary<int(BinOp::Minimum)>(p, a, b, c); break;
    case BinOp::Pow: launch_binary<int(BinOp::Pow)>(p, a, b, c); break;
    default: PCN_THROW(RuntimeError, "binary (cuda): unknown op " << int(p.op));
  }
}

// ---------------------------------------------------------------- reduce
// Sum/mean/prod accumulate in double, max/min in float with NumPy's NaN rule,
// exactly as the CPU. Work: out_n outputs x nchunk chunks of the reduced range
// (nchunk fixed by the shape alone). With nchunk == 1 the first kernel writes y;
// else it writes double partials part[o*nchunk + c] and reduce_final combines
// them in chunk order.
template <int OP>
struct RedT {
  static constexpr bool kDouble = RedOp(OP) == RedOp::Sum || RedOp(OP) == RedOp::Mean || RedOp(OP) == RedOp::Prod;
  using S = typename std::conditional<kDouble, double, float>::type;
  __device__ __forceinline__ static S init() {
    if constexpr (RedOp(OP) == RedOp::Prod) return 1.0;
    else if constexpr (kDouble) return 0.0;
    else if constexpr (RedOp(OP) == RedOp::Max) return -__int_as_float(0x7f800000);
    else return __int_as_float(0x7f800000);
  }
  __device__ __forceinline__ S operator()(S s, S v) const {
    if constexpr (RedOp(OP) == RedOp::Prod) return s * v;
    else if constexpr (kDouble) return s + v;
    else if constexpr (RedOp(OP) == RedOp::Max) return ((v > s || v != v) && s == s) ? v : s;
    else return ((v < s || v != v) && s == s) ? v : s;
  }
  __device__ __forceinline__ static float fin(S s, double inv) {
    if constexpr (RedOp(OP) == RedOp::Mean) return float(s * inv);
    else return float(s);
  }
};

__device__ __forceinline__ int64_t kept_offset(const ReduceParams& p, int64_t o) {
  int64_t off = 0;
#pragma unroll
  for (int d = kMaxBcastDims - 1; d >= 0; --d) {
    if (d >= p.nk) continue;
    const int64_t k = o % p.kshape[d];
    o /= p.kshape[d];
    off += k * p.kstride[d];
  }
  return off;
}
__device__ __forceinline__ int64_t red_offset(const ReduceParams& p, int64_t r) {
  if (p.nr == 1) return r * p.rstride[0];
  int64_t off = 0;
#pragma unroll
  for (int d = kMaxBcastDims - 1; d >= 0; --d) {
    if (d >= p.nr) continue;
    const int64_t k = r % p.rshape[d];
    r /= p.rshape[d];
    off += k * p.rstride[d];
  }
  return off;
}

// One warp per (output o, chunk c); lanes stride the chunk, then a fixed butterfly.
template <int OP>
__global__ void reduce_row_kernel(ReduceParams p, int64_t nchunk, int64_t L, double inv, const float* x, float* y,
                                  double* part) {
  using R = RedT<OP>;
  using S = typename R::S;
  const int lane = threadIdx.x & 31;
  const int64_t total = p.out_n * nchunk;
  const int64_t nwarps = gstride() >> 5;
  for (int64_t w = gtid() >> 5; w < total; w += nwarps) {
    const int64_t o = w / nchunk, c = w % nchunk;
    const int64_t r0 = c * L, r1 = r0 + L < p.red_n ? r0 + L : p.red_n;
    const float* xo = x + kept_offset(p, o);
    S s = R::init();
    for (int64_t r = r0 + lane; r < r1; r += 32) s = R()(s, S(xo[red_offset(p, r)]));
    s = warp_reduce(s, R());
    if (lane == 0) {
      if (nchunk == 1) y[o] = R::fin(s, inv);
      else part[w] = double(s);
    }
  }
}

// One thread per (output o, chunk c), consecutive threads on consecutive outputs; odometer over the reduced dims.
template <int OP>
__global__ void reduce_col_kernel(ReduceParams p, int64_t nchunk, int64_t L, double inv, const float* x, float* y,
                                  double* part) {
  using R = RedT<OP>;
  using S = typename R::S;
  const int64_t total = p.out_n * nchunk;
  for (int64_t t = gtid(); t < total; t += gstride()) {
    const int64_t c = t / p.out_n, o = t % p.out_n;
    const int64_t r0 = c * L, r1 = r0 + L < p.red_n ? r0 + L : p.red_n;
    const float* xo = x + kept_offset(p, o);
    S s = R::init();
    if (r0 < r1) {
      int64_t idx[kMaxBcastDims] = {0, 0, 0, 0, 0, 0};
      int64_t roff = 0, rem = r0;
#pragma unroll
      for (int d = kMaxBcastDims - 1; d >= 0; --d) {
        if (d >= p.nr) continue;
        idx[d] = rem % p.rshape[d];
        rem /= p.rshape[d];
        roff += idx[d] * p.rstride[d];
      }
      for (int64_t r = r0; r < r1; ++r) {
        s = R()(s, S(xo[roff]));
#pragma unroll
        for (int d = kMaxBcastDims - 1; d >= 0; --d) {  // odometer
          if (d >= p.nr) continue;
          roff += p.rstride[d];
          if (++idx[d] < p.rshape[d]) break;
          roff -= idx[d] * p.rstride[d];
          idx[d] = 0;
        }
      }
    }
    if (nchunk == 1) y[o] = R::fin(s, inv);
    else part[o * nchunk + c] = double(s);
  }
}

// y[o] = fin(combine of part[o*nchunk .. o*nchunk + nchunk) in order)
template <int OP>
__global__ void reduce_final_kernel(int64_t out_n, int64_t nchunk, double inv, const double* part, float* y) {
  using R = RedT<OP>;
  using S = typename R::S;
  for (int64_t o = gtid(); o < out_n; o += gstride()) {
    const double* po = part + o * nchunk;
    S s = S(po[0]);
    for (int64_t c = 1; c < nchunk; ++c) s = R()(s, S(po[c]));
    y[o] = R::fin(s, inv);
  }
}

template <int OP>
void launch_reduce(const ReduceParams& p, const float* x, float* y) {
  const int dev = cuda::device_of(y);
  cudaStream_t s = cuda::activate(dev);
  const double inv = p.red_n > 0 ? 1.0 / double(p.red_n) : std::nan("");
  // Rows (reduced dims innermost in memory) or columns (a kept dim innermost)?
  const bool row = p.nk == 0 || (p.nr > 0 && p.rstride[p.nr - 1] < p.kstride[p.nk - 1]);
  int64_t nchunk = 1;
  if (row) {
    if (p.out_n < 2048) nchunk = (p.red_n + 2047) / 2048;
  } else {
    if (p.out_n < 65536) {
      const int64_t by_threads = (65536 + p.out_n - 1) / p.out_n, by_len = (p.red_n + 63) / 64;
      nchunk = by_threads < by_len ? by_threads : by_len;
    }
  }
  if (nchunk > 1024) nchunk = 1024;
  if (nchunk < 1) nchunk = 1;
  int64_t L = (p.red_n + nchunk - 1) / nchunk;
  if (L > 0) nchunk = (p.red_n + L - 1) / L;  // no empty chunks
  if (nchunk < 1) nchunk = 1;
  Tensor scratch;
  double* part = nullptr;
  if (nchunk > 1) {
    scratch = Tensor::empty({p.out_n * nchunk}, DType::I64, Device{DeviceType::CUDA, dev});
    part = reinterpret_cast<double*>(scratch.raw());
  }
  const int64_t work = p.out_n * nchunk;
  if (row) reduce_row_kernel<OP><<<grid_for(work * 32), kThreads, 0, s>>>(p, nchunk, L, inv, x, y, part);
  else reduce_col_kernel<OP><<<grid_for(work), kThreads, 0, s>>>(p, nchunk, L, inv, x, y, part);
  PCN_CUDA_LAUNCH_CHECK();
  if (nchunk > 1) {
    reduce_final_kernel<OP><<<grid_for(p.out_n), kThreads, 0, s>>>(p.out_n, nchunk, inv, part, y);
    PCN_CUDA_LAUNCH_CHECK();
  }
  // scratch goes back to the caching allocator here; the stream orders its reuse after these kernels.
}

void reduce_cuda(const ReduceParams& p, const float* x, float* y) {
  if (p.out_n <= 0) return;
  switch (p.op) {
    case RedOp::Sum: launch_reduce<int(RedOp::Sum)>(p, x, y); break;
    case RedOp::Mean: launch_reduce<int(RedOp::Mean)>(p, x, y); break;
    case RedOp::Max: launch_reduce<int(RedOp::Max)>(p, x, y); break;
    case RedOp::Min: launch_reduce<int(RedOp::Min)>(p, x, y); break;
    case RedOp::Prod: launch_reduce<int(RedOp::Prod)>(p, x, y); break;
    default: PCN_THROW(RuntimeError, "reduce (cuda): unknown op " << int(p.op));
  }
}

// ---------------------------------------------------------------- softmax
inline int row_threads(int64_t n) { return n <= 64 ? 32 : (n <= 512 ? 128 : 256); }

// x, y (rows, n) contiguous; one block per row (grid-stride over rows).
__global__ void softmax_fwd_row_kernel(int64_t rows, int64_t n, bool log, const float* x, float* y) {
  __shared__ float sf[32];
  __shared__ int si[32];
  const float kInf = __int_as_float(0x7f800000);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float m = -kInf;
    int nan = 0;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const float v = xr[k];
      m = fmaxf(m, v);
      nan |= v != v;
    }
    m = block_reduce(m, MaxOp(), sf);
    nan = block_reduce(nan, OrOp(), si);
    if (nan) {
      for (int64_t k = threadIdx.x; k < n; k += blockDim.x) yr[k] = __int_as_float(0x7fc00000);
      continue;
    }
    if (m == -kInf) m = 0.f;  // all -inf row
    float s = 0.f;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const float e = vexp(xr[k] - m);
      if (!log) yr[k] = e;
      s += e;
    }
    s = block_reduce(s, AddOp(), sf);
    if (log) {
      const float lse = m + logf(s);
      for (int64_t k = threadIdx.x; k < n; k += blockDim.x) yr[k] = xr[k] - lse;
    } else {
      const float inv = 1.f / s;
      for (int64_t k = threadIdx.x; k < n; k += blockDim.x) yr[k] *= inv;  // this thread wrote yr[k]
    }
  }
}

// x, y (outer, n, inner), inner > 1: one thread per (o, j) column; double sum as the CPU's strided path.
__global__ void softmax_fwd_col_kernel(int64_t outer, int64_t n, int64_t inner, bool log, const float* x, float* y) {
  const float kInf = __int_as_float(0x7f800000);
  for (int64_t r = gtid(); r < outer * inner; r += gstride()) {
    const int64_t o = r / inner, j = r % inner;
    const float* xr = x + o * n * inner + j;
    float* yr = y + o * n * inner + j;
    float m = -kInf;
    bool nan = false;
    for (int64_t k = 0; k < n; ++k) {
      const float v = xr[k * inner];
      m = fmaxf(m, v);
      nan |= v != v;
    }
    if (nan) {
      for (int64_t k = 0; k < n; ++k) yr[k * inner] = __int_as_float(0x7fc00000);
      continue;
    }
    if (m == -kInf) m = 0.f;
    double s = 0.0;
    if (log) {
      for (int64_t k = 0; k < n; ++k) s += expf(xr[k * inner] - m);
      const float lse = m + float(::log(s));
      for (int64_t k = 0; k < n; ++k) yr[k * inner] = xr[k * inner] - lse;
    } else {
      for (int64_t k = 0; k < n; ++k) {
        const float e = expf(xr[k * inner] - m);
        yr[k * inner] = e;
        s += e;
      }
      const float inv = float(1.0 / s);
      for (int64_t k = 0; k < n; ++k) yr[k * inner] *= inv;
    }
  }
}

void softmax_forward_cuda(const SoftmaxParams& p, const float* x, float* y) {
  const int64_t rows = p.outer * p.inner;
  if (rows <= 0 || p.n <= 0) return;
  cudaStream_t s = cuda::activate(cuda::device_of(y));
  if (p.inner == 1) {
    softmax_fwd_row_kernel<<<grid_for(rows, 1), row_threads(p.n), 0, s>>>(rows, p.n, p.log, x, y);
  } else {
    softmax_fwd_col_kernel<<<grid_for(rows), kThreads, 0, s>>>(p.outer, p.n, p.inner, p.log, x, y);
  }
  PCN_CUDA_LAUNCH_CHECK();
}

// softmax: dx = y * (dy - sum(dy*y)); log_softmax: dx = dy - exp(y) * sum(dy). Sums in double (as the CPU).
__global__ void softmax_bwd_row_kernel(int64_t rows, int64_t n, bool log, const float* dy, const float* y, float* dx) {
  __shared__ double sd[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * n;
    double s = 0.0;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x)
      s += log ? double(dy[base + k]) : double(dy[base + k]) * double(y[base + k]);
    s = block_reduce(s, AddOp(), sd);
    const float sf = float(s);
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const float g = dy[base + k], yv = y[base + k];
      dx[base + k] = log ? __fsub_rn(g, __fmul_rn(expf(yv), sf)) : __fmul_rn(yv, __fsub_rn(g, sf));
    }
  }
}

__global__ void softmax_bwd_col_kernel(int64_t outer, int64_t n, int64_t inner, bool log, const float* dy,
                                       const float* y, float* dx) {
  for (int64_t r = gtid(); r < outer * inner; r += gstride()) {
    const int64_t o = r / inner, j = r % inner, base = o * n * inner + j;
    double s = 0.0;
    for (int64_t k = 0; k < n; ++k)
      s += log ? double(dy[base + k * inner]) : double(dy[base + k * inner]) * double(y[base + k * inner]);
    const float sf = float(s);
    for (int64_t k = 0; k < n; ++k) {
      const float g = dy[base + k * inner], yv = y[base + k * inner];
      dx[base + k * inner] = log ? __fsub_rn(g, __fmul_rn(expf(yv), sf)) : __fmul_rn(yv, __fsub_rn(g, sf));
    }
  }
}

void softmax_backward_cuda(const SoftmaxParams& p, const float* dy, const float* y, float* dx) {
  const int64_t rows = p.outer * p.inner;
  if (rows <= 0 || p.n <= 0) return;
  cudaStream_t s = cuda::activate(cuda::device_of(dx));
  if (p.inner == 1) {
    softmax_bwd_row_kernel<<<grid_for(rows, 1), row_threads(p.n), 0, s>>>(rows, p.n, p.log, dy, y, dx);
  } else {
    softmax_bwd_col_kernel<<<grid_for(rows), kThreads, 0, s>>>(p.outer, p.n, p.inner, p.log, dy, y, dx);
  }
  PCN_CUDA_LAUNCH_CHECK();
}

// ---------------------------------------------------------------- copy
// dst[box index] = src[box index] over shape[0..ndim); strides in elements.
template <class T, class I>
__global__ void copy_kernel(CopyParams p, const T* src, T* dst) {
  const int nd = p.ndim;
  for (int64_t i = gtid(); i < p.n; i += gstride()) {
    I rem = I(i), so = 0, dof = 0;
#pragma unroll
    for (int d = kMaxBcastDims - 1; d >= 0; --d) {
      if (d >= nd) continue;
      const I sh = I(p.shape[d]);
      const I k = rem % sh;
      rem /= sh;
      so += k * I(p.ss[d]);
      dof += k * I(p.ds[d]);
    }
    dst[dof] = src[so];
  }
}

template <class T>
void launch_copy(const CopyParams& p, const void* src, void* dst, cudaStream_t s) {
  const int64_t lim = int64_t(INT32_MAX);
  bool nonneg = true;
  for (int d = 0; d < p.ndim; ++d) nonneg = nonneg && p.ss[d] >= 0 && p.ds[d] >= 0;
  const bool small = nonneg && p.n < lim && max_offset(p.shape, p.ss, p.ndim) < lim &&
                     max_offset(p.shape, p.ds, p.ndim) < lim;
  const T* sp = static_cast<const T*>(src);
  T* dp = static_cast<T*>(dst);
  if (small) copy_kernel<T, int32_t><<<grid_for(p.n), kThreads, 0, s>>>(p, sp, dp);
  else copy_kernel<T, int64_t><<<grid_for(p.n), kThreads, 0, s>>>(p, sp, dp);
  PCN_CUDA_LAUNCH_CHECK();
}

void copy_cuda(const CopyParams& p, const void* src, void* dst) {
  if (p.n <= 0) return;
  cudaStream_t s = cuda::activate(cuda::device_of(dst));
  switch (p.elem_size) {
    case 1: launch_copy<uint8_t>(p, src, dst, s); break;
    case 4: launch_copy<uint32_t>(p, src, dst, s); break;
    case 8: launch_copy<unsigned long long>(p, src, dst, s); break;
    default: PCN_THROW(RuntimeError, "copy (cuda): unsupported element size " << p.elem_size);
  }
}

// ---------------------------------------------------------------- cast
template <class D> struct IntLim;
template <> struct IntLim<int32_t> { static constexpr double lo = -2147483648.0, hi = 2147483647.0; };
template <> struct IntLim<int64_t> { static constexpr double lo = -9223372036854775808.0, hi = 9223372036854775807.0; };
template <> struct IntLim<uint8_t> { static constexpr double lo = 0.0, hi = 255.0; };

// float -> int truncates toward zero; NaN / out of range -> 0 (the CPU's rule). Others: C++ conversion.
template <class S, class D>
__device__ __forceinline__ D cast1(S v) {
  if constexpr (std::is_same<S, float>::value && !std::is_same<D, float>::value) {
    return (v == v && double(v) >= IntLim<D>::lo && double(v) < IntLim<D>::hi + 1.0) ? D(v) : D(0);
  } else {
    return D(v);
  }
}

template <class S, class D>
__global__ void cast_kernel(int64_t n, const S* x, D* y) {
  for (int64_t i = gtid(); i < n; i += gstride()) y[i] = cast1<S, D>(x[i]);
}

template <class S>
void cast_from(const CastParams& p, const S* x, void* y, cudaStream_t s) {
  const unsigned g = grid_for(p.n);
  switch (p.to) {
    case DType::F32: cast_kernel<S, float><<<g, kThreads, 0, s>>>(p.n, x, static_cast<float*>(y)); break;
    case DType::I32: cast_kernel<S, int32_t><<<g, kThreads, 0, s>>>(p.n, x, static_cast<int32_t*>(y)); break;
    case DType::I64: cast_kernel<S, int64_t><<<g, kThreads, 0, s>>>(p.n, x, static_cast<int64_t*>(y)); break;
    case DType::U8: cast_kernel<S, uint8_t><<<g, kThreads, 0, s>>>(p.n, x, static_cast<uint8_t*>(y)); break;
    default: PCN_THROW(RuntimeError, "cast (cuda): unknown target dtype " << int(p.to));
  }
  PCN_CUDA_LAUNCH_CHECK();
}

void cast_cuda(const CastParams& p, const void* x, void* y) {
  if (p.n <= 0) return;
  cudaStream_t s = cuda::activate(cuda::device_of(y));
  switch (p.from) {
    case DType::F32: cast_from(p, static_cast<const float*>(x), y, s); break;
    case DType::I32: cast_from(p, static_cast<const int32_t*>(x), y, s); break;
    case DType::I64: cast_from(p, static_cast<const int64_t*>(x), y, s); break;
    case DType::U8: cast_from(p, static_cast<const uint8_t*>(x), y, s); break;
    default: PCN_THROW(RuntimeError, "cast (cuda): unknown source dtype " << int(p.from));
  }
}

// ---------------------------------------------------------------- dropout
__device__ __forceinline__ uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
inline uint64_t splitmix64_host(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Element i kept iff (hash(key + i*golden) >> 40) >= thr: the CPU's mask, bit for bit.
__global__ void dropout_fwd_kernel(int64_t n, uint64_t key, uint32_t thr, float scale, const float* x, float* y,
                                   uint8_t* mask) {
  for (int64_t i = gtid(); i < n; i += gstride()) {
    const uint32_t u = uint32_t(splitmix64(key + uint64_t(i) * 0x9E3779B97F4A7C15ull) >> 40);
    const uint8_t k = u >= thr ? 1 : 0;
    mask[i] = k;
    y[i] = k ? x[i] * scale : 0.f;
  }
}

void dropout_forward_cuda(const DropoutParams& p, const float* x, float* y, uint8_t* mask) {
  if (p.n <= 0) return;
  const uint64_t key = splitmix64_host(p.seed ^ 0x5851F42D4C957F2Dull);
  const uint32_t thr = uint32_t(std::ceil(double(p.rate) * 16777216.0));
  const float scale = 1.f / (1.f - p.rate);
  cudaStream_t s = cuda::activate(cuda::device_of(y));
  dropout_fwd_kernel<<<grid_for(p.n), kThreads, 0, s>>>(p.n, key, thr, scale, x, y, mask);
  PCN_CUDA_LAUNCH_CHECK();
}

__global__ void dropout_bwd_kernel(int64_t n, float scale, const float* dy, const uint8_t* mask, float* dx) {
  for (int64_t i = gtid(); i < n; i += gstride()) dx[i] = mask[i] ? dy[i] * scale : 0.f;
}

void dropout_backward_cuda(const DropoutParams& p, const float* dy, const uint8_t* mask, float* dx) {
  if (p.n <= 0) return;
  const float scale = 1.f / (1.f - p.rate);
  cudaStream_t s = cuda::activate(cuda::device_of(dx));
  dropout_bwd_kernel<<<grid_for(p.n), kThreads, 0, s>>>(p.n, scale, dy, mask, dx);
  PCN_CUDA_LAUNCH_CHECK();
}

// ---------------------------------------------------------------- index ops
// labels (outer) -> y (outer, n): 1 at the label, 0 elsewhere (out-of-range label: all-zero row)
template <class L>
__global__ void one_hot_kernel(int64_t outer, int64_t n, const L* lab, float* y) {
  for (int64_t i = gtid(); i < outer * n; i += gstride()) {
    const int64_t r = i / n, k = i % n;
    y[i] = int64_t(lab[r]) == k ? 1.f : 0.f;
  }
}

// x (outer, n, inner) -> y (outer, inner) int64: first maximum; a NaN wins at its first position (NumPy)
__global__ void argmax_kernel(int64_t outer, int64_t n, int64_t inner, const float* x, int64_t* y) {
  for (int64_t r = gtid(); r < outer * inner; r += gstride()) {
    const int64_t o = r / inner, j = r % inner;
    const float* xr = x + o * n * inner + j;
    int64_t best = 0;
    float bv = xr[0];
    if (bv == bv) {
      for (int64_t k = 1; k < n; ++k) {
        const float v = xr[k * inner];
        if (v != v) { best = k; break; }
        if (v > bv) { bv = v; best = k; }
      }
    }
    y[r] = best;
  }
}

template <class C>
__global__ void where_kernel(int64_t n, const C* c, const float* a, const float* b, float* y) {
  for (int64_t i = gtid(); i < n; i += gstride()) y[i] = c[i] != C(0) ? a[i] : b[i];
}

void index_cuda(const IndexParams& p, const void* x, const void* a, const void* b, void* y) {
  cudaStream_t s = cuda::activate(cuda::device_of(y));
  switch (p.op) {
    case IndexOp::OneHot: {
      const int64_t total = p.outer * p.n;
      if (total <= 0) return;
      float* yf = static_cast<float*>(y);
      if (p.label_dtype == DType::I32)
        one_hot_kernel<<<grid_for(total), kThreads, 0, s>>>(p.outer, p.n, static_cast<const int32_t*>(x), yf);
      else if (p.label_dtype == DType::U8)
        one_hot_kernel<<<grid_for(total), kThreads, 0, s>>>(p.outer, p.n, static_cast<const uint8_t*>(x), yf);
      else
        one_hot_kernel<<<grid_for(total), kThreads, 0, s>>>(p.outer, p.n, static_cast<const int64_t*>(x), yf);
      break;
    }
    case IndexOp::Argmax: {
      const int64_t total = p.outer * p.inner;
      if (total <= 0 || p.n <= 0) return;
      argmax_kernel<<<grid_for(total), kThreads, 0, s>>>(p.outer, p.n, p.inner, static_cast<const float*>(x),
                                                         static_cast<int64_t*>(y));
      break;
    }
    case IndexOp::Where: {
      if (p.outer <= 0) return;
      const float* af = static_cast<const float*>(a);
      const float* bf = static_cast<const float*>(b);
      float* yf = static_cast<float*>(y);
      if (p.label_dtype == DType::U8)
        where_kernel<<<grid_for(p.outer), kThreads, 0, s>>>(p.outer, static_cast<const uint8_t*>(x), af, bf, yf);
      else
        where_kernel<<<grid_for(p.outer), kThreads, 0, s>>>(p.outer, static_cast<const float*>(x), af, bf, yf);
      break;
    }
    default: PCN_THROW(RuntimeError, "index (cuda): unknown op " << int(p.op));
  }
  PCN_CUDA_LAUNCH_CHECK();
}

}  // namespace

// Fills the .cuda slots of the elementwise family (called once from register_cuda_kernels()).
void register_elementwise_cuda() {
  pointwise_table.cuda = &pointwise_cuda;
  axpby_table.cuda = &axpby_cuda;
  act_forward_table.cuda = &act_forward_cuda;
  act_backward_table.cuda = &act_backward_cuda;
  binary_table.cuda = &binary_cuda;
  reduce_table.cuda = &reduce_cuda;
  softmax_forward_table.cuda = &softmax_forward_cuda;
  softmax_backward_table.cuda = &softmax_backward_cuda;
  copy_table.cuda = &copy_cuda;
  cast_table.cuda = &cast_cuda;
  dropout_forward_table.cuda = &dropout_forward_cuda;
  dropout_backward_table.cuda = &dropout_backward_cuda;
  index_table.cuda = &index_cuda;
}

}  // namespace pcn
