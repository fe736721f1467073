/*
 * test_wordpiece.c - the WordPiece tokenizer against the reference's
 * outputs (tests/data/tokenizers/electra/cases.json, transformers 4.36.2
 * ElectraTokenizer), the same through a tokenizer.json built here, the
 * ELECTRA model folders' golden inputs, and the edge cases: vocabulary
 * file quirks, invalid UTF-8, NUL bytes, huge lines, options.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "harness.h"

#define ELECTRA_DIR "tokenizers/electra"

static const char *const vocab_keys[] = {"bert_uncased_vocab",
                                         "small_vocab"};
static const char *const vocab_files[] = {"vocab.txt", "small_vocab.txt"};

static cJSON *cases_root;

static cJSON *load_json(const char *rel) {
    char *text;
    size_t len;
    t5e_err err = {0};
    if (file_read_all(data_path(rel), &text, &len, &err)) {
        fprintf(stderr, "cannot read %s: %s\n", rel, err.msg);
        exit(2);
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) {
        fprintf(stderr, "%s: bad JSON\n", rel);
        exit(2);
    }
    return root;
}

/* Bytes of a hex string (malloc'd, NUL-terminated); *n gets the count. */
static char *from_hex(const char *hex, long *n) {
    size_t len = strlen(hex) / 2;
    char *out = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[len] = '\0';
    *n = (long)len;
    return out;
}

static int32_t *json_ints(const cJSON *a, int *n) {
    *n = cJSON_GetArraySize(a);
    int32_t *v = malloc(((size_t)*n + 1) * sizeof *v);
    for (int i = 0; i < *n; i++)
        v[i] = cJSON_GetArrayItem(a, i)->valueint;
    return v;
}

/* Compares an int array of the encoding with a JSON array. */
static int same_ints(const char *what, const int32_t *got, int n,
                     const cJSON *want) {
    int m;
    int32_t *w = json_ints(want, &m);
    int ok = n == m;
    if (!ok)
        fprintf(stderr, "  %s: %d values, want %d\n", what, n, m);
    else
        ok = check_ids(what, got, w, n);
    free(w);
    return ok;
}

static t5e_tokenizer *open_tok(const char *path) {
    t5e_tokenizer *tok = NULL;
    t5e_err err = {0};
    if (t5e_tokenizer_load(path, &tok, &err)) {
        fprintf(stderr, "  cannot load %s: %s\n", path, err.msg);
        return NULL;
    }
    return tok;
}

/* The tokens of one case: pieces between [CLS] and [SEP]. */
static int same_tokens(const t5e_encoding *e, const cJSON *want) {
    int n = cJSON_GetArraySize(want);
    if (e->n != n + 2) {
        fprintf(stderr, "  tokens: %d, want %d\n", e->n - 2, n);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        const char *w = cJSON_GetArrayItem(want, i)->valuestring;
        if (strcmp(e->pieces[i + 1], w)) {
            fprintf(stderr, "  token %d: \"%s\", want \"%s\"\n", i,
                    e->pieces[i + 1], w);
            return 0;
        }
    }
    return 1;
}

/* Every case of cases.json for vocabulary v; `full` also checks pieces
 * and decoding (the tokenizer.json run checks ids only). */
