/* fuzz_spiece.c - the tokenizer.json reader, and encode/decode with
 * whatever model it accepts. */
#include <stdint.h>
#include <stdlib.h>

#include "t5_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    t5_tokenizer *tok = NULL;
    if (t5_tokenizer_load_mem(&tok, "json", data, size, NULL) < 0)
        return 0;
    static const char text[] = "  Hello, wörld! ﬁ 日本語 \xF0\x9F\x98\x80 <unk> </s>  x";
    int32_t ids[256];
    int n = t5_tokenizer_encode(tok, text, sizeof text - 1, ids, 256, T5_TOK_ADD_EOS, NULL);
    char out[1024];
    if (n > 0 && n <= 256)
        t5_tokenizer_decode(tok, ids, n, out, sizeof out, 0, NULL);
    int v = t5_tokenizer_vocab_size(tok);
    for (int i = 0; i < v && i < 64; i++)
        ids[i] = (int32_t)((uint32_t)i * 2654435761u % (uint32_t)v);
    t5_tokenizer_decode(tok, ids, v < 64 ? v : 64, out, sizeof out, T5_TOK_SKIP_SPECIAL, NULL);
    t5_tokenizer_free(tok);
    return 0;
}
