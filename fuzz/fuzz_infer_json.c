/* fuzz_infer_json.c - libFuzzer target for the KServe v2 infer body (JSON
 * only) and the generate body, as the server parses them from the network.
 *
 * An accepted request must hold rows texts of valid UTF-8 within the limits;
 * a rejected one must carry a message. Accepted requests are also rendered
 * (with fake results) so the response writer sees the same shapes.
 * Seeds: fuzz/corpus/fuzz_infer_json.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ok(t5_infer_req *r, const t5_infer_limits *l)
{
    if (r->rows < 1 || r->rows > l->max_rows)
        abort();
    for (int i = 0; i < r->rows; i++)
        if (r->text_len[i] > l->max_text_bytes || !t5_utf8_valid(r->text[i], r->text_len[i]) ||
            r->text[i][r->text_len[i]] != '\0')
            abort();
    if (r->gp.max_new_tokens < 1 || r->gp.max_new_tokens > l->max_new_tokens ||
        r->gp.num_beams < 1 || r->gp.num_beams > l->max_num_beams)
        abort();
    /* Fake results: echo each text twice, then render both response kinds. */
    r->res = calloc((size_t)r->rows, sizeof *r->res);
    for (int i = 0; r->res && i < r->rows; i++) {
        r->res[i].seqs = calloc(2, sizeof(t5_infer_seq));
        if (!r->res[i].seqs)
            continue;
        r->res[i].n_seqs = 2;
        for (int j = 0; j < 2; j++) {
            t5_infer_seq *s = &r->res[i].seqs[j];
            s->text = strdup(r->text[i]);
            s->text_len = s->text ? r->text_len[i] : 0;
            s->ids = calloc(3, sizeof *s->ids);
            s->n_ids = s->ids ? 3 : 0;
            s->score = -1.0f * (float)j;
        }
    }
    t5_buf out = {0};
    size_t jl = 0;
    t5_infer_render(r, "m", "1", &out, &jl);
    if (!out.oom && jl > out.len)
        abort();
    t5_buf_free(&out);
    t5_generate_render(r, "m", "1", &out);
    t5_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    t5_infer_limits l;
    memset(&l, 0, sizeof l);
    l.max_rows = 8;
    l.max_text_bytes = 256;
    l.max_new_tokens = 64;
    l.max_num_beams = 4;
    l.priority_levels = 2;
    l.model_name = "m";
    l.defaults = t5_gen_default_params();
    t5_infer_req r;
    t5_err err = {0};
    if (t5_infer_parse(&r, (const char *)data, size, 0, &l, &err) == 0) {
        check_ok(&r, &l);
        t5_infer_req_clear(&r);
    } else if (!err.msg[0]) {
        abort();
    }
    err.msg[0] = '\0';
    if (t5_generate_parse(&r, (const char *)data, size, &l, &err) == 0) {
        check_ok(&r, &l);
        t5_infer_req_clear(&r);
    } else if (!err.msg[0]) {
        abort();
    }
    return 0;
}