static void check_cases(t5e_tokenizer *tok, int v, int full) {
    const cJSON *c;
    int i = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(cases_root, "cases")) {
        long len;
        char *text = from_hex(cJSON_GetObjectItem(c, "text_utf8_hex")
                                  ->valuestring, &len);
        const cJSON *r = cJSON_GetObjectItem(
            cJSON_GetObjectItem(c, "results"), vocab_keys[v]);
        t5e_encoding e;
        t5e_err err = {0};
        CHECK_OK(t5e_tokenizer_encode(tok, text, len, NULL, 0, NULL, &e,
                                      &err), &err);
        int ok = same_ints("input_ids", e.ids, e.n,
                           cJSON_GetObjectItem(r, "input_ids")) &&
                 same_ints("token_type_ids", e.type_ids, e.n,
                           cJSON_GetObjectItem(r, "token_type_ids"));
        if (ok && full) {
            ok = same_tokens(&e, cJSON_GetObjectItem(r, "tokens"));
            char *dec = NULL;
            CHECK_OK(t5e_tokenizer_decode(tok, e.ids, e.n, 0, &dec, &err),
                     &err);
            const char *want = cJSON_GetObjectItem(r, "decoded")->valuestring;
            if (ok && (!dec || strcmp(dec, want))) {
                fprintf(stderr, "  decoded \"%s\", want \"%s\"\n", dec, want);
                ok = 0;
            }
            free(dec);
        }
        CHECK(ok, "%s case %d: %s", vocab_keys[v], i, text);
        t5e_encoding_free(&e);
        free(text);
        i++;
    }
}

static void check_pairs(t5e_tokenizer *tok, int v) {
    const cJSON *p;
    int i = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(cases_root, "pairs")) {
        long la, lb;
        char *a = from_hex(cJSON_GetObjectItem(p, "text_a_utf8_hex")
                               ->valuestring, &la);
        char *b = from_hex(cJSON_GetObjectItem(p, "text_b_utf8_hex")
                               ->valuestring, &lb);
        const cJSON *r = cJSON_GetObjectItem(
            cJSON_GetObjectItem(p, "results"), vocab_keys[v]);
        t5e_encoding e;
        t5e_err err = {0};
        CHECK_OK(t5e_tokenizer_encode(tok, a, la, b, lb, NULL, &e, &err),
                 &err);
        int ok = same_ints("input_ids", e.ids, e.n,
                           cJSON_GetObjectItem(r, "input_ids")) &&
                 same_ints("token_type_ids", e.type_ids, e.n,
                           cJSON_GetObjectItem(r, "token_type_ids")) &&
                 same_ints("attention_mask", e.attention_mask, e.n,
                           cJSON_GetObjectItem(r, "attention_mask"));
        CHECK(ok, "%s pair %d: \"%s\" / \"%s\"", vocab_keys[v], i, a, b);
        t5e_encoding_free(&e);
        free(a);
        free(b);
        i++;
    }
}

static void test_cases_vocab_txt(void) {
    for (int v = 0; v < 2; v++) {
        char rel[256];
        snprintf(rel, sizeof rel, "%s/%s", ELECTRA_DIR, vocab_files[v]);
        t5e_tokenizer *tok = open_tok(data_path(rel));
        CHECK(tok != NULL, "%s", rel);
        if (!tok)
            continue;
        const cJSON *info = cJSON_GetObjectItem(
            cJSON_GetObjectItem(cases_root, "tokenizers"), vocab_keys[v]);
        t5e_special_ids sp = t5e_tokenizer_special_ids(tok);
        CHECK(sp.pad == cJSON_GetObjectItem(info, "pad_id")->valueint &&
              sp.unk == cJSON_GetObjectItem(info, "unk_id")->valueint &&
              sp.cls == cJSON_GetObjectItem(info, "cls_id")->valueint &&
              sp.sep == cJSON_GetObjectItem(info, "sep_id")->valueint &&
              sp.mask == cJSON_GetObjectItem(info, "mask_id")->valueint,
              "special ids %d %d %d %d %d", sp.pad, sp.unk, sp.cls, sp.sep,
              sp.mask);
        CHECK(t5e_tokenizer_vocab_size(tok) ==
                  cJSON_GetObjectItem(info, "vocab_size")->valueint,
              "vocab size %d", t5e_tokenizer_vocab_size(tok));
        CHECK(t5e_tokenizer_get_kind(tok) == T5E_TOKENIZER_WORDPIECE,
              "kind");
        check_cases(tok, v, 1);
        check_pairs(tok, v);
        t5e_tokenizer_free(tok);
    }
}

