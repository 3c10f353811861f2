// main.cuh — the lab driver; included last by each variant (see common.cuh).
// PCN_LAB_BASELINE (define before including common.cuh): the cuBLAS line is 0 fp32 SGEMM
// (default), 1 SGEMM with CUBLAS_TF32_TENSOR_OP_MATH, 2 cublasGemmEx bf16 in/out, fp32 compute
// (the inputs converted once, outside the timing: the same baseline as bench/gpu.py).
#pragma once
#include "common.cuh"
#ifndef PCN_LAB_BASELINE
#define PCN_LAB_BASELINE 0
#endif
#if PCN_LAB_BASELINE == 2
#include <cuda_bf16.h>
__global__ void lab_to_bf16(const float* in, __nv_bfloat16* out, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    out[i] = __float2bfloat16_rn(in[i]);
}
#endif

int main(int argc, char** argv) {
  int M = 4096, N = 4096, K = 4096;
  if (argc == 4) { M = std::atoi(argv[1]); N = std::atoi(argv[2]); K = std::atoi(argv[3]); }
  cudaDeviceProp p;
  CK(cudaGetDeviceProperties(&p, 0));
  std::printf("%s on %s (%d SMs)\n", kName, p.name, p.multiProcessorCount);
  const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {127, 129, 33}, {128, 128, 8}, {257, 3, 511}, {1000, 3001, 777},
                          // multiples of 4 (the v3 tensor-core kernels need ld % 4 == 0): partial
                          // tiles in M, N and K, several block rows, more k tiles than stages
                          {4, 8, 4}, {132, 260, 36}, {260, 516, 100}, {1000, 3000, 776}};
  bool ok = true;
  for (auto& s : shapes) {
    const double e = lab_check(s[0], s[1], s[2], 7u + s[0]);
    const bool good = e <= kTol;
    ok &= good;
    std::printf("  check %5d x %5d x %5d  rel_err %.2e  %s\n", s[0], s[1], s[2], e, good ? "ok" : "FAIL");
  }
  const double e = lab_check(M, N, K, 99u);
  ok &= e <= kTol;
  std::printf("  check %5d x %5d x %5d  rel_err %.2e  %s\n", M, N, K, e, e <= kTol ? "ok" : "FAIL");

  constexpr int R = 3;  // rotating input sets: the timed runs do not just re-read L2
  float *A[R], *B[R], *C;
  for (int i = 0; i < R; ++i) {
    CK(cudaMalloc(&A[i], sizeof(float) * size_t(M) * K));
    CK(cudaMalloc(&B[i], sizeof(float) * size_t(K) * N));
    lab_random(A[i], size_t(M) * K, 11u + i);
    lab_random(B[i], size_t(K) * N, 21u + i);
  }
  CK(cudaMalloc(&C, sizeof(float) * size_t(M) * N));
  const double flop = 2.0 * M * N * K;
  const float ms = lab_time([&](int i) { launch(M, N, K, A[i % R], B[i % R], C, 0); });
  std::printf("  time  %5d x %5d x %5d  %8.3f ms  %7.1f TFLOP/s\n", M, N, K, ms, flop / ms * 1e-9);
#ifdef PCN_LAB_CUBLAS
  cublasHandle_t h;
  if (cublasCreate(&h) == CUBLAS_STATUS_SUCCESS) {
    const float one = 1.f, zero = 0.f;
    // Row-major C = A*B is column-major C^T = B^T * A^T.
#if PCN_LAB_BASELINE == 2
    __nv_bfloat16 *Ah[R], *Bh[R], *Ch;
    for (int i = 0; i < R; ++i) {
      CK(cudaMalloc(&Ah[i], 2 * size_t(M) * K));
      CK(cudaMalloc(&Bh[i], 2 * size_t(K) * N));
      lab_to_bf16<<<1024, 256>>>(A[i], Ah[i], size_t(M) * K);
      lab_to_bf16<<<1024, 256>>>(B[i], Bh[i], size_t(K) * N);
    }
    CK(cudaMalloc(&Ch, 2 * size_t(M) * N));
    const char* what = "cuBLAS bf16 in/out";
    const float cms = lab_time([&](int i) {
      cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, Bh[i % R], CUDA_R_16BF, N, Ah[i % R], CUDA_R_16BF, K,
                   &zero, Ch, CUDA_R_16BF, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    });
    for (int i = 0; i < R; ++i) { CK(cudaFree(Ah[i])); CK(cudaFree(Bh[i])); }
    CK(cudaFree(Ch));
#else
#if PCN_LAB_BASELINE == 1
    cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH);
    const char* what = "cuBLAS tf32";
#else
    const char* what = "cuBLAS fp32";
#endif
    const float cms = lab_time([&](int i) {
      cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, B[i % R], N, A[i % R], K, &zero, C, N);
    });
#endif
    std::printf("  %-24s  %8.3f ms  %7.1f TFLOP/s   (variant = %.1f%% of cuBLAS)\n", what, cms,
                flop / cms * 1e-9, 100.0 * cms / ms);
    cublasDestroy(h);
  }
#endif
  for (int i = 0; i < R; ++i) { CK(cudaFree(A[i])); CK(cudaFree(B[i])); }
  CK(cudaFree(C));
  std::printf("%s: %s\n", kName, ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
