/* SPDX-License-Identifier: MIT */
#include "cuda_link.h"
size_t link_b_sizes(void) {
  return (link_launchers() ? fp4_cuda_gemv_workspace_size(1, 64, 1024) : 1) + fp4_cuda_quantize_workspace_size(1, 32, NULL);
}
