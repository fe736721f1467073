/*
 * fuzz_spm_encode.c - libFuzzer target: arbitrary bytes as text for the T5
 * tokenizer (spiece.model, loaded once from tests/data; run from the repo
 * root).  The first byte picks the options (legacy, </s>, max_length,
 * padding); the rest is the text.  Every encoding is decoded back, with
 * and without skipping special tokens.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "t5e.h"

static t5e_tokenizer *tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    t5e_err err;
    if (!tok && t5e_tokenizer_load("tests/data/tokenizers/t5/spiece.model",
                                   &tok, &err)) {
        fprintf(stderr, "fuzz: %s (run from the repo root)\n", err.msg);
        abort();
    }
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    t5e_encode_options opt;
    t5e_encode_options_default(&opt);
    opt.legacy = flags & 1;
    opt.add_special_tokens = (flags >> 1) & 1;
    opt.max_length = (flags >> 2) & 1 ? (flags >> 4) : 0;
    opt.pad_to = (flags >> 3) & 1 ? (flags >> 4) + 3 : 0;
    t5e_encoding e;
    if (t5e_tokenizer_encode(tok, (const char *)data + 1, (long)size - 1,
                             NULL, 0, &opt, &e, &err))
        abort(); /* encoding text never fails (no allocation fails here) */
    for (int skip = 0; skip < 2; skip++) {
        char *s = NULL;
        if (t5e_tokenizer_decode(tok, e.ids, e.n, skip, &s, &err))
            abort();
        free(s);
    }
    t5e_encoding_free(&e);
    return 0;
}
