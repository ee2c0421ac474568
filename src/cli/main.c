/* main.c - `t5serve SUBCOMMAND ...`: dispatch to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/cmds.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} cmds[] = {
    {"generate", t5_cmd_generate, "generate text from a model directory"},
    {"logits", t5_cmd_logits, "print last-position decoder logits (parity checks)"},
    {"tokenize", t5_cmd_tokenize, "encode (or --decode) lines on stdin"},
    {"serve", t5_cmd_serve, "run the Triton-compatible HTTP server"},
    {"bench", t5_cmd_bench, "load generator and engine benchmark"},
    {"random-model", t5_cmd_random_model, "write a random-weight HF checkpoint"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: t5serve COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-13s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\n`t5serve COMMAND --help` describes each command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "t5serve: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
