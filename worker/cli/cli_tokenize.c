/* cli_tokenize.c -- `dllm tokenize`: token ids of a text; needs only tokenizer.json.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dllm tokenize (--tokenizer FILE | --model DIR) --text TEXT [options]\n"
               "\n"
               "  --tokenizer FILE  a tokenizer.json\n"
               "  --model DIR       a checkpoint directory (its tokenizer.json); default: the\n"
               "                    shipped model\n"
               "  --text TEXT       the text to encode (UTF-8)\n"
               "  --chat            wrap the text in the LLaDA-Instruct chat template\n"
               "  --system TEXT     system message for --chat\n"
               "  --no-special      treat special-token strings in the text as plain text\n"
               "  --json            print {\"ids\": [...], \"count\": n}\n"
               "  -h, --help        this help\n");
}

int cli_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {{"tokenizer", required_argument, 0, 't'},
                                         {"model", required_argument, 0, 'm'},
                                         {"text", required_argument, 0, 'x'},
                                         {"chat", no_argument, 0, 'c'},
                                         {"system", required_argument, 0, 's'},
                                         {"no-special", no_argument, 0, 'n'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *tok_path = NULL, *model_flag = NULL, *text = NULL, *system = NULL;
    int chat = 0, no_special = 0, json = 0, c, ret = CLI_FAIL;
    char path[4200], dir[4096], err[1024];
    dllm_tokenizer *tk = NULL;
    int32_t *ids = NULL;
    size_t n = 0;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't': tok_path = optarg; break;
        case 'm': model_flag = optarg; break;
        case 'x': text = optarg; break;
        case 'c': chat = 1; break;
        case 's': system = optarg; break;
        case 'n': no_special = 1; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            fprintf(stderr, "dllm tokenize: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            goto usage_err;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dllm tokenize: unexpected argument '%s'\n", argv[optind]);
        goto usage_err;
    }
    if (text == NULL) {
        fprintf(stderr, "dllm tokenize: --text is required\n");
        goto usage_err;
    }
    if (tok_path != NULL && model_flag != NULL) {
        fprintf(stderr, "dllm tokenize: give --tokenizer or --model, not both\n");
        goto usage_err;
    }
    if (system != NULL && !chat) {
        fprintf(stderr, "dllm tokenize: --system needs --chat\n");
        goto usage_err;
    }
    if (tok_path == NULL) {
        if (cli_resolve_model(model_flag, dir, sizeof dir)) goto out;
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        tok_path = path;
    }
    if (dllm_tokenizer_load(tok_path, &tk, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "dllm tokenize: %s\n", err);
        goto out;
    }
    dllm_status rc;
    if (chat)
        rc = dllm_tokenizer_apply_chat(tk, system, text, &ids, &n, err, sizeof err);
    else
        rc = dllm_tokenizer_encode(tk, text, strlen(text), !no_special, &ids, &n, err, sizeof err);
    if (rc != DLLM_OK) {
        fprintf(stderr, "dllm tokenize: %s\n", err);
        goto out;
    }
    if (json) {
        cJSON *root = cJSON_CreateObject(), *a = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
        cJSON_AddItemToObject(root, "ids", a);
        cJSON_AddNumberToObject(root, "count", (double)n);
        char *s = cJSON_PrintUnformatted(root);
        if (s) puts(s);
        free(s);
        cJSON_Delete(root);
    } else {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
        putchar('\n');
    }
    ret = CLI_OK;
    goto out;
usage_err:
    fputc('\n', stderr);
    usage(stderr);
    ret = CLI_USAGE;
out:
    free(ids);
    dllm_tokenizer_free(tk);
    return ret;
}