/* ------------------------------------------------------------------ */
/* tokenizer.json                                                      */
/* ------------------------------------------------------------------ */

static void add_special_json(cJSON *added, const char *name, int id) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddNumberToObject(t, "id", id);
    cJSON_AddStringToObject(t, "content", name);
    cJSON_AddBoolToObject(t, "single_word", 0);
    cJSON_AddBoolToObject(t, "lstrip", 0);
    cJSON_AddBoolToObject(t, "rstrip", 0);
    cJSON_AddBoolToObject(t, "normalized", 0);
    cJSON_AddBoolToObject(t, "special", 1);
    cJSON_AddItemToArray(added, t);
}

/* Writes dir/tokenizer.json holding the vocabulary of vocab_path. */
static int write_tokenizer_json(const char *vocab_path, const char *dir) {
    char *text;
    size_t len;
    t5e_err err = {0};
    if (file_read_all(vocab_path, &text, &len, &err))
        return 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "WordPiece");
    cJSON_AddStringToObject(model, "unk_token", "[UNK]");
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "##");
    cJSON_AddNumberToObject(model, "max_input_chars_per_word", 100);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    int id = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON_AddNumberToObject(vocab, line, id);
        if (line[0] == '[' && strlen(line) <= 6 && strchr(line, ']'))
            add_special_json(added, line, id);
        id++;
    }
    free(text);
    cJSON *norm = cJSON_AddObjectToObject(root, "normalizer");
    cJSON_AddStringToObject(norm, "type", "BertNormalizer");
    cJSON_AddBoolToObject(norm, "clean_text", 1);
    cJSON_AddBoolToObject(norm, "handle_chinese_chars", 1);
    cJSON_AddNullToObject(norm, "strip_accents");
    cJSON_AddBoolToObject(norm, "lowercase", 1);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "w");
    int ok = f && fputs(json, f) >= 0;
    if (f)
        fclose(f);
    free(json);
    return ok;
}

static void test_cases_tokenizer_json(void) {
    for (int v = 0; v < 2; v++) {
        char dir[] = "/tmp/t5e_wp_XXXXXX", rel[256], path[512];
        CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        snprintf(rel, sizeof rel, "%s/%s", ELECTRA_DIR, vocab_files[v]);
        CHECK(write_tokenizer_json(data_path(rel), dir), "write json");
        t5e_tokenizer *tok = open_tok(dir);
        CHECK(tok != NULL, "%s", dir);
        if (tok) {
            check_cases(tok, v, 1);
            check_pairs(tok, v);
            t5e_tokenizer_free(tok);
        }
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        unlink(path);
        rmdir(dir);
    }
}

/* ------------------------------------------------------------------ */
/* ELECTRA model folders                                               */
/* ------------------------------------------------------------------ */

static void check_model_folder(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/golden.json", name);
    cJSON *g = load_json(rel);
    const cJSON *in = cJSON_GetObjectItem(g, "inputs");
    const cJSON *items = cJSON_GetObjectItem(in, "items");
    int n = cJSON_GetArraySize(items);
    const char *a[16], *b[16];
    for (int i = 0; i < n && i < 16; i++) {
        const cJSON *it = cJSON_GetArrayItem(items, i);
        const cJSON *t = cJSON_GetObjectItem(it, "text");
        a[i] = (t ? t : cJSON_GetObjectItem(it, "text_a"))->valuestring;
        t = cJSON_GetObjectItem(it, "text_b");
        b[i] = t ? t->valuestring : NULL;
    }
    t5e_tokenizer *tok = open_tok(data_path(name));
    CHECK(tok != NULL, "%s", name);
    t5e_encoding enc[16];
    t5e_err err = {0};
    if (tok && n <= 16) {
        CHECK_OK(t5e_tokenizer_encode_batch(tok, n, a, b, NULL, 1, enc,
                                            &err), &err);
        const char *keys[] = {"input_ids", "token_type_ids",
                              "attention_mask"};
        for (int i = 0; i < n; i++) {
            const int32_t *got[] = {enc[i].ids, enc[i].type_ids,
                                    enc[i].attention_mask};
            for (int k = 0; k < 3; k++)
                CHECK(same_ints(keys[k], got[k], enc[i].n,
                                cJSON_GetArrayItem(cJSON_GetObjectItem(
                                    in, keys[k]), i)),
                      "%s item %d %s", name, i, keys[k]);
            t5e_encoding_free(&enc[i]);
        }
    }
    t5e_tokenizer_free(tok);
    cJSON_Delete(g);
}

