/*
 * fuzz_spm_model.c - libFuzzer target: arbitrary bytes as a serialized
 * sentencepiece ModelProto.  Loading must fail cleanly or give a model
 * that encodes and decodes without memory errors.
 *
 * Seeds: the .model files of tests/data/tokenizers/t5 (run from the repo
 * root).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/spm.h"

static const char *const texts[] = {
    "Hello world", "  a  b\tc\n", "\xef\xbd\x86\xef\xac\x81 \xe2\x91\xa0",
    "x\xff\xc3", "<0x41>", "", "!!!!!!", "\xe2\x96\x81\xe2\x96\x81 a"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    spm_model m;
    t5e_err err;
    if (spm_model_from_proto(&m, data, size, "fuzz.model", &err))
        return 0;
    spm_work w = {0};
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
        for (int dummy = 0; dummy < 2; dummy++) {
            if (spm_encode(&m, texts[t], strlen(texts[t]), dummy, 0, &w,
                           &err))
                continue;
            const char **p = malloc((w.n_tok + 1) * sizeof *p);
            size_t *len = malloc((w.n_tok + 1) * sizeof *len);
            for (size_t i = 0; i < w.n_tok; i++)
                p[i] = spm_token_text(&m, &w, &w.tok[i], &len[i]);
            spm_str out = {0};
            spm_decode_pieces(&m, p, len, (int)w.n_tok, &out, &err);
            free(out.s);
            free(p);
            free(len);
        }
    }
    spm_work_free(&w);
    spm_model_free(&m);
    return 0;
}
