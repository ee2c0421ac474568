/* tok_weak.c - weak stand-ins for the two tokenizer entry points the model
 * loader calls, so the engine tests link while src/tokenizer is being
 * written. The real definitions win whenever they are linked in; the engine
 * tests never need a tokenizer. */
#include "t5_tokenizer.h"

__attribute__((weak)) int t5_tokenizer_load_dir(t5_tokenizer **out, const char *dir,
                                                 t5_err *err)
{
    (void)dir;
    *out = NULL;
    return t5_errf(err, T5_ENOTFOUND, "no tokenizer in this build");
}

__attribute__((weak)) void t5_tokenizer_free(t5_tokenizer *tok)
{
    (void)tok;
}
