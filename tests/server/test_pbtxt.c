/* test_pbtxt.c - config.pbtxt parsing: Triton's syntax variants, the fields
 * t5serve maps, and clear errors for bad files. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "server/model_config.h"
#include "server/pbtxt.h"

static const char *full =
    "# a comment\n"
    "name: \"speller\"\n"
    "backend: \"t5serve\"\n"
    "max_batch_size: 16\n"
    "input [ { name: \"text_input\" data_type: TYPE_STRING dims: [ 1 ] } ]\n"
    "output [\n  { name: \"text_output\", data_type: TYPE_STRING, dims: [ -1 ] },\n"
    "  { name: \"sequence_score\" data_type: TYPE_FP32 dims: [ -1 ] }\n]\n"
    "dynamic_batching {\n  preferred_batch_size: [ 4, 8 ]\n  max_queue_delay_microseconds: 500\n"
    "  priority_levels: 2\n  default_priority_level: 2\n"
    "  default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 100000\n"
    "    allow_timeout_override: true max_queue_size: 64 }\n"
    "  priority_queue_policy { key: 1 value: { max_queue_size: 4 default_timeout_microseconds: 9 } "
    "}\n}\n"
    "instance_group [ { count: 2 kind: KIND_CPU }, { count: 1 kind: KIND_GPU gpus: [ 0, 1 ] } ]\n"
    "parameters { key: \"max_new_tokens\" value: { string_value: \"32\" } }\n"
    "parameters: { key: \"num_beams\" value: { string_value: \"2\" } }\n"
    "response_cache { enable: true }\n"
    "optimization { cuda { graphs: true } }\n";

static void test_full(void)
{
    t5_mcfg c;
    t5_err err = {0};
    int rc = t5_mcfg_parse(full, strlen(full), "speller", &c, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(!strcmp(c.name, "speller"));
    CHECK(!strcmp(c.backend, "t5serve"));
    CHECK_EQ_INT(c.max_batch_size, 16);
    CHECK_EQ_INT(c.n_input, 1);
    CHECK_EQ_INT(c.n_output, 2);
    CHECK(!strcmp(c.output[1].name, "sequence_score"));
    CHECK_EQ_INT(c.output[0].dims[0], -1);
    CHECK(c.dynamic_batching && c.sched.dynamic);
    CHECK_EQ_INT(c.sched.n_preferred, 2);
    CHECK_EQ_INT(c.sched.preferred[1], 8);
    CHECK_EQ_INT(c.sched.max_queue_delay_us, 500);
    CHECK_EQ_INT(c.sched.priority_levels, 2);
    CHECK_EQ_INT(c.sched.default_priority_level, 2);
    CHECK_EQ_INT(c.sched.policy.timeout_action, T5_TIMEOUT_DELAY);
    CHECK_EQ_INT(c.sched.policy.default_timeout_us, 100000);
    CHECK_EQ_INT(c.sched.policy.allow_timeout_override, 1);
    CHECK_EQ_INT(c.sched.policy.max_queue_size, 64);
    CHECK_EQ_INT(c.sched.level_policy_set, 1);
    CHECK_EQ_INT(c.sched.level_policy[0].max_queue_size, 4);
    CHECK_EQ_INT(c.sched.level_policy[0].default_timeout_us, 9);
    CHECK_EQ_INT(c.sched.level_policy[0].timeout_action, T5_TIMEOUT_REJECT);
    CHECK_EQ_INT(c.n_group, 2);
    CHECK_EQ_INT(c.group[0].count, 2);
    CHECK_EQ_INT(c.group[1].kind, T5_KIND_GPU);
    CHECK_EQ_INT(c.group[1].n_gpus, 2);
    CHECK_EQ_INT(t5_mcfg_instances(&c), 4);
    CHECK_EQ_INT(c.gen.max_new_tokens, 32);
    CHECK_EQ_INT(c.gen.num_beams, 2);
    CHECK_EQ_INT(c.response_cache, 1);
    cJSON *j = t5_mcfg_to_json(&c);
    char *s = cJSON_PrintUnformatted(j);
    CHECK(strstr(s, "\"max_batch_size\":16") != NULL);
    CHECK(strstr(s, "\"max_new_tokens\":{\"string_value\":\"32\"}") != NULL);
    CHECK(strstr(s, "\"timeout_action\":\"DELAY\"") != NULL);
    CHECK(strstr(s, "\"priority_queue_policy\":{\"1\":{") != NULL);
    free(s);
    cJSON_Delete(j);
}

static void test_syntax(void)
{
    pb_node *r;
    t5_err err = {0};
    const char *t = "a: 'x\\n\\x41\\101' \"y\"; b < c: -1.5e-3 > d: [] e { }";
    CHECK_EQ_INT(pb_parse(t, strlen(t), &r, &err), 0);
    const pb_node *a = pb_child(r, "a", 0);
    CHECK(a && a->is_string && !strcmp(a->value, "x\nAAy"));
    const pb_node *c = pb_child(pb_child(r, "b", 0), "c", 0);
    double v = 0;
    CHECK(c && pb_double(c, &v, &err) == 0 && v == -1.5e-3);
    CHECK_EQ_INT(pb_count(r, "d"), 0);
    CHECK(pb_child(r, "e", 0) && pb_child(r, "e", 0)->kind == PB_MESSAGE);
    pb_free(r);
}

static void bad(const char *text, const char *want)
{
    t5_mcfg c;
    t5_err err = {0};
    int rc = t5_mcfg_parse(text, strlen(text), "m", &c, &err);
    CHECK_MSG(rc < 0, "accepted: %s", text);
    CHECK_MSG(strstr(err.msg, want) != NULL, "'%s' lacks '%s'", err.msg, want);
}

static void test_errors(void)
{
    bad("max_batch_size: 8\nname: \"m\"\ninput [ { name: \"x\" ", "line 3");
    bad("name: \"other\"", "does not match");
    bad("max_batch_size: -3", "out of range");
    bad("max_batch_size: abc", "not an integer");
    bad("name: \"m", "unterminated string");
    bad("backend: \"python\"", "not supported");
    bad("dynamic_batching { }", "max_batch_size > 0");
    bad("max_batch_size: 4 dynamic_batching { preferred_batch_size: 8 }", "exceeds max_batch_size");
    bad("instance_group [ { kind: KIND_TPU } ]", "KIND_CPU");
    bad("parameters { key: \"max_new_tokens\" value: { string_value: \"lots\" } }",
        "max_new_tokens");
    bad("input [ { name: \"input_ids\" data_type: TYPE_INT32 dims: [ -1 ] } ]", "not supported");
    bad("parameters { key: \"word_chars\" value: { string_value: \"ab c\" } }", "white space");
    bad("parameters { key: \"lowercase_input\" value: { string_value: \"yes\" } }",
        "lowercase_input");
    bad("parameters { key: \"keep_words\" value: { string_value: \"../brands.txt\" } }",
        "keep_words");
    bad("max_batch_size: 4 dynamic_batching { priority_queue_policy { key: 3 value: { } } }",
        "but priority_levels is");
    bad("max_batch_size: 4 dynamic_batching { default_queue_policy { timeout_action: DROP } }",
        "REJECT or DELAY");
    bad("a { b { c { d { e { f { g { h { i { j { k { l { m { n { o { p { q { r { s { t { u { v { "
        "w { x { y { z { a { b { c { d { e { f { g { h { } } } } } } } } } } } } } } } } } } } } "
        "} } } } } } } } } } } } }",
        "too deep");
    /* A NUL byte or truncated input anywhere is an error, never a crash. */
    const char nul[] = "name: \"m\0\"";
    t5_mcfg c;
    t5_err err = {0};
    CHECK(t5_mcfg_parse(nul, sizeof nul - 1, "m", &c, &err) < 0);
}

static void test_defaults(void)
{
    t5_mcfg c;
    t5_mcfg_default(&c, "x");
    CHECK_EQ_INT(c.max_batch_size, 8);
    CHECK(c.dynamic_batching);
    CHECK_EQ_INT(c.n_input, 1);
    CHECK_EQ_INT(c.n_output, 3);
    t5_err err = {0};
    CHECK_EQ_INT(t5_mcfg_parse("", 0, "x", &c, &err), 0);
    CHECK_EQ_INT(c.max_batch_size, 0);
    CHECK(!c.dynamic_batching);
    CHECK(!c.lowercase_input && !c.word_chars[0]); /* a model's text passes untouched */
    const char *wm = "parameters { key: \"lowercase_input\" value: { string_value: \"true\" } }\n"
                     "parameters { key: \"word_chars\" value: { string_value: \"abc'\" } }";
    CHECK_EQ_INT(t5_mcfg_parse(wm, strlen(wm), "x", &c, &err), 0);
    CHECK(c.lowercase_input && !strcmp(c.word_chars, "abc'"));
}

int main(void)
{
    RUN(test_full);
    RUN(test_syntax);
    RUN(test_errors);
    RUN(test_defaults);
    return check_summary();
}
