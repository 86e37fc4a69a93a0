/* main.c -- entry point of the `dllm` command-line tool: dispatches to a subcommand.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dllm <command> [options]\n"
            "\n"
            "commands:\n"
            "  generate   generate text for one prompt with a LLaDA model\n"
            "  tokenize   print the token ids of a text (needs only tokenizer.json)\n"
            "  inspect    print a checkpoint's config and tensor table\n"
            "  eval       accuracy on a task file (ops/tasks) through the engine\n"
            "  bench      cost of a setting, cached against uncached (analytic or timed)\n"
#ifdef DLLM_HAVE_WORKER
            "  submit     send requests to dllm-worker over Kafka and print the replies\n"
            "  loadgen    load a worker with N requests; throughput, latency, lost replies\n"
#endif
            "  batch      offline generation: JSONL requests in, JSONL results out\n"
            "\n"
            "Run 'dllm <command> --help' for the options of a command.\n"
            "Version " DLLM_VERSION_STRING ".\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("dllm %s\n", DLLM_VERSION_STRING);
        return CLI_OK;
    }
    if (strcmp(cmd, "generate") == 0) return cli_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "tokenize") == 0) return cli_tokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "inspect") == 0) return cli_inspect(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0) return cli_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return cli_bench(argc - 1, argv + 1);
#ifdef DLLM_HAVE_WORKER
    if (strcmp(cmd, "submit") == 0) return cli_submit(argc - 1, argv + 1);
    if (strcmp(cmd, "loadgen") == 0) return cli_loadgen(argc - 1, argv + 1);
#endif
    if (strcmp(cmd, "batch") == 0) return cli_batch(argc - 1, argv + 1);
    fprintf(stderr, "dllm: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
