// ops/elementwise.h — the small ops around the big kernels: pointwise math,
// activations, broadcasting binary ops, reductions, softmax, data movement
// (transpose/slice/concat/pad), dropout, casts and label helpers.
//
// Kernel signatures are few and take only Params structs + raw pointers, so a
// CUDA twin registers into the .cuda slot of the same table:
//   pointwise   PointwiseParams  x -> y           (unary math, scalar ops, clip, fill, scale)
//   axpby       AxpbyParams      y = a*x + b*y    (axpy_, in place)
//   act_fwd/bwd ActParams        activations by enum, backward gets x and/or y
//   binary      BinaryParams     NumPy broadcasting, <= 6-D after coalescing
//   reduce      ReduceParams     sum/mean/max/min over any axes set
//   softmax     SoftmaxParams    (outer, n, inner) view, softmax / log_softmax
//   copy        CopyParams       strided N-D copy of any element size (transpose, slice, concat, pad)
//   cast        CastParams       between float32/int32/int64/uint8
//   dropout     DropoutParams    counter-based RNG: mask depends on (seed, index) only
//   index       IndexParams      one_hot / argmax / where
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "../dispatch.h"
#include "../tensor.h"

namespace pcn {

constexpr int kMaxBcastDims = 6;

// ---------------------------------------------------------------- pointwise
// y[i] = f(x[i]; a, b) for i < n. x may equal y (in place). For Fill x is unused.
enum class PwOp : int {
  Neg = 0, Exp, Log, Sqrt, Rsqrt, Square, Abs, Sign, Reciprocal, Sin, Cos, Floor, Round,
  Tanh, Sigmoid, Log1p, Expm1,
  AddS, SubS, RSubS, MulS, DivS, RDivS, MaxS, MinS, PowS, RPowS,  // scalar a
  Clip,   // clamp to [a, b]
  Fill,   // y = a
};
struct PointwiseParams {
  PwOp op = PwOp::Neg;
  int64_t n = 0;
  float a = 0.f, b = 0.f;
};
using PointwiseFn = void (*)(const PointwiseParams& p, const float* x, float* y);
extern OpTable<PointwiseFn> pointwise_table;

// y[i] = alpha * x[i] + beta * y[i], n elements.
struct AxpbyParams {
  int64_t n = 0;
  float alpha = 1.f, beta = 1.f;
};
using AxpbyFn = void (*)(const AxpbyParams& p, const float* x, float* y);
extern OpTable<AxpbyFn> axpby_table;

// ---------------------------------------------------------------- activations
enum class Act : int {
  Linear = 0, Relu, Relu6, LeakyRelu, Elu, Selu, Sigmoid, HardSigmoid, Tanh, Softplus,
  Softsign, Swish, Gelu, GeluTanh, Exponential,
};
struct ActParams {
  Act act = Act::Linear;
  int64_t n = 0;
  float alpha = 0.f;  // leaky_relu negative slope, elu alpha
};
// forward: y = f(x). backward: dx = dy * f'(x); x and/or y may be null — the
// front guarantees that the one(s) this activation reads are present.
using ActFwdFn = void (*)(const ActParams& p, const float* x, float* y);
using ActBwdFn = void (*)(const ActParams& p, const float* dy, const float* x, const float* y, float* dx);
extern OpTable<ActFwdFn> act_forward_table;
extern OpTable<ActBwdFn> act_backward_table;

// ---------------------------------------------------------------- binary
enum class BinOp : int { Add = 0, Sub, Mul, Div, Maximum, Minimum, Pow };
// c (shape[0..ndim)) row-major contiguous; a and b read at element strides
// sa/sb (0 on broadcast dims). Dims are coalesced by the front; ndim >= 1.
struct BinaryParams {
  BinOp op = BinOp::Add;
  int ndim = 1;
  int64_t shape[kMaxBcastDims] = {1, 1, 1, 1, 1, 1};
  int64_t sa[kMaxBcastDims] = {0, 0, 0, 0, 0, 0};
  int64_t sb[kMaxBcastDims] = {0, 0, 0, 0, 0, 0};
  int64_t n = 0;  // prod(shape)
};
using BinaryFn = void (*)(const BinaryParams& p, const float* a, const float* b, float* c);
extern OpTable<BinaryFn> binary_table;

// ---------------------------------------------------------------- reduce
enum class RedOp : int { Sum = 0, Mean, Max, Min, Prod };
// y has prod(kshape) elements, row-major over the kept dims; each is the
// reduction over the reduced dims of x. Strides are x's element strides.
// Adjacent dims of the same kind are coalesced by the front. nk/nr may be 0.
struct ReduceParams {
  RedOp op = RedOp::Sum;
  int nk = 0, nr = 0;
  int64_t kshape[kMaxBcastDims] = {}, kstride[kMaxBcastDims] = {};
  int64_t rshape[kMaxBcastDims] = {}, rstride[kMaxBcastDims] = {};
  int64_t out_n = 1, red_n = 1;
};
using ReduceFn = void (*)(const ReduceParams& p, const float* x, float* y);
extern OpTable<ReduceFn> reduce_table;

// ---------------------------------------------------------------- softmax
// x viewed as (outer, n, inner) contiguous; softmax along n.
struct SoftmaxParams {
  int64_t outer = 1, n = 1, inner = 1;
  bool log = false;  // log_softmax
};
// forward: y = softmax(x) or log_softmax(x).
// backward: dy, y (the forward output) -> dx.
using SoftmaxFwdFn = void (*)(const SoftmaxParams& p, const float* x, float* y);
using SoftmaxBwdFn = void (*)(const SoftmaxParams& p, const float* dy, const float* y, float* dx);
extern OpTable<SoftmaxFwdFn> softmax_forward_table;
extern OpTable<SoftmaxBwdFn> softmax_backward_table;

// ---------------------------------------------------------------- data movement
// dst[i0..] = src[i0..] for the index box shape[0..ndim); strides in elements;
// elem_size bytes per element (1, 4 or 8).
struct CopyParams {
  int ndim = 1;
  int64_t shape[kMaxBcastDims] = {1, 1, 1, 1, 1, 1};
  int64_t ss[kMaxBcastDims] = {0, 0, 0, 0, 0, 0};
  int64_t ds[kMaxBcastDims] = {0, 0, 0, 0, 0, 0};
  int64_t n = 0;
  int elem_size = 4;
};
using CopyFn = void (*)(const CopyParams& p, const void* src, void* dst);
extern OpTable<CopyFn> copy_table;

struct CastParams {
  DType from = DType::F32, to = DType::F32;
  int64_t n = 0;
};
using CastFn = void (*)(const CastParams& p, const void* x, void* y);
extern OpTable<CastFn> cast_table;

// ---------------------------------------------------------------- dropout
// keep element i iff u(seed, i) >= rate, u uniform in [0,1) from a splitmix64
// hash of (seed, i); y = x * keep / (1 - rate); mask = keep (uint8).
struct DropoutParams {
  int64_t n = 0;
  float rate = 0.f;
  uint64_t seed = 0;
};
using DropoutFwdFn = void (*)(const DropoutParams& p, const float* x, float* y, uint8_t* mask);
// dx = dy * mask / (1 - rate)
using DropoutBwdFn = void (*)(const DropoutParams& p, const float* dy, const uint8_t* mask, float* dx);
extern OpTable<DropoutFwdFn> dropout_forward_table;
extern OpTable<DropoutBwdFn> dropout_backward_table;

// ---------------------------------------------------------------- index ops
// OneHot: labels (outer) of label_dtype -> y (outer, n) float32 (out of range -> all zero row, as tf.one_hot).
// Argmax: x (outer, n, inner) float32 -> y (outer, inner) int64, first max (NaN counts as max, as NumPy).
// Where:  cond (n = outer) uint8/float32 (nonzero = true), a, b (outer) -> y.
enum class IndexOp : int { OneHot = 0, Argmax, Where };
struct IndexParams {
  IndexOp op = IndexOp::OneHot;
  int64_t outer = 1, n = 1, inner = 1;
  DType label_dtype = DType::I64;
};
using IndexFn = void (*)(const IndexParams& p, const void* x, const void* a, const void* b, void* y);
extern OpTable<IndexFn> index_table;

// ---------------------------------------------------------------- embedding
// Forward: ids (n) of id_dtype, table (v, d) -> y (n, d): y[i] = table[ids[i]] (an id outside
// [0, v) gives a zero row; the CPU front refuses such ids before the kernel runs).
// Backward: dw (v, d) = (accumulate ? dw : 0) + sum over i with ids[i] == r of dy[i] (fixed order:
// deterministic).
struct EmbeddingParams {
  int64_t n = 0, v = 0, d = 0;
  DType id_dtype = DType::I64;
};
using EmbedFwdFn = void (*)(const EmbeddingParams& p, const void* ids, const float* table, float* y);
using EmbedBwdFn = void (*)(const EmbeddingParams& p, const void* ids, const float* dy, float* dw, bool accumulate);
extern OpTable<EmbedFwdFn> embedding_forward_table;
extern OpTable<EmbedBwdFn> embedding_backward_table;

// ---------------------------------------------------------------- fronts
Tensor embedding_lookup(const Tensor& ids, const Tensor& table);
Tensor embedding_backward(const Tensor& dy, const Tensor& ids, int64_t vocab, const std::optional<Tensor>& out,
                          bool accumulate);
Tensor bias_add(const Tensor& x, const Tensor& b);
Tensor activation_forward(const Tensor& x, const std::string& name, std::optional<float> alpha);
Tensor activation_backward(const Tensor& dy, const std::optional<Tensor>& x, const std::optional<Tensor>& y,
                           const std::string& name, std::optional<float> alpha);
Tensor softmax_forward(const Tensor& x, int64_t axis);
Tensor log_softmax_forward(const Tensor& x, int64_t axis);
Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t axis);
Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, int64_t axis);
Tensor binary(const std::string& op, const Tensor& a, const Tensor& b);
Tensor binary_scalar(const std::string& op, const Tensor& x, float s, bool reverse);
Tensor unary(const std::string& op, const Tensor& x);
Tensor reduce(const std::string& op, const Tensor& x, const std::optional<std::vector<int64_t>>& axes,
              bool keepdims);
Tensor sum_to_shape(const Tensor& x, const std::vector<int64_t>& shape);
Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm);
Tensor slice_axis(const Tensor& x, int64_t axis, int64_t start, int64_t stop);
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right, float value);
Tensor pad2d_backward(const Tensor& dy, int64_t top, int64_t bottom, int64_t left, int64_t right);
std::tuple<Tensor, Tensor> dropout_forward(const Tensor& x, float rate, uint64_t seed);
Tensor dropout_backward(const Tensor& dy, const Tensor& mask, float rate);
void fill_(Tensor& t, float value);
void axpy_(Tensor& y, const Tensor& x, float alpha);
void scale_(Tensor& x, float alpha);
Tensor cast(const Tensor& x, DType to);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor clip(const Tensor& x, float lo, float hi);
Tensor one_hot(const Tensor& labels, int64_t depth);
Tensor argmax(const Tensor& x, int64_t axis);
int64_t accuracy_count(const Tensor& pred, const Tensor& labels);

// Shared helpers (also used by the loss front).
int64_t normalize_axis(int64_t axis, int ndim, const char* op);
void check_elementwise_input(const Tensor& t, const char* op, const char* arg);  // defined + float32

}  // namespace pcn
