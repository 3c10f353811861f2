// ops/gemm.cpp — GEMM front (see ops/gemm.h).
#include "gemm.h"

#include "../cpu/gemm.h"

namespace pcn {

static void cpu_gemm(const GemmParams& p, const float* A, const float* B, float* C) {
  cpu::sgemm(p, A, B, C);
}
OpTable<GemmFn> gemm_table{"matmul", cpu_gemm, nullptr};

static void check_operand(const Tensor& t, const char* arg) {
  check_float(t, "matmul", arg);
  if (t.ndim() < 2 || t.ndim() > 3)
    PCN_THROW(ValueError, "matmul: " << arg << " must be 2-D or 3-D (batched), got shape " << shape_str(t.shape()));
}

Tensor matmul(const Tensor& a0, const Tensor& b0, bool ta, bool tb) {
  check_operand(a0, "a");
  check_operand(b0, "b");
  check_same_device(a0, b0, "matmul");
  const Tensor a = a0.contiguous(), b = b0.contiguous();
  const int64_t batch = a.ndim() == 3 ? a.dim(0) : 1;
  if (b.ndim() == 3 && (a.ndim() != 3 || b.dim(0) != batch))
    PCN_THROW(ValueError, "matmul: batch dimensions differ: a " << shape_str(a.shape()) << ", b " << shape_str(b.shape()));
  const int64_t ar = a.dim(-2), ac = a.dim(-1), br = b.dim(-2), bc = b.dim(-1);
  const int64_t M = ta ? ac : ar, K = ta ? ar : ac, Kb = tb ? bc : br, N = tb ? br : bc;
  if (K != Kb)
    PCN_THROW(ValueError, "matmul: inner dimensions differ: op(a) is (" << M << ", " << K << "), op(b) is (" << Kb
                                                                        << ", " << N << ") [a " << shape_str(a.shape())
                                                                        << ", b " << shape_str(b.shape())
                                                                        << ", transpose_a=" << ta << ", transpose_b=" << tb << "]");
  std::vector<int64_t> os = a.ndim() == 3 ? std::vector<int64_t>{batch, M, N} : std::vector<int64_t>{M, N};
  Tensor c = Tensor::empty(os, DType::F32, a.device());
  GemmParams p;
  p.transA = ta; p.transB = tb; p.M = M; p.N = N; p.K = K;
  p.lda = ac; p.ldb = bc; p.ldc = N;
  auto fn = gemm_table.get(a.device());
  for (int64_t i = 0; i < batch; ++i) {
    const float* A = a.data<float>() + i * ar * ac;
    const float* B = b.data<float>() + (b.ndim() == 3 ? i * br * bc : 0);
    fn(p, A, B, c.data<float>() + i * M * N);
  }
  return c;
}

void gemm_into(Tensor& c, const Tensor& a, const Tensor& b, bool ta, bool tb, float alpha, float beta) {
  check_ndim(a, 2, "gemm", "a", "matrix");
  check_ndim(b, 2, "gemm", "b", "matrix");
  check_ndim(c, 2, "gemm", "c", "matrix");
  check_float(a, "gemm", "a"); check_float(b, "gemm", "b"); check_float(c, "gemm", "c");
  check_same_device(a, b, "gemm"); check_same_device(a, c, "gemm");
  check_contiguous(a, "gemm", "a"); check_contiguous(b, "gemm", "b"); check_contiguous(c, "gemm", "c");
  const int64_t M = ta ? a.dim(1) : a.dim(0), K = ta ? a.dim(0) : a.dim(1);
  const int64_t Kb = tb ? b.dim(1) : b.dim(0), N = tb ? b.dim(0) : b.dim(1);
  PCN_CHECK(K == Kb && c.dim(0) == M && c.dim(1) == N,
            "gemm: shapes do not agree: a " << shape_str(a.shape()) << ", b " << shape_str(b.shape()) << ", c "
                                            << shape_str(c.shape()));
  GemmParams p;
  p.transA = ta; p.transB = tb; p.M = M; p.N = N; p.K = K; p.alpha = alpha; p.beta = beta;
  p.lda = a.dim(1); p.ldb = b.dim(1); p.ldc = N;
  gemm_table.get(a.device())(p, a.data<float>(), b.data<float>(), c.data<float>());
}

}  // namespace pcn
