/*
 * bench_wordpiece.c - WordPiece encoding throughput.
 *
 * usage: bench_wordpiece FILE [VOCAB_OR_DIR] [RUNS]
 * Encodes every line of FILE (with [CLS] / [SEP]) once to warm up, then
 * RUNS times (default 7, at least 5) and prints the median, min and max
 * MB/s (MB = 1e6 bytes of FILE) and the ids per second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

/* One pass over the lines; returns the number of ids produced. */
static long encode_all(const t5e_tokenizer *tok, char *text, size_t len) {
    long ids = 0;
    size_t i = 0;
    while (i < len) {
        char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - text) - i : len - i;
        t5e_encoding e;
        t5e_err err = {0};
        if (t5e_tokenizer_encode(tok, text + i, (long)n, NULL, 0, NULL, &e,
                                 &err)) {
            fprintf(stderr, "bench_wordpiece: %s\n", err.msg);
            exit(1);
        }
        ids += e.n;
        t5e_encoding_free(&e);
        i += n + 1;
    }
    return ids;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_wordpiece FILE [VOCAB_OR_DIR] "
                "[RUNS]\n");
        return 2;
    }
    const char *vocab = argc > 2 ? argv[2]
                                 : "tests/data/tokenizers/electra/vocab.txt";
    int runs = argc > 3 ? atoi(argv[3]) : 7;
    if (runs < 5)
        runs = 5;
    t5e_err err = {0};
    char *text;
    size_t len;
    t5e_tokenizer *tok;
    if (file_read_all(argv[1], &text, &len, &err) ||
        t5e_tokenizer_load(vocab, &tok, &err)) {
        fprintf(stderr, "bench_wordpiece: %s\n", err.msg);
        return 1;
    }
    long ids = encode_all(tok, text, len);  /* warm-up */
    double *mbs = malloc((size_t)runs * sizeof *mbs);
    for (int r = 0; r < runs; r++) {
        double t0 = time_now();
        encode_all(tok, text, len);
        mbs[r] = (double)len / 1e6 / (time_now() - t0);
    }
    bench_stats s = bench_summarize(mbs, runs);
    printf("wordpiece %s: %.2f MB, %ld ids; median %.1f MB/s "
           "(min %.1f, max %.1f, %d runs); %.2f M ids/s\n", argv[1],
           (double)len / 1e6, ids, s.median, s.min, s.max, runs,
           s.median * 1e6 / (double)len * (double)ids / 1e6);
    free(mbs);
    free(text);
    t5e_tokenizer_free(tok);
    return 0;
}
