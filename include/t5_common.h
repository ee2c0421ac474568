/* t5_common.h - status codes, error reports and small shared types.
 *
 * Every fallible function in t5serve returns an int: 0 on success, a negative
 * T5_E* code on failure. Functions that can fail for a reason worth telling a
 * person also take a `t5_err *` (may be NULL) that receives a message naming
 * the file, tensor, field or argument at fault.
 *
 *     t5_err err = {0};
 *     t5_model *m;
 *     if (t5_model_load(&m, "models/speller/1", NULL, &err) < 0)
 *         fprintf(stderr, "%s: %s\n", t5_strerror(err.code), err.msg);
 *
 * The library never calls exit() or abort() on bad input, bad files or
 * out-of-memory; asserts guard internal invariants only.
 */
#ifndef T5_COMMON_H
#define T5_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    T5_OK = 0,
    T5_EINVAL = -1,    /* bad argument or malformed input from the caller */
    T5_ENOMEM = -2,    /* host or device allocation failed */
    T5_EIO = -3,       /* a file could not be opened, read or mapped */
    T5_EFORMAT = -4,   /* a file or message is malformed */
    T5_EUNSUP = -5,    /* valid, but not supported (dtype, feature, device) */
    T5_EDEVICE = -6,   /* a CUDA / BLAS / device call failed */
    T5_ELIMIT = -7,    /* a configured limit (length, batch, slots) exceeded */
    T5_ECANCELED = -8, /* the request was cancelled */
    T5_ENOTFOUND = -9, /* no such model, tensor, token or key */
    T5_EBUSY = -10,    /* resource exhausted for now (queue full, no slot) */
};

/* The message is always NUL-terminated; code mirrors the return value. */
typedef struct t5_err {
    int code;
    char msg[512];
} t5_err;

const char *t5_strerror(int code);

/* Records code and a printf-style message in err (if non-NULL) and returns
 * code, so callers can write `return t5_errf(err, T5_EIO, "open %s", p);`. */
int t5_errf(t5_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefixes context to an existing message: "ctx: old message". Returns err->code
 * (or code if err is NULL). */
int t5_err_wrap(t5_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

typedef enum t5_dtype {
    T5_F32 = 0,
    T5_F16 = 1,
    T5_BF16 = 2,
} t5_dtype;

typedef enum t5_device {
    T5_DEVICE_CPU = 0,
    T5_DEVICE_CUDA = 1,
} t5_device;

const char *t5_dtype_name(t5_dtype t);
int t5_dtype_parse(const char *s, t5_dtype *out);   /* "fp32","fp16","bf16" */
int t5_device_parse(const char *s, t5_device *out); /* "cpu","cuda" */

/* Whether this build has the CUDA backend compiled in. */
int t5_have_cuda(void);

#ifdef __cplusplus
}
#endif
#endif
