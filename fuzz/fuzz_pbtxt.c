/* fuzz_pbtxt.c - libFuzzer target for config.pbtxt: the protobuf text-format
 * parser and the mapping onto t5_mcfg. Accepted configs must satisfy the
 * invariants the scheduler and executor rely on; rejected ones must carry a
 * message. Seeds: fuzz/corpus/fuzz_pbtxt.
 */
#include <stdint.h>
#include <stdlib.h>

#include "server/model_config.h"
#include "server/pbtxt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_node *root;
    t5_err err = {0};
    if (pb_parse((const char *)data, size, &root, &err) == 0)
        pb_free(root);
    else if (!err.msg[0])
        abort();
    static t5_mcfg c;
    err.msg[0] = '\0';
    if (t5_mcfg_parse((const char *)data, size, "m", &c, &err) == 0) {
        const t5_sched_config *s = &c.sched;
        if (c.max_batch_size < 0 || s->n_preferred > T5_SCHED_MAX_PREFERRED ||
            s->priority_levels < 1 || s->priority_levels > T5_SCHED_MAX_LEVELS ||
            s->default_priority_level < 1 || s->default_priority_level > s->priority_levels ||
            (s->dynamic && c.max_batch_size < 1) || t5_mcfg_instances(&c) < 1 ||
            c.n_input > T5_MCFG_MAX_IO || c.n_output > T5_MCFG_MAX_IO ||
            c.n_group > T5_MCFG_MAX_GROUPS || c.max_input_tokens < 1 || c.max_output_tokens < 1 ||
            c.gen.max_new_tokens > c.max_output_tokens)
            abort();
        for (int i = 0; i < s->n_preferred; i++)
            if (s->preferred[i] < 1 || s->preferred[i] > c.max_batch_size)
                abort();
        cJSON_Delete(t5_mcfg_to_json(&c));
    } else if (!err.msg[0]) {
        abort();
    }
    return 0;
}
