// ops/pool2d.cpp — pooling fronts (see ops/pool2d.h).
#include "pool2d.h"

#include <algorithm>
#include <cctype>


namespace pcn {

OpTable<Pool2dFwdFn> pool2d_forward_table{"pool2d_forward", cpu::pool2d_forward, nullptr};
OpTable<Pool2dBwdFn> pool2d_backward_table{"pool2d_backward", cpu::pool2d_backward, nullptr};
OpTable<GlobalPoolFwdFn> global_pool_forward_table{"global_pool_forward", cpu::global_pool_forward, nullptr};
OpTable<GlobalPoolBwdFn> global_pool_backward_table{"global_pool_backward", cpu::global_pool_backward, nullptr};

namespace {

// Window, stride and pad values above this are refused, so every sum of a
// size and two pads stays far from int64 overflow.
constexpr int64_t kMaxParam = kMaxNumel;

PoolMode parse_mode(const std::string& mode, const char* what) {
  if (mode == "max") return PoolMode::Max;
  if (mode == "avg") return PoolMode::Avg;
  PCN_THROW(ValueError, what << ": mode must be 'max' or 'avg', got '" << mode << "'");
}

const char* op_name(PoolMode m) { return m == PoolMode::Max ? "max_pool" : "avg_pool"; }
const char* global_op_name(PoolMode m) { return m == PoolMode::Max ? "global_max_pool" : "global_avg_pool"; }

void check_nhwc(const Tensor& x, const char* op, const char* arg) {
  check_float(x, op, arg);
  if (x.ndim() != 4)
    PCN_THROW(ValueError, op << ": " << arg << " must be 4-D (N,H,W,C), got shape " << shape_str(x.shape()));
}

}  // namespace

Pool2dParams make_pool2d_params(const std::vector<int64_t>& xs, const std::string& mode,
                                const std::vector<int64_t>& ksize, const std::vector<int64_t>& strides,
                                const PaddingArg& padding) {
  Pool2dParams p;
  p.mode = parse_mode(mode, "pool2d");
  const char* op = op_name(p.mode);
  if (xs.size() != 4) PCN_THROW(ValueError, op << ": input must be 4-D (N,H,W,C), got shape " << shape_str(xs));
  checked_numel(xs, op);
  p.N = xs[0]; p.H = xs[1]; p.W = xs[2]; p.C = xs[3];
  if (p.H < 1 || p.W < 1 || p.C < 1)
    PCN_THROW(ValueError, op << ": input height, width and channels must be >= 1, got shape " << shape_str(xs));
  if (ksize.size() != 2 && ksize.size() != 3)
    PCN_THROW(ValueError, op << ": ksize must have 2 (kh,kw) or 3 (kh,kw,kc) values, got " << vec_str(ksize));
  if (strides.size() != 2 && strides.size() != 3)
    PCN_THROW(ValueError, op << ": strides must have 2 (sh,sw) or 3 (sh,sw,sc) values, got " << vec_str(strides));
  for (int64_t k : ksize)
    if (k < 1 || k > kMaxParam) PCN_THROW(ValueError, op << ": window sizes must be >= 1 (and < 2^40), got ksize " << vec_str(ksize));
  for (int64_t s : strides)
    if (s < 1 || s > kMaxParam) PCN_THROW(ValueError, op << ": strides must be >= 1 (and < 2^40), got " << vec_str(strides));
  p.kh = ksize[0]; p.kw = ksize[1]; p.kc = ksize.size() == 3 ? ksize[2] : 1;
  p.sh = strides[0]; p.sw = strides[1]; p.sc = strides.size() == 3 ? strides[2] : 1;

  // Depth: never padded ("valid" along C whatever the spatial padding is).
  if (p.kc > p.C)
    PCN_THROW(ValueError, op << ": depth window kc=" << p.kc << " is larger than the input channels C=" << p.C
                             << " (input " << shape_str(xs) << ")");
  p.OC = (p.C - p.kc) / p.sc + 1;

  const Padding2d r = resolve_padding2d(op, "window", p.H, p.W, p.kh, p.kw, p.sh, p.sw, 1, 1, padding);
  p.pad_top = r.top; p.pad_bottom = r.bottom; p.pad_left = r.left; p.pad_right = r.right;
  p.OH = r.OH; p.OW = r.OW;
  checked_numel({p.N, p.OH, p.OW, p.OC}, op);
  return p;
}

Tensor pool2d_forward(const Tensor& x0, const std::string& mode, const std::vector<int64_t>& ksize,
                      const std::vector<int64_t>& strides, const PaddingArg& padding) {
  const char* op = op_name(parse_mode(mode, "pool2d"));
  check_nhwc(x0, op, "input");
  const Pool2dParams p = make_pool2d_params(x0.shape(), mode, ksize, strides, padding);
  Tensor y = Tensor::empty({p.N, p.OH, p.OW, p.OC}, DType::F32, x0.device());
  if (y.numel() == 0) return y;
  const Tensor x = x0.contiguous();
  pool2d_forward_table.get(x.device())(p, x.data<float>(), y.data<float>());
  return y;
}

Tensor pool2d_backward(const Tensor& dy0, const Tensor& x0, const std::string& mode,
                       const std::vector<int64_t>& ksize, const std::vector<int64_t>& strides,
                       const PaddingArg& padding) {
  const char* op = op_name(parse_mode(mode, "pool2d"));
  check_nhwc(x0, op, "input");
  check_nhwc(dy0, op, "dy");
  check_same_device(dy0, x0, op);
  const Pool2dParams p = make_pool2d_params(x0.shape(), mode, ksize, strides, padding);
  const std::vector<int64_t> ys{p.N, p.OH, p.OW, p.OC};
  if (dy0.shape() != ys)
    PCN_THROW(ValueError, op << " backward: dy has shape " << shape_str(dy0.shape()) << ", expected the output shape "
                             << shape_str(ys) << " for input " << shape_str(x0.shape()));
  Tensor dx = Tensor::empty(x0.shape(), DType::F32, x0.device());
  if (dx.numel() == 0) return dx;
  const Tensor x = x0.contiguous(), dy = dy0.contiguous();
  pool2d_backward_table.get(x.device())(p, dy.data<float>(), x.data<float>(), dx.data<float>());
  return dx;
}

static GlobalPoolParams global_params(const Tensor& x, const std::string& mode) {
  GlobalPoolParams p;
  p.mode = parse_mode(mode, "global_pool");
  const char* op = global_op_name(p.mode);
  check_nhwc(x, op, "input");
  p.N = x.dim(0);
  p.HW = x.dim(1) * x.dim(2);
  p.C = x.dim(3);
  if (p.HW < 1 || p.C < 1)
    PCN_THROW(ValueError, op << ": input height, width and channels must be >= 1, got shape " << shape_str(x.shape()));
  return p;
}

Tensor global_pool_forward(const Tensor& x0, const std::string& mode) {
  const GlobalPoolParams p = global_params(x0, mode);
  Tensor y = Tensor::empty({p.N, p.C}, DType::F32, x0.device());
  if (y.numel() == 0) return y;
  const Tensor x = x0.contiguous();
  global_pool_forward_table.get(x.device())(p, x.data<float>(), y.data<float>());
  return y;
}

Tensor global_pool_backward(const Tensor& dy0, const Tensor& x0, const std::string& mode) {
  const GlobalPoolParams p = global_params(x0, mode);
  const char* op = global_op_name(p.mode);
  check_float(dy0, op, "dy");
  check_same_device(dy0, x0, op);
  if (dy0.shape() != std::vector<int64_t>{p.N, p.C})
    PCN_THROW(ValueError, op << " backward: dy has shape " << shape_str(dy0.shape()) << ", expected (" << p.N << ", "
                             << p.C << ") for input " << shape_str(x0.shape()));
  Tensor dx = Tensor::empty(x0.shape(), DType::F32, x0.device());
  if (dx.numel() == 0) return dx;
  const Tensor x = x0.contiguous(), dy = dy0.contiguous();
  global_pool_backward_table.get(x.device())(p, dy.data<float>(), x.data<float>(), dx.data<float>());
  return dx;
}

}  // namespace pcn
