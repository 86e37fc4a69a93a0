/* tokenize_dump.c -- command-line driver of the C tokenizer for the parity check.
 *
 * tests/parity/check.js runs this program and the HF `tokenizers` library on the same
 * tokenizer.json and inputs, and compares the outputs line by line. Modes:
 *
 *   tokenize_dump TOKENIZER.json --encode CORPUS.jsonl [--plain]
 *       CORPUS lines are {"text": "..."}; prints one line per input:
 *       {"ids":[...],"decoded":"...","decoded_skip":"..."} (decode of the ids without and
 *       with skip_special), or {"error":"..."}. --plain encodes with parse_special = 0.
 *   tokenize_dump TOKENIZER.json --decode IDS.jsonl
 *       IDS lines are JSON arrays of ids; prints {"decoded":"...","decoded_skip":"..."}.
 *   tokenize_dump TOKENIZER.json --vocab
 *       prints {"vocab_size":N} then one ["token", id] line per id that has a string.
 *   tokenize_dump TOKENIZER.json --bench FILE [REPEAT]
 *       encodes FILE REPEAT times (default 5) and prints the throughput.
 *
 * It is a normal executable (not a CTest suite by itself); see tests/tokenizer.cmake.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "dllm/tokenizer.h"

static void put_json_string(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static int decode_both(const dllm_tokenizer *t, const int32_t *ids, size_t n, FILE *out)
{
    char err[512];
    for (int skip = 0; skip < 2; skip++) {
        char *text = NULL;
        size_t len = 0;
        dllm_status rc = dllm_tokenizer_decode(t, ids, n, skip, &text, &len, err, sizeof err);
        fputs(skip ? ",\"decoded_skip\":" : "\"decoded\":", out);
        if (rc != DLLM_OK) {
            fputs("null,\"error\":", out);
            put_json_string(out, err, strlen(err));
            return -1;
        }
        put_json_string(out, text, len);
        free(text);
    }
    return 0;
}

static int run_encode(const dllm_tokenizer *t, const char *path, int plain)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0;
    int status = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        lineno++;
        cJSON *j = cJSON_ParseWithLength(line, (size_t)got);
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
        if (!cJSON_IsString(text)) {
            fprintf(stderr, "%s:%ld: expected {\"text\": \"...\"}\n", path, lineno);
            cJSON_Delete(j);
            status = 2;
            break;
        }
        int32_t *ids = NULL;
        size_t n = 0;
        char err[512];
        dllm_status rc = dllm_tokenizer_encode(t, text->valuestring, strlen(text->valuestring),
                                               !plain, &ids, &n, err, sizeof err);
        if (rc != DLLM_OK) {
            fputs("{\"error\":", stdout);
            put_json_string(stdout, err, strlen(err));
            fputs("}\n", stdout);
        } else {
            fputs("{\"ids\":[", stdout);
            for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
            fputs("],", stdout);
            decode_both(t, ids, n, stdout);
            fputs("}\n", stdout);
        }
        free(ids);
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    return status;
}

static int run_decode(const dllm_tokenizer *t, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int status = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        if (strspn(line, " \t\r\n") == (size_t)got) continue; /* blank line */
        cJSON *j = cJSON_ParseWithLength(line, (size_t)got);
        int n = cJSON_IsArray(j) ? cJSON_GetArraySize(j) : -1;
        if (n < 0) {
            fprintf(stderr, "%s: expected a JSON array of ids per line\n", path);
            cJSON_Delete(j);
            status = 2;
            break;
        }
        int32_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
        int k = 0;
        for (const cJSON *e = j->child; e != NULL; e = e->next) ids[k++] = (int32_t)e->valueint;
        fputc('{', stdout);
        decode_both(t, ids, (size_t)n, stdout);
        fputs("}\n", stdout);
        free(ids);
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    return status;
}

static int run_vocab(const dllm_tokenizer *t)
{
    size_t v = dllm_tokenizer_vocab_size(t);
    printf("{\"vocab_size\":%zu}\n", v);
    for (size_t id = 0; id < v; id++) {
        const char *s = dllm_tokenizer_id_to_token(t, (int32_t)id);
        if (s == NULL) continue;
        fputc('[', stdout);
        put_json_string(stdout, s, strlen(s));
        printf(",%zu]\n", id);
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run_bench(const dllm_tokenizer *t, const char *path, int repeat)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (buf == NULL || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fprintf(stderr, "%s: read failed\n", path);
        fclose(f);
        free(buf);
        return 2;
    }
    fclose(f);
    size_t total_ids = 0;
    char err[512];
    double t0 = now_s();
    for (int r = 0; r < repeat; r++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (dllm_tokenizer_encode(t, buf, (size_t)sz, 1, &ids, &n, err, sizeof err) != DLLM_OK) {
            fprintf(stderr, "encode failed: %s\n", err);
            free(buf);
            return 1;
        }
        total_ids += n;
        free(ids);
    }
    double dt = now_s() - t0;
    printf("{\"bytes\":%ld,\"repeat\":%d,\"ids_per_pass\":%zu,\"seconds\":%.4f,"
           "\"MB_per_s\":%.2f}\n",
           sz, repeat, total_ids / (size_t)repeat, dt, (double)sz * repeat / dt / 1e6);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: %s TOKENIZER.json --encode CORPUS.jsonl [--plain]\n"
                "       %s TOKENIZER.json --decode IDS.jsonl\n"
                "       %s TOKENIZER.json --vocab\n"
                "       %s TOKENIZER.json --bench FILE [REPEAT]\n",
                argv[0], argv[0], argv[0], argv[0]);
        return 2;
    }
    dllm_tokenizer *t = NULL;
    char err[512];
    if (dllm_tokenizer_load(argv[1], &t, err, sizeof err) != DLLM_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int rc = 2;
    if (strcmp(argv[2], "--encode") == 0 && argc >= 4)
        rc = run_encode(t, argv[3], argc >= 5 && strcmp(argv[4], "--plain") == 0);
    else if (strcmp(argv[2], "--decode") == 0 && argc >= 4)
        rc = run_decode(t, argv[3]);
    else if (strcmp(argv[2], "--vocab") == 0)
        rc = run_vocab(t);
    else if (strcmp(argv[2], "--bench") == 0 && argc >= 4)
        rc = run_bench(t, argv[3], argc >= 5 ? atoi(argv[4]) : 5);
    else
        fprintf(stderr, "unknown mode %s\n", argv[2]);
    dllm_tokenizer_free(t);
    return rc;
}