static void test_model_folders(void) {
    check_model_folder("electra-tiny-discriminator");
    check_model_folder("electra-tiny-classifier");
}

/* ------------------------------------------------------------------ */
/* Edge cases                                                          */
/* ------------------------------------------------------------------ */

static t5e_tokenizer *bert;  /* the real BERT vocabulary */

/* Encodes (text, len) with defaults; returns the ids (caller frees). */
static int32_t *enc_ids(t5e_tokenizer *tok, const char *text, long len,
                        int *n) {
    t5e_encoding e;
    t5e_err err = {0};
    t5e_status s = t5e_tokenizer_encode(tok, text, len, NULL, 0, NULL, &e,
                                        &err);
    CHECK(s == T5E_OK, "%s", err.msg);
    if (s) {
        *n = 0;
        return NULL;
    }
    int32_t *ids = malloc(((size_t)e.n + 1) * sizeof *ids);
    memcpy(ids, e.ids, (size_t)e.n * sizeof *ids);
    *n = e.n;
    t5e_encoding_free(&e);
    return ids;
}

/* Checks that two texts encode the same. */
static int same_encoding(t5e_tokenizer *tok, const char *a, long la,
                         const char *b, long lb) {
    int na, nb;
    int32_t *ia = enc_ids(tok, a, la, &na), *ib = enc_ids(tok, b, lb, &nb);
    int ok = na == nb && (na == 0 || !memcmp(ia, ib, (size_t)na * 4));
    free(ia);
    free(ib);
    return ok;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_vocab_file_quirks(void) {
    char dir[] = "/tmp/t5e_wp_XXXXXX", path[512];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    /* \r\n, lone \r, an empty line, a duplicate, no final newline */
    write_file(path, "[PAD]\r\n[UNK]\r\n[CLS]\r[SEP]\n\n[MASK]\nab\n##c\n"
                     "ab\nx");
    t5e_tokenizer *tok = open_tok(path);
    CHECK(tok != NULL, "quirky vocab");
    if (tok) {
        t5e_special_ids sp = t5e_tokenizer_special_ids(tok);
        CHECK(sp.pad == 0 && sp.unk == 1 && sp.cls == 2 && sp.sep == 3 &&
              sp.mask == 5, "specials %d %d %d %d %d", sp.pad, sp.unk,
              sp.cls, sp.sep, sp.mask);
        CHECK(t5e_tokenizer_vocab_size(tok) == 10, "size %d",
              t5e_tokenizer_vocab_size(tok));
        CHECK(t5e_tokenizer_piece_to_id(tok, "ab") == 8, "dup: last wins");
        CHECK(!strcmp(t5e_tokenizer_id_to_piece(tok, 6), "[UNK]"),
              "shadowed id decodes as unk");
        CHECK(t5e_tokenizer_id_to_piece(tok, 10) == NULL, "out of range");
        int n;
        int32_t *ids = enc_ids(tok, "abc x ABC q", -1, &n);
        int32_t want[] = {2, 8, 7, 9, 8, 7, 1, 3};
        CHECK(n == 8 && check_ids("quirky ids", ids, want, 8), "n=%d", n);
        free(ids);
        t5e_tokenizer_free(tok);
    }
    /* not UTF-8: an error naming the file and line */
    write_file(path, "[PAD]\n\xff\xfe\n");
    t5e_tokenizer *bad = NULL;
    t5e_err err = {0};
    CHECK(t5e_tokenizer_load(path, &bad, &err) == T5E_ERR_FORMAT &&
              strstr(err.msg, "line 2"), "%s", err.msg);
    unlink(path);
    rmdir(dir);
}

static void test_invalid_utf8_and_nul(void) {
    /* invalid bytes become U+FFFD, which the basic tokenizer drops */
    CHECK(same_encoding(bert, "ab\xff" "cd", -1, "abcd", -1), "0xff");
    CHECK(same_encoding(bert, "x \xc3", -1, "x", -1), "truncated");
    CHECK(same_encoding(bert, "a\xed\xa0\x80z", -1, "az", -1), "surrogate");
    CHECK(same_encoding(bert, "a\xc0\xafz", -1, "az", -1), "overlong");
    CHECK(same_encoding(bert, "\xf4\x90\x80\x80!", -1, "!", -1), ">10FFFF");
    /* NUL is dropped like any control character */
    CHECK(same_encoding(bert, "hello\0world", 11, "helloworld", -1), "NUL");
    CHECK(same_encoding(bert, "\0\0\0", 3, "", 0), "only NULs");
    int n;
    int32_t *ids = enc_ids(bert, "", 0, &n);
    CHECK(n == 2 && ids[0] == 101 && ids[1] == 102, "empty: n=%d", n);
    free(ids);
    /* every byte value, with and without a lead byte before it */
    char all[512];
    for (int i = 0; i < 256; i++) {
        all[2 * i] = (char)i;
        all[2 * i + 1] = (char)(0xC0 + i % 64);
    }
    free(enc_ids(bert, all, sizeof all, &n));
    CHECK(n >= 2, "all bytes");
}

/* Encodes `reps` copies of unit; returns the best of 3 runs, seconds. */
static double time_repeated(const char *unit, long reps, int *n_ids) {
    size_t ul = strlen(unit);
    char *text = malloc(ul * (size_t)reps + 1);
    for (long i = 0; i < reps; i++)
        memcpy(text + ul * (size_t)i, unit, ul);
    text[ul * (size_t)reps] = '\0';
    double best = 1e30;
    for (int run = 0; run < 3; run++) {
        double t0 = time_now();
        t5e_encoding e;
        t5e_err err = {0};
        t5e_status s = t5e_tokenizer_encode(bert, text, (long)(ul * reps),
                                            NULL, 0, NULL, &e, &err);
        double dt = time_now() - t0;
        CHECK(s == T5E_OK, "%s", err.msg);
        best = dt < best ? dt : best;
        *n_ids = e.n;
        t5e_encoding_free(&e);
    }
    free(text);
    return best;
}

/* 2 MB lines of several shapes: the expected counts.  The times are
 * printed, not asserted (a loaded machine made a ratio check fail): a
 * quadratic pass over 2 MB is ~10^12 steps, which no run of this test
 * would survive unnoticed. */
static void test_huge_lines(void) {
    static const struct {
        const char *unit;
        int ids_per_unit; /* -1: unknown */
    } shapes[] = {
        {"hello world, ", 3},
        {"aaaaaaaaaaaaaaaa", -1},       /* one 2 MB word: [UNK] */
        {"\xe4\xb8\xad", 1},            /* CJK: one token each */
        {"!?", 2},
        {"\xc3\xa9\xcc\x81x", -1},      /* accents to strip */
        {"[MASK]", 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        long reps = (2L << 20) / (long)strlen(shapes[i].unit);
        int n1, n2;
        double t1 = time_repeated(shapes[i].unit, reps / 2, &n1);
        double t2 = time_repeated(shapes[i].unit, reps, &n2);
        printf("  2 MB of \"%s\": %d ids, %.3f s (1 MB: %.3f s)\n",
               shapes[i].unit, n2, t2, t1);
        if (shapes[i].ids_per_unit > 0)
            CHECK(n2 == 2 + shapes[i].ids_per_unit * (int)reps, "n=%d", n2);
    }
    int n;
    free(enc_ids(bert, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -1, &n));
}

static void test_options(void) {
    t5e_encode_options o;
    t5e_encoding e;
    t5e_err err = {0};
    t5e_encode_options_default(&o);
    /* "hello world ." = 7592 2088 1012 */
    o.max_length = 4;
    CHECK_OK(t5e_tokenizer_encode(bert, "hello world.", -1, NULL, 0, &o, &e,
                                  &err), &err);
    int32_t w1[] = {101, 7592, 2088, 102};
    CHECK(e.n == 4 && check_ids("max_length 4", e.ids, w1, 4), "n=%d", e.n);
    t5e_encoding_free(&e);
    /* would remove every token: the reference keeps the text whole */
    o.max_length = 2;
    CHECK_OK(t5e_tokenizer_encode(bert, "hello world.", -1, NULL, 0, &o, &e,
                                  &err), &err);
    CHECK(e.n == 5, "max_length 2 keeps all: n=%d", e.n);
    t5e_encoding_free(&e);
    /* pair, longest_first: a has 3, b 1, 3 to remove: 2 from a (down to
     * b's length), then the odd one from b */
    o.max_length = 4;
    CHECK_OK(t5e_tokenizer_encode(bert, "hello world.", -1, "hello", -1, &o,
                                  &e, &err), &err);
    int32_t w2[] = {101, 7592, 102, 102};
    int32_t t2[] = {0, 0, 0, 1};
    CHECK(e.n == 4 && check_ids("pair trunc", e.ids, w2, 4) &&
          check_ids("pair types", e.type_ids, t2, 4), "n=%d", e.n);
    t5e_encoding_free(&e);
    /* padding */
    o.max_length = 0;
    o.pad_to = 6;
    CHECK_OK(t5e_tokenizer_encode(bert, "hello", -1, NULL, 0, &o, &e, &err),
             &err);
    int32_t w3[] = {101, 7592, 102, 0, 0, 0};
    int32_t m3[] = {1, 1, 1, 0, 0, 0};
    CHECK(e.n == 6 && check_ids("padded", e.ids, w3, 6) &&
          check_ids("mask", e.attention_mask, m3, 6) &&
          !strcmp(e.pieces[5], "[PAD]"), "n=%d", e.n);
    t5e_encoding_free(&e);
    /* no specials: a pair is a + b, all type 0 */
    o.pad_to = 0;
    o.add_special_tokens = 0;
    CHECK_OK(t5e_tokenizer_encode(bert, "hello", -1, "world", -1, &o, &e,
                                  &err), &err);
    int32_t w4[] = {7592, 2088}, t4[] = {0, 0};
    CHECK(e.n == 2 && check_ids("no specials", e.ids, w4, 2) &&
          check_ids("no specials types", e.type_ids, t4, 2), "n=%d", e.n);
    t5e_encoding_free(&e);
}

static void test_decode(void) {
    int32_t ids[] = {101, 7592, 1010, 2088, 999, 100, 102, 0, 4242424};
    char *s = NULL;
    t5e_err err = {0};
    CHECK_OK(t5e_tokenizer_decode(bert, ids, 9, 0, &s, &err), &err);
    CHECK(s && !strcmp(s, "[CLS] hello, world! [UNK] [SEP] [PAD] [UNK]"),
          "%s", s);
    free(s);
    CHECK_OK(t5e_tokenizer_decode(bert, ids, 9, 1, &s, &err), &err);
    /* an unknown id decodes as [UNK] but is not a special id, so the
     * reference keeps it even when skipping specials */
    CHECK(s && !strcmp(s, "hello, world! [UNK]"), "skip: %s", s);
    free(s);
    /* "don ' t" -> "don't"; " ##" glue */
    int32_t ids2[] = {2123, 1005, 1056, 2448, 2015};
    CHECK_OK(t5e_tokenizer_decode(bert, ids2, 5, 0, &s, &err), &err);
    CHECK(s && !strcmp(s, "don't runs"), "%s", s);
    free(s);
    CHECK_OK(t5e_tokenizer_decode(bert, ids, 0, 0, &s, &err), &err);
    CHECK(s && !strcmp(s, ""), "empty decode");
    free(s);
}

/* tokenizer_config.json options: case kept, never_split, added tokens
 * with lstrip / rstrip and a new id. */
static void test_config_options(void) {
    char dir[] = "/tmp/t5e_wp_XXXXXX", path[512], cfg[512];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    write_file(path, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nHello\n"
                     "wo\n##rld\n.\nfoo\n");
    snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
    write_file(cfg, "{\"do_lower_case\": false, \"never_split\": [\"wor.ld\"],"
                    "\"added_tokens_decoder\": {\"11\": {\"content\": "
                    "\"<X>\", \"lstrip\": true, \"rstrip\": true, "
                    "\"normalized\": false, \"special\": false}}}");
    t5e_tokenizer *tok = open_tok(dir);
    CHECK(tok != NULL, "config dir");
    if (tok) {
        int n;
        int32_t *ids = enc_ids(tok, "Hello hello world wor.ld a<X> b", -1, &n);
        /* never_split "wor.ld" stays whole (not in vocab: [UNK]) */
        int32_t want[] = {2, 6, 5, 7, 8, 1, 1, 11, 1, 3};
        CHECK(n == 10 && check_ids("cased", ids, want, 10), "n=%d", n);
        free(ids);
        CHECK(t5e_tokenizer_vocab_size(tok) == 12, "new id counted");
        char *s = NULL;
        t5e_err err = {0};
        int32_t d[] = {6, 11, 7, 8};
        CHECK_OK(t5e_tokenizer_decode(tok, d, 4, 0, &s, &err), &err);
        CHECK(s && !strcmp(s, "Hello <X> world"), "%s", s);
        free(s);
        t5e_tokenizer_free(tok);
    }
    unlink(cfg);
    unlink(path);
    rmdir(dir);
}

static void test_bad_files(void) {
    t5e_tokenizer *tok = NULL;
    t5e_err err = {0};
    CHECK(t5e_tokenizer_load("/nonexistent/dir", &tok, &err) != T5E_OK &&
          strstr(err.msg, "/nonexistent/dir"), "%s", err.msg);
    char dir[] = "/tmp/t5e_wp_XXXXXX", path[512];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_file(path, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": "
                     "{\"a\": -3}}}");
    CHECK(t5e_tokenizer_load(dir, &tok, &err) == T5E_ERR_FORMAT &&
          strstr(err.msg, "tokenizer.json"), "%s", err.msg);
    write_file(path, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": "
                     "{\"a\": 1e12}}}");
    CHECK(t5e_tokenizer_load(dir, &tok, &err) == T5E_ERR_FORMAT, "%s",
          err.msg);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    cases_root = load_json(ELECTRA_DIR "/cases.json");
    bert = open_tok(data_path(ELECTRA_DIR "/vocab.txt"));
    if (!bert)
        return 2;
    RUN(test_cases_vocab_txt);
    RUN(test_cases_tokenizer_json);
    RUN(test_model_folders);
    RUN(test_vocab_file_quirks);
    RUN(test_invalid_utf8_and_nul);
    RUN(test_huge_lines);
    RUN(test_options);
    RUN(test_decode);
    RUN(test_config_options);
    RUN(test_bad_files);
    t5e_tokenizer_free(bert);
    cJSON_Delete(cases_root);
    return harness_finish();
}
