/* fuzz_safetensors.c - libFuzzer target for the safetensors reader.
 *
 * Feeds the input to the .safetensors header parser (t5_st_parse) and, when
 * it is accepted, converts every F32/F16/BF16 tensor to fp32, so offsets and
 * sizes that slip past the checks show up as out-of-bounds reads. The same
 * bytes also go to the shard index parser (model.safetensors.index.json).
 * Seeds: tests/fixtures/models/NAME/model*.safetensors and the index.json of
 * tests/fixtures/models/sharded.
 *
 * Build with -DT5_FUZZ_MAIN for a plain program that runs the files named on
 * its command line once each (regression runs without libFuzzer).
 */
#include <stdint.h>
#include <stdio.h>
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

#ifdef T5_FUZZ_MAIN
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *fp = fopen(argv[i], "rb");
        if (!fp) {
            perror(argv[i]);
            return 1;
        }
        fseek(fp, 0, SEEK_END);
        long n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
        if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
            fprintf(stderr, "%s: read failed\n", argv[i]);
            return 1;
        }
        fclose(fp);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
    }
    return 0;
}
#endif
