/* cli_inspect.c -- `dllm inspect`: a checkpoint's config and tensor table, no backend.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dllm inspect [--model DIR] [--json]\n"
               "\n"
               "  --model DIR   checkpoint directory (default: $DLLM_MODEL or the shipped model)\n"
               "  --json        print one JSON object\n"
               "  -h, --help    this help\n");
}

int cli_inspect(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model_flag = NULL;
    int json = 0, c;
    char dir[4096], err[1024];

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_flag = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            fprintf(stderr, "dllm inspect: unknown or incomplete option '%s'\n\n",
                    argv[optind - 1]);
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dllm inspect: unexpected argument '%s'\n\n", argv[optind]);
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli_resolve_model(model_flag, dir, sizeof dir)) return CLI_FAIL;
    if (dllm_inspect(dir, json, stdout, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm inspect: %s\n", err);
        return CLI_FAIL;
    }
    return CLI_OK;
}
