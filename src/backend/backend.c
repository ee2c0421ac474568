/* backend.c - picks the backend for a device.
 *
 * The CUDA backend is only referenced when the build has it, so a CPU-only
 * build links without any CUDA library. */
#include "backend/backend.h"

int t5_have_cuda(void)
{
#ifdef T5_HAVE_CUDA
    return 1;
#else
    return 0;
#endif
}

int t5_backend_create(t5_backend **out, t5_device dev, t5_dtype dtype, int device_index,
                      t5_err *err)
{
    if (!out)
        return t5_errf(err, T5_EINVAL, "t5_backend_create: out is NULL");
    *out = NULL;
    switch (dev) {
    case T5_DEVICE_CPU: return t5_backend_cpu_create(out, dtype, err);
    case T5_DEVICE_CUDA:
#ifdef T5_HAVE_CUDA
        return t5_backend_cuda_create(out, dtype, device_index, err);
#else
        (void)device_index;
        return t5_errf(err, T5_EUNSUP,
                       "built without CUDA: rebuild with nvcc on PATH "
                       "(or -DT5_CUDA=ON) to use --device cuda");
#endif
    }
    return t5_errf(err, T5_EINVAL, "unknown device %d", (int)dev);
}
