/* fuzz_config.c - libFuzzer target for config.json parsing (t5_config_parse).
 *
 * Accepted configs must satisfy the invariants the loader relies on to size
 * its allocations; rejected ones must carry a message. Seeds: the
 * config.json files under tests/fixtures/models/.
 *
 * Build with -DT5_FUZZ_MAIN for a plain program that runs the files named on
 * its command line once each.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "t5_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    t5_config c;
    t5_err err = {0};
    if (t5_config_parse(&c, (const char *)data, size, &err) == 0) {
        if (c.vocab_size <= 0 || c.d_model <= 0 || c.d_kv <= 0 || c.d_ff <= 0 ||
            c.num_layers <= 0 || c.num_decoder_layers <= 0 || c.num_heads <= 0 ||
            c.relative_attention_num_buckets < 4 ||
            c.relative_attention_max_distance <= c.relative_attention_num_buckets / 2 ||
            !(c.layer_norm_epsilon > 0) || c.pad_token_id < 0 ||
            c.pad_token_id >= c.vocab_size || c.eos_token_id < 0 ||
            c.eos_token_id >= c.vocab_size || c.decoder_start_token_id < 0 ||
            c.decoder_start_token_id >= c.vocab_size || c.act < T5_ACT_RELU ||
            c.act > T5_ACT_SILU)
            abort();
    } else if (err.code == 0 || !err.msg[0]) {
        abort();
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
