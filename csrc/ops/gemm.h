// ops/gemm.h — GEMM front: validation, shapes, allocation, dispatch.
#pragma once
#include "../dispatch.h"
#include "../tensor.h"

namespace pcn {

// A, B, C device pointers; p fully describes the product (see GemmParams).
using GemmFn = void (*)(const GemmParams& p, const float* A, const float* B, float* C);
extern OpTable<GemmFn> gemm_table;

// a (..., M, K) or (K, M) when transpose_a; b (K, N) or (N, K) when transpose_b.
// Rank-2 operands, or batched (B, M, K) x (B, K, N) / (B, M, K) x (K, N).
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b);

// c = alpha * op(a) * op(b) + beta * c, in place (all rank-2, contiguous).
void gemm_into(Tensor& c, const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b,
               float alpha, float beta);

}  // namespace pcn
