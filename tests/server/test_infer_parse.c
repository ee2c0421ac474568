/* test_infer_parse.c - v2 infer bodies (JSON and binary tensor data) and
 * generate bodies: what is accepted, what is rejected and with which
 * message, and how responses render. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "server/infer.h"

static t5_infer_limits lim(void)
{
    t5_infer_limits l;
    memset(&l, 0, sizeof l);
    l.max_rows = 4;
    l.max_text_bytes = 64;
    l.max_new_tokens = 32;
    l.max_num_beams = 4;
    l.priority_levels = 2;
    l.model_name = "m";
    l.defaults = t5_gen_default_params();
    return l;
}

static int parse(const char *body, t5_infer_req *r, t5_err *err)
{
    t5_infer_limits l = lim();
    return t5_infer_parse(r, body, strlen(body), 0, &l, err);
}

static void test_json_ok(void)
{
    t5_infer_req r;
    t5_err err = {0};
    const char *b = "{\"id\":\"42\",\"parameters\":{\"max_new_tokens\":7,\"num_beams\":2,"
                    "\"num_return_sequences\":2,\"priority\":1,\"timeout\":1000,\"custom\":\"x\"},"
                    "\"inputs\":[{\"name\":\"text_input\",\"datatype\":\"BYTES\",\"shape\":[2,1],"
                    "\"data\":[[\"helo\"],[\"w\\u00f6rld\"]]}],"
                    "\"outputs\":[{\"name\":\"text_output\"},{\"name\":\"sequence_score\","
                    "\"parameters\":{\"binary_data\":true}}]}";
    int rc = parse(b, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_EQ_INT(r.rows, 2);
    CHECK(!strcmp(r.text[0], "helo"));
    CHECK_EQ_INT(r.text_len[1], 6);
    CHECK(r.has_id && !strcmp(r.id, "42"));
    CHECK_EQ_INT(r.gp.max_new_tokens, 7);
    CHECK_EQ_INT(r.gp.num_beams, 2);
    CHECK_EQ_INT(r.priority, 1);
    CHECK_EQ_INT(r.timeout_us, 1000);
    CHECK_EQ_INT(r.outputs, T5_OUT_TEXT | T5_OUT_SCORE);
    CHECK_EQ_INT(r.binary, T5_OUT_SCORE);

    /* render: text as JSON, score as binary */
    r.res = calloc(2, sizeof *r.res);
    for (int i = 0; i < 2; i++) {
        r.res[i].n_seqs = 2;
        r.res[i].seqs = calloc(2, sizeof(t5_infer_seq));
        for (int j = 0; j < 2; j++) {
            r.res[i].seqs[j].text = strdup(j ? "b" : "a");
            r.res[i].seqs[j].text_len = 1;
            r.res[i].seqs[j].score = -0.5f * (float)j;
        }
    }
    t5_buf out = {0};
    size_t jl = 0;
    CHECK_EQ_INT(t5_infer_render(&r, "m", "1", &out, &jl), 0);
    CHECK(jl + 16 == out.len); /* 4 FP32 scores */
    CHECK(strstr(out.p, "\"shape\":[2,2]") != NULL);
    CHECK(strstr(out.p, "\"data\":[\"a\",\"b\",\"a\",\"b\"]") != NULL);
    CHECK(strstr(out.p, "\"binary_data_size\":16") != NULL);
    float f;
    memcpy(&f, out.p + jl + 4, 4);
    CHECK_NEAR(f, -0.5, 1e-6);
    t5_buf_free(&out);
    t5_infer_req_clear(&r);
}

static void put32(char *p, uint32_t v)
{
    p[0] = (char)v, p[1] = (char)(v >> 8), p[2] = (char)(v >> 16), p[3] = (char)(v >> 24);
}

