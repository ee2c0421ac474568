/* fuzz_config.c - libFuzzer target for config.json parsing (t5_config_parse).
 *
 * Accepted configs must satisfy the invariants the loader relies on to size
 * its allocations; rejected ones must carry a message. Seeds
 * (fuzz/corpus/fuzz_config): the fixtures' config.json files and one as
 * transformers 5 writes them.
 *
 * fuzz/CMakeLists.txt builds it with libFuzzer (clang) and as a plain program
 * that replays fuzz/corpus/fuzz_config/ under ctest.
 */
#include <stdint.h>
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
            !(c.layer_norm_epsilon > 0) || c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size ||
            c.eos_token_id < 0 || c.eos_token_id >= c.vocab_size || c.decoder_start_token_id < 0 ||
            c.decoder_start_token_id >= c.vocab_size || c.act < T5_ACT_RELU || c.act > T5_ACT_SILU)
            abort();
    } else if (err.code == 0 || !err.msg[0]) {
        abort();
    }
    return 0;
}
