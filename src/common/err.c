/* err.c - status codes and error messages (see t5_common.h). */
#include "t5_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *t5_strerror(int code)
{
    switch (code) {
    case T5_OK: return "ok";
    case T5_EINVAL: return "invalid argument";
    case T5_ENOMEM: return "out of memory";
    case T5_EIO: return "i/o error";
    case T5_EFORMAT: return "malformed input";
    case T5_EUNSUP: return "not supported";
    case T5_EDEVICE: return "device error";
    case T5_ELIMIT: return "limit exceeded";
    case T5_ECANCELED: return "cancelled";
    case T5_ENOTFOUND: return "not found";
    case T5_EBUSY: return "busy";
    default: return "unknown error";
    }
}

int t5_errf(t5_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int t5_err_wrap(t5_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    char prefix[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Truncation is fine: the end of a long chain of context matters least. */
    int n = snprintf(err->msg, sizeof err->msg, "%s: ", prefix);
    if (n >= 0 && (size_t)n < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, "%.*s",
                 (int)(sizeof err->msg - (size_t)n - 1), old);
    if (err->code == 0)
        err->code = code;
    return err->code;
}

const char *t5_dtype_name(t5_dtype t)
{
    switch (t) {
    case T5_F32: return "fp32";
    case T5_F16: return "fp16";
    case T5_BF16: return "bf16";
    }
    return "?";
}

int t5_dtype_parse(const char *s, t5_dtype *out)
{
    if (!strcmp(s, "fp32") || !strcmp(s, "float32"))
        *out = T5_F32;
    else if (!strcmp(s, "fp16") || !strcmp(s, "float16"))
        *out = T5_F16;
    else if (!strcmp(s, "bf16") || !strcmp(s, "bfloat16"))
        *out = T5_BF16;
    else
        return T5_EINVAL;
    return T5_OK;
}

int t5_device_parse(const char *s, t5_device *out)
{
    if (!strcmp(s, "cpu"))
        *out = T5_DEVICE_CPU;
    else if (!strcmp(s, "cuda") || !strcmp(s, "gpu"))
        *out = T5_DEVICE_CUDA;
    else
        return T5_EINVAL;
    return T5_OK;
}
