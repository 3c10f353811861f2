// 01_naive.cu — one thread per output, operands straight from global memory.
// Every k step reads A[m][k] (broadcast in a warp) and B[k][n] (coalesced):
// ~2K loads per output, no reuse beyond L1/L2. Expect a few TFLOP/s at best.
#include "common.cuh"

const char* kName = "01_naive";
const float kTol = 1e-5f;

__global__ void naive(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                      float* __restrict__ C) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x, m = blockIdx.y * blockDim.y + threadIdx.y;
  if (m >= M || n >= N) return;
  float acc = 0.f;
  for (int k = 0; k < K; ++k) acc = fmaf(A[size_t(m) * K + k], B[size_t(k) * N + n], acc);
  C[size_t(m) * N + n] = acc;
}

void launch(int M, int N, int K, const float* A, const float* B, float* C, cudaStream_t s) {
  const dim3 block{32, 8, 1}, grid{unsigned((N + 31) / 32), unsigned((M + 7) / 8), 1};
  naive<<<grid, block, 0, s>>>(M, N, K, A, B, C);
}

#include "main.cuh"
