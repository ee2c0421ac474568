/* fuzz_binary_tensors.c - libFuzzer target for infer bodies with binary
 * tensor data (Triton's extension: a JSON header of
 * Inference-Header-Content-Length bytes, then raw tensors; BYTES elements
 * as a 4-byte little-endian length and the bytes).
 *
 * The first two input bytes (little-endian) give the header length, as the
 * HTTP header would; the rest is the body. Accepted requests must hold
 * exactly the declared texts, each valid UTF-8 and inside the body.
 * Seeds: fuzz/corpus/fuzz_binary_tensors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t hl = (size_t)data[0] | (size_t)data[1] << 8;
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    /* A private copy, so reads past the body are caught by ASan. */
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return 0;
    memcpy(copy, body, len);
    t5_infer_limits l;
    memset(&l, 0, sizeof l);
    l.max_rows = 16;
    l.max_text_bytes = 1024;
    l.max_new_tokens = 64;
    l.max_num_beams = 4;
    l.priority_levels = 1;
    l.model_name = "m";
    l.defaults = t5_gen_default_params();
    t5_infer_req r;
    t5_err err = {0};
    int rc = t5_infer_parse(&r, copy, len, hl, &l, &err);
    if (rc == 0) {
        size_t total = 0;
        for (int i = 0; i < r.rows; i++) {
            if (!t5_utf8_valid(r.text[i], r.text_len[i]) || r.text_len[i] > l.max_text_bytes)
                abort();
            total += r.text_len[i];
        }
        if (total > len)
            abort();
        t5_infer_req_clear(&r);
    } else if (!err.msg[0]) {
        abort();
    }
    free(copy);
    return 0;
}
