/* cmds.h - the subcommands of the t5serve binary (see DESIGN.md).
 * Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status. */
#ifndef T5_CLI_CMDS_H
#define T5_CLI_CMDS_H

int t5_cmd_generate(int argc, char **argv);
int t5_cmd_logits(int argc, char **argv);
int t5_cmd_tokenize(int argc, char **argv);
int t5_cmd_serve(int argc, char **argv);
int t5_cmd_bench(int argc, char **argv);
int t5_cmd_random_model(int argc, char **argv);
/* `bench --engine`: the in-process engine benchmark (cmd_bench_engine.c). */
int t5_cmd_bench_engine(int argc, char **argv);

#endif
