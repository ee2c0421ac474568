/* fused_step_384.cu - fused_step.cu's kernels with 384 threads a block, for
 * one-row steps of 12-head models (one warp a head; fs_threads in
 * fused_step.cu chooses), as t5__cu_decode_step_384. */
#define FS_THREADS 384
#define FS_ALT_BUILD t5__cu_decode_step_384
#include "fused_step.cu"