static void test_binary(void)
{
    const char *hdr =
        "{\"inputs\":[{\"name\":\"text_input\",\"datatype\":\"BYTES\",\"shape\":[2,1],"
        "\"parameters\":{\"binary_data_size\":15}}],"
        "\"parameters\":{\"binary_data_output\":true}}";
    size_t hl = strlen(hdr);
    char body[512];
    memcpy(body, hdr, hl);
    put32(body + hl, 3);
    memcpy(body + hl + 4, "abc", 3);
    put32(body + hl + 7, 4);
    memcpy(body + hl + 11, "defg", 4);
    t5_infer_req r;
    t5_err err = {0};
    t5_infer_limits l = lim();
    int rc = t5_infer_parse(&r, body, hl + 15, hl, &l, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_EQ_INT(r.rows, 2);
    CHECK(!strcmp(r.text[1], "defg"));
    CHECK_EQ_INT(r.binary & T5_OUT_TEXT, T5_OUT_TEXT);
    t5_infer_req_clear(&r);

    /* an element length that runs past the data */
    put32(body + hl + 7, 5);
    CHECK(t5_infer_parse(&r, body, hl + 15, hl, &l, &err) == T5_EINVAL);
    CHECK(strstr(err.msg, "claims") != NULL);
    /* binary_data_size larger than the body */
    CHECK(t5_infer_parse(&r, body, hl + 10, hl, &l, &err) == T5_EINVAL);
    /* header length beyond the body */
    CHECK(t5_infer_parse(&r, body, hl, hl + 1, &l, &err) == T5_EINVAL);
    /* unclaimed trailing bytes */
    put32(body + hl + 7, 4);
    body[hl + 15] = 'x';
    CHECK(t5_infer_parse(&r, body, hl + 16, hl, &l, &err) == T5_EINVAL);
    /* invalid UTF-8 in binary data */
    memcpy(body + hl + 11, "\xc3\x28gg", 4);
    CHECK(t5_infer_parse(&r, body, hl + 15, hl, &l, &err) == T5_EINVAL);
    CHECK(strstr(err.msg, "UTF-8") != NULL);
}

static void rejects(const char *body, int code, const char *want)
{
    t5_infer_req r;
    t5_err err = {0};
    int rc = parse(body, &r, &err);
    CHECK_MSG(rc == code, "rc %d for %s (%s)", rc, body, err.msg);
    CHECK_MSG(strstr(err.msg, want) != NULL, "'%s' lacks '%s'", err.msg, want);
}

#define IN(shape, data)                                                                            \
    "{\"inputs\":[{\"name\":\"text_input\",\"datatype\":\"BYTES\",\"shape\":" shape                \
    ",\"data\":" data "}]"

static void test_rejects(void)
{
    rejects("{\"inputs\":", T5_EINVAL, "malformed JSON");
    rejects("[]", T5_EINVAL, "JSON object");
    rejects("{}", T5_EINVAL, "'inputs'");
    rejects("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}]}",
            T5_EINVAL, "unexpected inference input 'x'");
    rejects(
        "{\"inputs\":[{\"name\":\"text_input\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
        T5_EINVAL, "expects 'BYTES'");
    rejects(IN("[2,1]", "[\"a\"]") "}", T5_EINVAL, "unexpected number of string elements");
    rejects(IN("[1,2]", "[\"a\",\"b\"]") "}", T5_EINVAL, "Expected [-1,1]");
    rejects(IN("[5,1]", "[\"a\",\"a\",\"a\",\"a\",\"a\"]") "}", T5_ELIMIT,
            "batch-size must be <= 4");
    rejects(IN("[1]", "[1]") "}", T5_EINVAL, "expected a string");
    rejects(IN("[1]", "[\"\xc3\x28\"]") "}", T5_EINVAL, "UTF-8");
    rejects(IN("[1]",
               "[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"]") "}",
            T5_ELIMIT, "longer than the limit");
    rejects(IN("[1]", "[\"a\"]") ",\"parameters\":{\"max_new_tokens\":1000}}", T5_EINVAL,
            "max_new_tokens");
    rejects(IN("[1]", "[\"a\"]") ",\"parameters\":{\"num_beams\":1.5}}", T5_EINVAL, "num_beams");
    rejects(IN("[1]", "[\"a\"]") ",\"parameters\":{\"do_sample\":1}}", T5_EINVAL, "boolean");
    rejects(IN("[1]", "[\"a\"]") ",\"parameters\":{\"priority\":3}}", T5_EINVAL, "priority");
    rejects(IN("[1]", "[\"a\"]") ",\"parameters\":{\"num_return_sequences\":2}}", T5_EINVAL,
            "num_return_sequences");
    rejects(IN("[1]", "[\"a\"]") ",\"outputs\":[{\"name\":\"logits\"}]}", T5_EINVAL,
            "unexpected inference output 'logits'");
    rejects(IN("[-1]", "[\"a\"]") "}", T5_EINVAL, "non-negative");
    rejects(IN("[0]", "[]") "}", T5_EINVAL, "empty batch");
}

static void test_generate(void)
{
    t5_infer_req r;
    t5_err err = {0};
    t5_infer_limits l = lim();
    const char *b = "{\"text_input\":\"helo\",\"max_new_tokens\":5,\"parameters\":{\"num_beams\":3,"
                    "\"return_scores\":true}}";
    int rc = t5_generate_parse(&r, b, strlen(b), &l, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_EQ_INT(r.rows, 1);
    CHECK_EQ_INT(r.gp.max_new_tokens, 5);
    CHECK_EQ_INT(r.gp.num_beams, 3);
    CHECK(r.outputs & T5_OUT_SCORE);
    r.res = calloc(1, sizeof *r.res);
    r.res[0].n_seqs = 1;
    r.res[0].seqs = calloc(1, sizeof(t5_infer_seq));
    r.res[0].seqs[0].text = strdup("hello");
    r.res[0].seqs[0].text_len = 5;
    r.res[0].seqs[0].score = -0.25f;
    t5_buf out = {0};
    CHECK_EQ_INT(t5_generate_render(&r, "m", "1", &out), 0);
    CHECK(strstr(out.p, "\"text_output\":\"hello\"") != NULL);
    CHECK(strstr(out.p, "\"sequence_score\":-0.25") != NULL);
    t5_buf_free(&out);
    t5_infer_req_clear(&r);
    CHECK(t5_generate_parse(&r, "{\"text_input\":5}", 16, &l, &err) == T5_EINVAL);
    CHECK(t5_generate_parse(&r, "{}", 2, &l, &err) == T5_EINVAL);
    CHECK(t5_generate_parse(&r, "{\"text_input\":[\"a\",[\"b\"]]}", 25, &l, &err) == T5_EINVAL);
}

static void test_utf8(void)
{
    CHECK(t5_utf8_valid("abc", 3));
    CHECK(t5_utf8_valid("\xc3\xa9", 2));
    CHECK(t5_utf8_valid("\xf0\x9f\x98\x80", 4));
    CHECK(!t5_utf8_valid("\xc3", 1));
    CHECK(!t5_utf8_valid("\xc0\xaf", 2));         /* overlong */
    CHECK(!t5_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!t5_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!t5_utf8_valid("\xff", 1));
}

int main(void)
{
    RUN(test_json_ok);
    RUN(test_binary);
    RUN(test_rejects);
    RUN(test_generate);
    RUN(test_utf8);
    return check_summary();
}
