/* SPDX-License-Identifier: MIT */
/* Compile check of the whole CUDA header (every kernel is compiled where the header is included):
 * `make cuda-header` builds this object for sm_90a, sm_100a and sm_120a. */
#include "fp4_cuda.cuh"
