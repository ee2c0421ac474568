/* embed.cu - token embedding lookup into the fp32 residual stream. */
#include "cuda_internal.cuh"

/* One block per row; an id outside the table would read out of bounds, so
 * it is clamped (the engine validates ids before they get here). */
template <typename T>
__global__ void embed_kernel(float *x, const T *table, const int32_t *ids, int d, int vocab)
{
    T5__PDL_ENTRY();
    int row = blockIdx.x;
    int id = ids[row];
    id = id < 0 ? 0 : id >= vocab ? vocab - 1 : id;
    const T *src = table + (size_t)id * d;
    float *dst = x + (size_t)row * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x)
        dst[i] = t5__ld(src + i);
}

int t5__cu_embed(t5_stream *s, float *x, const void *table, const int32_t *ids, int n, int d,
                 t5_err *err)
{
    if (n <= 0)
        return 0;
    CU_ENTER(s);
    /* The vocabulary size is not part of the op; INT32_MAX disables the clamp's
     * upper bound while keeping negative ids safe. */
    int threads = d >= 256 ? 256 : 128;
    T5__DISPATCH(s->be->base.act_dtype, T,
                 t5__launch(s, embed_kernel<T>, dim3(n), dim3(threads), 0, x, (const T *)table, ids,
                            d, INT32_MAX));
    CU_CHECK_LAUNCH("embed");
    return 0;
}
