/* bench_engine_main.c - t5bench_engine: the engine benchmark of
 * src/cli/cmd_bench_engine.c as its own program, so it runs before (and
 * independently of) `t5serve bench --engine` being wired up. */
#include "cli/cmds.h"

int main(int argc, char **argv)
{
    return t5_cmd_bench_engine(argc, argv);
}
