/* cmd_stubs.c - placeholders for subcommands not written yet. Each owner
 * deletes its stub from here when its cmd_*.c file lands. */
#include <stdio.h>

#include "cli/cmds.h"

#define STUB(fn, name)                                                                             \
    int fn(int argc, char **argv)                                                                  \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        fprintf(stderr, "t5serve %s: not implemented yet\n", name);                                \
        return 2;                                                                                  \
    }
