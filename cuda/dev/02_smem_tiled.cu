// 02_smem_tiled.cu — 32x32 output tile per 32x32 block; A and B tiles staged
// in shared memory, each element loaded from global once per block instead of
// once per thread: global traffic / 32. Still one FMA per two shared loads.
#include "common.cuh"

const char* kName = "02_smem_tiled";
const float kTol = 1e-5f;
constexpr int T = 32;

__global__ void tiled(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                      float* __restrict__ C) {
  __shared__ float As[T][T], Bs[T][T + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int n = blockIdx.x * T + tx, m = blockIdx.y * T + ty;
  float acc = 0.f;
  for (int k0 = 0; k0 < K; k0 += T) {
    As[ty][tx] = (m < M && k0 + tx < K) ? A[size_t(m) * K + k0 + tx] : 0.f;
    Bs[ty][tx] = (k0 + ty < K && n < N) ? B[size_t(k0 + ty) * N + n] : 0.f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < T; ++k) acc = fmaf(As[ty][k], Bs[k][tx], acc);
    __syncthreads();
  }
  if (m < M && n < N) C[size_t(m) * N + n] = acc;
}

void launch(int M, int N, int K, const float* A, const float* B, float* C, cudaStream_t s) {
  const dim3 block{T, T, 1}, grid{unsigned((N + T - 1) / T), unsigned((M + T - 1) / T), 1};
  tiled<<<grid, block, 0, s>>>(M, N, K, A, B, C);
}

#include "main.cuh"
