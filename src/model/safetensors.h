/* safetensors.h - reading .safetensors files and sharded sets of them (private).
 *
 * A .safetensors file is an 8-byte little-endian header length N, N bytes of
 * JSON mapping tensor names to {"dtype", "shape", "data_offsets": [begin,
 * end]}, then the data section the offsets index into. Files are mmap'd;
 * tensor data is read straight from the mapping.
 *
 *     t5_st_set *s;
 *     if (t5_st_set_open(&s, "/models/t5-small", &err) < 0) ...;
 *     const t5_st_tensor *t = t5_st_find(s, "shared.weight");
 *     float *buf = malloc(t->numel * sizeof *buf);
 *     if (t5_st_read_f32(t, buf, t->numel, &err) < 0) ...;
 *     t5_st_set_close(s);
 *
 * Every header field is checked before use: the header lies inside the file,
 * offsets lie inside the data section, sizes equal prod(shape) * element
 * size, names are unique. A dtype other than F32/F16/BF16 is accepted by the
 * parser (a file may hold tensors we never read) and refused by
 * t5_st_read_f32 with T5_EUNSUP naming the tensor and dtype.
 */
#ifndef T5_MODEL_SAFETENSORS_H
#define T5_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "t5_common.h"

#define T5_ST_MAX_DIMS 8
/* safetensors' own reader refuses headers above 100 MB; so do we. */
#define T5_ST_MAX_HEADER (100u * 1000u * 1000u)

typedef enum t5_st_dtype {
    T5_ST_F32 = 0,
    T5_ST_F16,
    T5_ST_BF16,
    T5_ST_OTHER, /* a dtype we parse but cannot convert (F64, I64, ...) */
} t5_st_dtype;

typedef struct t5_st_tensor {
    const char *name; /* NUL-terminated, owned by the file */
    const char *file; /* path (or label) of the file holding it */
    t5_st_dtype dtype;
    char dtype_name[16]; /* as written in the header, e.g. "F32", "I64" */
    int ndim;
    int64_t shape[T5_ST_MAX_DIMS];
    int64_t numel;       /* prod(shape); 1 for a scalar */
    const uint8_t *data; /* inside the file's mapping */
    size_t nbytes;
} t5_st_tensor;

typedef struct t5_st_file {
    char *path; /* owned; a label when parsed from memory */
    void *map;  /* mmap'd file, or NULL when parsed from memory */
    size_t map_size;
    t5_st_tensor *tensors; /* sorted by name */
    int n_tensors;
    char *names; /* owned storage for the names */
} t5_st_file;

/* Parses a whole .safetensors image held in memory (data, size). The tensors
 * point into data, which must outlive f. label names the file in messages.
 * On failure f is left empty (safe to pass to t5_st_file_clear). */
int t5_st_parse(t5_st_file *f, const void *data, size_t size, const char *label, t5_err *err);

/* Opens and maps path, then parses it. */
int t5_st_file_open(t5_st_file *f, const char *path, t5_err *err);
void t5_st_file_clear(t5_st_file *f);

const t5_st_tensor *t5_st_file_find(const t5_st_file *f, const char *name);

/* The tensors of a model directory: model.safetensors, or every shard that
 * model.safetensors.index.json names. */
typedef struct t5_st_set t5_st_set;

int t5_st_set_open(t5_st_set **out, const char *dir, t5_err *err);
void t5_st_set_close(t5_st_set *s);
const t5_st_tensor *t5_st_find(const t5_st_set *s, const char *name);

/* Parses a model.safetensors.index.json held in memory and returns the
 * distinct shard file names it maps tensors to (exposed for the fuzzer).
 * *files is an array of *n_files malloc'd strings; free with
 * t5_st_index_free. Names must be plain file names (no '/', not ".."). */
int t5_st_index_parse(const char *json, size_t len, const char *label, char ***files, int *n_files,
                      t5_err *err);
void t5_st_index_free(char **files, int n_files);

/* Converts a tensor's data to fp32 into dst (room for n >= numel floats). */
int t5_st_read_f32(const t5_st_tensor *t, float *dst, size_t n, t5_err *err);

/* IEEE half and bfloat16 conversions (exact). */
float t5_f16_to_f32(uint16_t h);
float t5_bf16_to_f32(uint16_t h);
uint16_t t5_f32_to_f16(float f);  /* round to nearest even, overflow to inf */
uint16_t t5_f32_to_bf16(float f); /* round to nearest even */

#endif
