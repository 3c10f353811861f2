// main.cuh — the lab driver; included last by each variant (see common.cuh).
#pragma once
#include "common.cuh"

int main(int argc, char** argv) {
  int M = 4096, N = 4096, K = 4096;
  if (argc == 4) { M = std::atoi(argv[1]); N = std::atoi(argv[2]); K = std::atoi(argv[3]); }
  cudaDeviceProp p;
  CK(cudaGetDeviceProperties(&p, 0));
  std::printf("%s on %s (%d SMs)\n", kName, p.name, p.multiProcessorCount);
  const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {127, 129, 33}, {128, 128, 8}, {257, 3, 511}, {1000, 3001, 777}};
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
    const float cms = lab_time([&](int i) {
      cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, B[i % R], N, A[i % R], K, &zero, C, N);
    });
    std::printf("  cuBLAS fp32               %8.3f ms  %7.1f TFLOP/s   (variant = %.1f%% of cuBLAS)\n", cms,
                flop / cms * 1e-9, 100.0 * cms / ms);
    cublasDestroy(h);
  }
#endif
  for (int i = 0; i < R; ++i) { CK(cudaFree(A[i])); CK(cudaFree(B[i])); }
  CK(cudaFree(C));
  std::printf("%s: %s\n", kName, ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
