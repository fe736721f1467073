/*
 * fuzz_wordpiece.c - libFuzzer target for the WordPiece tokenizer: any
 * vocabulary file must load or fail cleanly, and any text must encode
 * (single, pair, with truncation and padding) and decode.
 *
 * Input layout: byte 0 picks the mode, byte 1 the encode options, the
 * rest is split at the first "\0\0":
 *   mode & 3 == 0, 1: text only, with the real BERT vocabulary (0) or
 *                     the 1000-token one (1), loaded once from tests/data
 *                     (run from the repository root);
 *   mode & 3 == 2:    part one is a vocab.txt, part two the text;
 *   mode & 3 == 3:    part one is a tokenizer.json, part two the text.
 * A tab in the text separates a sentence pair.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t5e.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static t5e_tokenizer *fixed[2];

static t5e_tokenizer *fixed_tokenizer(int which) {
    static const char *const paths[] = {
        "tests/data/tokenizers/electra/vocab.txt",
        "tests/data/tokenizers/electra/small_vocab.txt",
    };
    if (!fixed[which]) {
        t5e_err err = {0};
        if (t5e_tokenizer_load(paths[which], &fixed[which], &err)) {
            fprintf(stderr, "fuzz_wordpiece: %s (run from the repo root)\n",
                    err.msg);
            abort();
        }
    }
    return fixed[which];
}

/* Writes the fuzzed tokenizer file; returns its path. */
static const char *write_tokenizer(const uint8_t *d, size_t n, int json) {
    static char dir[64], path[128];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_wp_%d", (int)getpid());
        mkdir(dir, 0700);
    }
    snprintf(path, sizeof path, "%s/%s", dir,
             json ? "tokenizer.json" : "vocab.txt");
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    fwrite(d, 1, n, f);
    fclose(f);
    return path;
}

static void run_text(t5e_tokenizer *tok, const char *text, size_t n,
                     uint8_t flags) {
    t5e_encode_options o;
    t5e_encode_options_default(&o);
    o.add_special_tokens = !(flags & 1);
    o.max_length = (flags >> 1) & 7;
    o.pad_to = (flags >> 4) & 7;
    const char *tab = memchr(text, '\t', n);
    size_t na = tab ? (size_t)(tab - text) : n;
    t5e_encoding e;
    t5e_err err = {0};
    if (t5e_tokenizer_encode(tok, text, (long)na, tab ? tab + 1 : NULL,
                             tab ? (long)(n - na - 1) : 0, &o, &e, &err))
        return;
    for (int skip = 0; skip < 2; skip++) {
        char *s = NULL;
        if (t5e_tokenizer_decode(tok, e.ids, e.n, skip, &s, &err) == T5E_OK)
            free(s);
    }
    t5e_encoding_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    uint8_t mode = data[0], flags = data[1];
    data += 2;
    size -= 2;
    if ((mode & 3) < 2) {
        run_text(fixed_tokenizer(mode & 1), (const char *)data, size, flags);
        return 0;
    }
    size_t cut = 0;
    while (cut + 1 < size && !(data[cut] == 0 && data[cut + 1] == 0))
        cut++;
    if (cut + 1 >= size)
        cut = size;
    const char *path = write_tokenizer(data, cut, (mode & 3) == 3);
    t5e_tokenizer *tok = NULL;
    t5e_err err = {0};
    if (!path || t5e_tokenizer_load(path, &tok, &err))
        return 0;
    size_t skip = cut + 2 < size ? cut + 2 : size;
    run_text(tok, (const char *)data + skip, size - skip, flags);
    (void)t5e_tokenizer_vocab_size(tok);
    (void)t5e_tokenizer_id_to_piece(tok, 3);
    t5e_tokenizer_free(tok);
    return 0;
}
