/* fuzz_safetensors.c - libFuzzer target for the safetensors reader.
 *
 * Feeds the input to the .safetensors header parser (t5_st_parse) and, when
 * it is accepted, converts every F32/F16/BF16 tensor to fp32, so offsets and
 * sizes that slip past the checks show up as out-of-bounds reads. The same
 * bytes also go to the shard index parser (model.safetensors.index.json).
 * Seeds (fuzz/corpus/fuzz_safetensors): a shard and the index of the sharded
 * fixture, and small files mixing every dtype, a scalar and an empty tensor.
 *
 * fuzz/CMakeLists.txt builds it with libFuzzer (clang) and as a plain program
 * that replays fuzz/corpus/fuzz_safetensors/ under ctest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    t5_st_file f;
    t5_err err = {0};
    if (t5_st_parse(&f, data, size, "fuzz", &err) == 0) {
        for (int i = 0; i < f.n_tensors; i++) {
            const t5_st_tensor *t = &f.tensors[i];
            if (t->dtype == T5_ST_OTHER || t->numel == 0)
                continue;
            /* numel * elem == nbytes <= size, so this stays small. */
            float *buf = malloc((size_t)t->numel * sizeof *buf);
            if (!buf)
                continue;
            if (t5_st_read_f32(t, buf, (size_t)t->numel, &err) != 0)
                abort(); /* a supported dtype must always convert */
            free(buf);
            if (t5_st_file_find(&f, t->name) != t)
                abort(); /* names are unique and sorted */
        }
        t5_st_file_clear(&f);
    } else if (err.code == 0 || !err.msg[0]) {
        abort(); /* every failure carries a message */
    }
    char **files = NULL;
    int n = 0;
    if (t5_st_index_parse((const char *)data, size, "fuzz", &files, &n, &err) == 0) {
        for (int i = 0; i < n; i++)
            if (strchr(files[i], '/') || !strcmp(files[i], ".."))
                abort(); /* the index must never name a path outside the directory */
        t5_st_index_free(files, n);
    }
    return 0;
}
