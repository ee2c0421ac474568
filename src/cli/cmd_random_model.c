/* cmd_random_model.c - `t5serve random-model`: write a random-weight
 * Hugging Face checkpoint of a published T5 shape (see t5_random_model_write). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "t5_model.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: t5serve random-model --shape NAME --out DIR [--seed S] "
               "[--dtype fp32|fp16|bf16]\n\n"
               "Writes config.json and model.safetensors with random weights of a published\n"
               "T5 shape, for benchmarks that must not depend on downloads. The weights are\n"
               "the same for the same seed. No tokenizer is written: use --input-ids.\n\n"
               "shapes: t5-small, t5-base, t5-large, flan-t5-small, flan-t5-base,\n"
               "        flan-t5-large, t5-v1_1-small, t5-v1_1-base, mt5-small, byt5-small,\n"
               "        t5-tiny, flan-t5-tiny (tiny: quick tests)\n"
               "--seed   random seed (default 0)\n"
               "--dtype  storage dtype of the weights (default fp32)\n");
}

int t5_cmd_random_model(int argc, char **argv)
{
    const char *shape = NULL, *out = NULL, *dtype_s = "fp32";
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "t5serve random-model: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--shape")) {
            shape = v;
        } else if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--dtype")) {
            dtype_s = v;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            seed = strtoull(v, &end, 0);
            if (!*v || *end || v[0] == '-') {
                fprintf(stderr, "t5serve random-model: --seed wants a non-negative integer\n");
                return 2;
            }
        } else {
            fprintf(stderr, "t5serve random-model: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!shape || !out) {
        fprintf(stderr, "t5serve random-model: --shape and --out are required\n");
        usage(stderr);
        return 2;
    }
    t5_dtype dt;
    if (t5_dtype_parse(dtype_s, &dt) < 0) {
        fprintf(stderr, "t5serve random-model: --dtype must be fp32, fp16 or bf16\n");
        return 2;
    }
    t5_err err = {0};
    if (t5_random_model_write(shape, out, (uint64_t)seed, dt, &err) < 0) {
        fprintf(stderr, "t5serve random-model: %s\n", err.msg);
        return 1;
    }
    printf("wrote %s (%s, %s weights, seed %llu)\n", out, shape, t5_dtype_name(dt), seed);
    return 0;
}
