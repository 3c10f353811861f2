// common.cuh — harness shared by the numbered SGEMM lab variants (NOT part of
// the extension build; CMake globs only cuda/*.cu).
//
// Each variant NN_name.cu defines
//     const char* kName;  float kTol;
//     void launch(int M, int N, int K, const float* A, const float* B, float* C, cudaStream_t s);
// for C = A(MxK) * B(KxN), row-major, any sizes, then `#include "main.cuh"`.
// main(): checks the variant against a naive reference kernel (fp32 with an
// fp64 accumulator) on odd shapes and one big shape (relative L2 error, NaN
// poison in C first), then times it with CUDA events (median of 20 after 3
// warm-ups, 3 rotating input sets) beside cuBLAS when built with
// -DPCN_LAB_CUBLAS -lcublas.   Usage: ./01_naive [M N K]   (default 4096^3)
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>
#ifdef PCN_LAB_CUBLAS
#include <cublas_v2.h>
#endif

#define CK(call)                                                                              \
  do {                                                                                        \
    cudaError_t e_ = (call);                                                                  \
    if (e_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__, \
                   __LINE__, #call);                                                          \
      std::exit(2);                                                                           \
    }                                                                                         \
  } while (0)

extern const char* kName;
extern const float kTol;
void launch(int M, int N, int K, const float* A, const float* B, float* C, cudaStream_t s);

// Reference: one thread per output, double accumulator.
__global__ void lab_reference(int M, int N, int K, const float* A, const float* B, float* C) {
  const int m = blockIdx.y * blockDim.y + threadIdx.y, n = blockIdx.x * blockDim.x + threadIdx.x;
  if (m >= M || n >= N) return;
  double acc = 0;
  for (int k = 0; k < K; ++k) acc += double(A[size_t(m) * K + k]) * double(B[size_t(k) * N + n]);
  C[size_t(m) * N + n] = float(acc);
}

__global__ void lab_fill_random(float* p, size_t n, unsigned seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    unsigned x = unsigned(i) * 2654435761u ^ (seed * 0x9E3779B9u);
    x ^= x >> 13; x *= 0x5bd1e995u; x ^= x >> 15;
    p[i] = float(x & 0xFFFF) / 32768.0f - 1.0f;  // uniform in [-1, 1)
  }
}

inline void lab_random(float* p, size_t n, unsigned seed) {
  lab_fill_random<<<1024, 256>>>(p, n, seed);
  CK(cudaGetLastError());
}

// Relative L2 error of C against the reference on (M, N, K); NaN counts as inf.
inline double lab_check(int M, int N, int K, unsigned seed) {
  float *A, *B, *C, *R;
  CK(cudaMalloc(&A, sizeof(float) * size_t(M) * K + 16));
  CK(cudaMalloc(&B, sizeof(float) * size_t(K) * N + 16));
  CK(cudaMalloc(&C, sizeof(float) * size_t(M) * N + 16));
  CK(cudaMalloc(&R, sizeof(float) * size_t(M) * N + 16));
  lab_random(A, size_t(M) * K, seed);
  lab_random(B, size_t(K) * N, seed + 1);
  CK(cudaMemset(C, 0xFF, sizeof(float) * size_t(M) * N));  // NaN poison
  dim3 rb(16, 16), rg((N + 15) / 16, (M + 15) / 16);
  lab_reference<<<rg, rb>>>(M, N, K, A, B, R);
  CK(cudaGetLastError());
  launch(M, N, K, A, B, C, 0);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<float> c(size_t(M) * N), r(size_t(M) * N);
  CK(cudaMemcpy(c.data(), C, c.size() * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(r.data(), R, r.size() * 4, cudaMemcpyDeviceToHost));
  double num = 0, den = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (!std::isfinite(c[i])) return INFINITY;
    num += (double(c[i]) - r[i]) * (double(c[i]) - r[i]);
    den += double(r[i]) * r[i];
  }
  CK(cudaFree(A)); CK(cudaFree(B)); CK(cudaFree(C)); CK(cudaFree(R));
  return std::sqrt(num / std::max(den, 1e-300));
}

template <class F>
float lab_time(F&& fn, int reps = 20) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a)); CK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) fn(i);
  CK(cudaDeviceSynchronize());
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(a));
    fn(i);
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  CK(cudaGetLastError());
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
