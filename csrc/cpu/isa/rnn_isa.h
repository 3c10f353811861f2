// rnn_isa.h — per-ISA pieces of the RNN kernels (defined in csrc/cpu/isa/rnn.cpp).
//
// The per-step recurrent product h_prev (N,U) @ R (U,G*U) has few rows and a
// weight matrix that is the same for all T steps, so R is packed ONCE per call
// into column panels and every step runs a small register-blocked kernel over
// the panels (no per-step packing, unlike a general SGEMM).
#pragma once
#include "../../common.h"
#include "../../isa.h"

namespace pcn {

// Panel width of the packed layout (the same for every ISA).
constexpr int64_t kRnnPanel = 32;
// Floats needed to pack a (K, Nc) operand.
inline int64_t rnn_packed_floats(int64_t K, int64_t Nc) {
  return (Nc + kRnnPanel - 1) / kRnnPanel * kRnnPanel * K;
}

// Bp <- op(B) (K, Nc) in panels: Bp[(jb*K + k)*32 + jj] = op(B)[k, jb*32 + jj], zero
// padded. op(B) = B (K,Nc) [ldb] or, when trans, B^T with B (Nc,K) [ldb].
PCN_DECLARE_ISA(void rnn_pack_b(const float* B, int64_t ldb, bool trans, int64_t K, int64_t Nc, float* Bp))
// C (M,Nc) [ldc] = A (M,K) [lda] @ Bp + (accumulate ? C : 0). OpenMP-parallel
// over (panel, row block) when large and not already inside a parallel region.
PCN_DECLARE_ISA(void rnn_gemm_packed(int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda,
                                     const float* Bp, bool accumulate, float* C, int64_t ldc))
}  // namespace pcn
