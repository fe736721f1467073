/*
 * test_spm.c - the SentencePiece / T5 tokenizer against the reference
 * (tokenizers/t5/cases.json: sentencepiece 0.1.97 and transformers 4.36.2
 * T5Tokenizer), plus the tokenizer.json path, corrupt model files, and
 * the behaviour on invalid UTF-8, NUL bytes and very long lines.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "tokenize/spm.h"

static const char *const model_names[2] = {"t5_spiece", "small_spm"};
static const char *const model_files[2] = {"tokenizers/t5/spiece.model",
                                           "tokenizers/t5/small_spm.model"};

static cJSON *cases_root;

static cJSON *cases(void) {
    if (cases_root)
        return cases_root;
    char *text;
    size_t len;
    t5e_err err = {0};
    if (file_read_all(data_path("tokenizers/t5/cases.json"), &text, &len,
                      &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    cases_root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cases_root) {
        fprintf(stderr, "cases.json: bad JSON\n");
        exit(1);
    }
    return cases_root;
}

/* The case text from its hex (control characters survive that way). */
static char *case_text(const cJSON *c, size_t *len) {
    const char *hex =
        cJSON_GetObjectItemCaseSensitive(c, "text_utf8_hex")->valuestring;
    size_t n = strlen(hex) / 2;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        s[i] = (char)v;
    }
    s[n] = '\0';
    *len = n;
    return s;
}

static int32_t *json_ids(const cJSON *a, int *n) {
    *n = cJSON_GetArraySize(a);
    int32_t *v = malloc(sizeof *v * (size_t)(*n + 1));
    for (int i = 0; i < *n; i++)
        v[i] = (int32_t)cJSON_GetArrayItem(a, i)->valuedouble;
    return v;
}

static const cJSON *result(const cJSON *c, int model) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "results");
    return cJSON_GetObjectItemCaseSensitive(r, model_names[model]);
}

static const cJSON *field(const cJSON *r, const char *name) {
    return cJSON_GetObjectItemCaseSensitive(r, name);
}

/* Compares ids with a JSON list; prints the case on a difference. */
static int same_ids(const char *what, int k, const int32_t *got, int n,
                    const cJSON *want) {
    int nw;
    int32_t *w = json_ids(want, &nw);
    int ok = n == nw;
    for (int i = 0; ok && i < n; i++)
        ok = got[i] == w[i];
    if (!ok) {
        fprintf(stderr, "  case %d %s: got %d ids, want %d:", k, what, n,
                nw);
        for (int i = 0; i < n && i < 40; i++)
            fprintf(stderr, " %d", got[i]);
        fprintf(stderr, " / want");
        for (int i = 0; i < nw && i < 40; i++)
            fprintf(stderr, " %d", w[i]);
        fputc('\n', stderr);
    }
    free(w);
    return ok;
}

static void load_model(int k, spm_model *m) {
    char *data;
    size_t len;
    t5e_err err = {0};
    const char *path = data_path(model_files[k]);
    if (file_read_all(path, &data, &len, &err) ||
        spm_model_from_proto(m, (const uint8_t *)data, len, path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    free(data);
}

/* Plain sp: sp_ids, sp_pieces and sp_decoded of every case. */
static void test_sp_cases(void) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cases(), "cases");
    for (int k = 0; k < 2; k++) {
        spm_model m;
        load_model(k, &m);
        spm_work w = {0};
        int bad = 0, total = 0;
        const cJSON *c;
        int ci = 0;
        cJSON_ArrayForEach(c, list) {
            size_t len;
            char *text = case_text(c, &len);
            const cJSON *r = result(c, k);
            t5e_err err = {0};
            CHECK_OK(spm_encode(&m, text, len, m.add_dummy_prefix, 0, &w,
                                &err), &err);
            int n = (int)w.n_tok;
            int32_t *ids = malloc(sizeof *ids * (size_t)(n + 1));
            const char **pieces = malloc(sizeof *pieces * (size_t)(n + 1));
            size_t *lens = malloc(sizeof *lens * (size_t)(n + 1));
            for (int i = 0; i < n; i++) {
                ids[i] = w.tok[i].id;
                pieces[i] = spm_token_text(&m, &w, &w.tok[i], &lens[i]);
            }
            int ok = same_ids("sp_ids", ci, ids, n, field(r, "sp_ids"));
            const cJSON *wp = field(r, "sp_pieces");
            ok = ok && cJSON_GetArraySize(wp) == n;
            for (int i = 0; ok && i < n; i++) {
                const char *s = cJSON_GetArrayItem(wp, i)->valuestring;
                /* cJSON ends strings at "\u0000": a NUL piece reads "" */
                size_t sl = strlen(s);
                ok = (sl == lens[i] || (sl < lens[i] && !pieces[i][sl])) &&
                     memcmp(s, pieces[i], sl) == 0;
            }
            /* sp decode(ids): pieces by id */
            spm_str out = {0};
            for (int i = 0; i < n; i++) {
                pieces[i] = m.piece[ids[i]];
                lens[i] = m.piece_len[ids[i]];
            }
            CHECK_OK(spm_decode_pieces(&m, pieces, lens, n, &out, &err),
                     &err);
            const char *want = field(r, "sp_decoded")->valuestring;
            if (!out.s || strcmp(out.s, want) != 0) {
                fprintf(stderr, "  case %d sp_decoded: got \"%s\" want "
                        "\"%s\"\n", ci, out.s ? out.s : "", want);
                ok = 0;
            }
            bad += !ok;
            total++;
            free(out.s);
            free(ids);
            free(pieces);
            free(lens);
            free(text);
            ci++;
        }
        printf("  %s: %d/%d cases exact (sp_ids, sp_pieces, sp_decoded)\n",
               model_names[k], total - bad, total);
        CHECK(bad == 0, "%s: %d cases differ", model_names[k], bad);
        spm_work_free(&w);
        spm_model_free(&m);
    }
}

/* One tokenizer against tokens, input_ids (both legacy settings) and
 * decoded (with and without skipping specials). */
static void check_t5_cases(t5e_tokenizer *tok, int k, const char *label) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cases(), "cases");
    int bad = 0, total = 0, ci = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, list) {
        size_t len;
        char *text = case_text(c, &len);
        const cJSON *r = result(c, k);
        t5e_err err = {0};
        t5e_encode_options opt;
        t5e_encode_options_default(&opt);
        t5e_encoding e;
        int ok = 1;

        opt.add_special_tokens = 0;
        CHECK_OK(t5e_tokenizer_encode(tok, text, (long)len, NULL, 0, &opt,
                                      &e, &err), &err);
        const cJSON *wt = field(r, "tokens");
        ok = cJSON_GetArraySize(wt) == e.n;
        for (int i = 0; ok && i < e.n; i++)
            ok = strcmp(cJSON_GetArrayItem(wt, i)->valuestring,
                        e.pieces[i]) == 0;
        if (!ok)
            fprintf(stderr, "  case %d (%s): tokens differ\n", ci, label);
        t5e_encoding_free(&e);

        opt.add_special_tokens = 1;
        CHECK_OK(t5e_tokenizer_encode(tok, text, (long)len, NULL, 0, &opt,
                                      &e, &err), &err);
        ok &= same_ids("input_ids", ci, e.ids, e.n, field(r, "input_ids"));
        for (int d = 0; d < 2; d++) {
            char *s = NULL;
            CHECK_OK(t5e_tokenizer_decode(tok, e.ids, e.n, d, &s, &err),
                     &err);
            const char *want =
                field(r, d ? "decoded_skip_special" : "decoded")
                    ->valuestring;
            if (!s || strcmp(s, want) != 0) {
                fprintf(stderr, "  case %d (%s) decode(skip=%d): got "
                        "\"%s\" want \"%s\"\n", ci, label, d, s ? s : "",
                        want);
                ok = 0;
            }
            free(s);
        }
        t5e_encoding_free(&e);

        opt.legacy = 0;
        CHECK_OK(t5e_tokenizer_encode(tok, text, (long)len, NULL, 0, &opt,
                                      &e, &err), &err);
        ok &= same_ids("input_ids_legacy_false", ci, e.ids, e.n,
                       field(r, "input_ids_legacy_false"));
        t5e_encoding_free(&e);
        bad += !ok;
        total++;
        free(text);
        ci++;
    }
    printf("  %s (%s): %d/%d cases exact (tokens, input_ids, "
           "input_ids_legacy_false, decoded, decoded_skip_special)\n",
           model_names[k], label, total - bad, total);
    CHECK(bad == 0, "%s (%s): %d cases differ", model_names[k], label, bad);
}

static void test_t5_cases(void) {
    for (int k = 0; k < 2; k++) {
        t5e_tokenizer *tok;
        t5e_err err = {0};
        CHECK_OK(t5e_tokenizer_load(data_path(model_files[k]), &tok, &err),
                 &err);
        if (!tok)
            continue;
        int vs = t5e_tokenizer_vocab_size(tok);
        CHECK(vs == (k ? 1100 : 32100), "vocab size %d", vs);
        t5e_special_ids sp = t5e_tokenizer_special_ids(tok);
        CHECK(sp.pad == 0 && sp.eos == 1 && sp.unk == 2 && sp.bos == -1,
              "special ids %d %d %d %d", sp.pad, sp.eos, sp.unk, sp.bos);
        const char *p = t5e_tokenizer_id_to_piece(tok, vs - 1);
        CHECK(p && strcmp(p, "<extra_id_0>") == 0, "last id is %s", p);
        CHECK(t5e_tokenizer_piece_to_id(tok, "<extra_id_99>") == vs - 100,
              "extra_id_99");
        CHECK(t5e_tokenizer_piece_to_id(tok, "no such piece here") == -1,
              "absent piece");
        check_t5_cases(tok, k, "spiece.model");
        t5e_tokenizer_free(tok);
    }
}

/* The padded batch of cases.json: right padding with 0, mask 0. */
static void test_padded_batch(void) {
    const cJSON *pb = cJSON_GetObjectItemCaseSensitive(cases(),
                                                       "padded_batch");
    const cJSON *texts = field(pb, "texts");
    int n = cJSON_GetArraySize(texts);
    const char *tx[8];
    for (int i = 0; i < n && i < 8; i++)
        tx[i] = cJSON_GetArrayItem(texts, i)->valuestring;
    for (int k = 0; k < 2; k++) {
        t5e_tokenizer *tok;
        t5e_err err = {0};
        CHECK_OK(t5e_tokenizer_load(data_path(model_files[k]), &tok, &err),
                 &err);
        t5e_encoding out[8];
        CHECK_OK(t5e_tokenizer_encode_batch(tok, n, tx, NULL, NULL, 1, out,
                                            &err), &err);
        const cJSON *r = field(field(pb, "results"), model_names[k]);
        for (int i = 0; i < n; i++) {
            CHECK(same_ids("batch ids", i, out[i].ids, out[i].n,
                           cJSON_GetArrayItem(field(r, "input_ids"), i)),
                  "batch %d", i);
            CHECK(same_ids("batch mask", i, out[i].attention_mask, out[i].n,
                           cJSON_GetArrayItem(field(r, "attention_mask"),
                                              i)), "mask %d", i);
            t5e_encoding_free(&out[i]);
        }
        t5e_tokenizer_free(tok);
    }
}

/* Truncation keeps </s> last; pad_to pads with 0 and mask 0. */
static void test_truncate_pad(void) {
    t5e_tokenizer *tok;
    t5e_err err = {0};
    CHECK_OK(t5e_tokenizer_load(data_path(model_files[0]), &tok, &err),
             &err);
    t5e_encode_options opt;
    t5e_encode_options_default(&opt);
    const char *text = "translate English to German: The house is "
                       "wonderful.";
    t5e_encoding e;
    opt.max_length = 4;
    CHECK_OK(t5e_tokenizer_encode(tok, text, -1, NULL, 0, &opt, &e, &err),
             &err);
    int32_t want[4] = {13959, 1566, 12, 1};
    CHECK(e.n == 4 && check_ids("truncated", e.ids, want, 4), "n %d", e.n);
    t5e_encoding_free(&e);
    opt.max_length = 0;
    opt.pad_to = 14;
    CHECK_OK(t5e_tokenizer_encode(tok, text, -1, NULL, 0, &opt, &e, &err),
             &err);
    CHECK(e.n == 14 && e.ids[10] == 1 && e.ids[11] == 0 && e.ids[13] == 0 &&
              e.attention_mask[10] == 1 && e.attention_mask[11] == 0,
          "padding: n %d", e.n);
    t5e_encoding_free(&e);
    /* "</s>" already last: no second one */
    opt.pad_to = 0;
    CHECK_OK(t5e_tokenizer_encode(tok, "Hello</s>", -1, NULL, 0, &opt, &e,
                                  &err), &err);
    CHECK(e.n == 2 && e.ids[1] == 1, "eos once: n %d", e.n);
    t5e_encoding_free(&e);
    t5e_tokenizer_free(tok);
}

/* Invalid UTF-8 (each bad byte a U+FFFD, as sp), NUL bytes inside the
 * text (length-delimited), empty input. */
static void test_bytes(void) {
    spm_model m;
    load_model(0, &m);
    spm_work w = {0};
    t5e_err err = {0};
    CHECK_OK(spm_encode(&m, "", 0, 1, 0, &w, &err), &err);
    CHECK(w.n_tok == 0, "empty: %zu tokens", w.n_tok);
    CHECK_OK(spm_encode(&m, "   \t\n ", 6, 1, 0, &w, &err), &err);
    CHECK(w.n_tok == 0, "whitespace: %zu tokens", w.n_tok);
    /* two bad bytes: one merged unknown run of two U+FFFD; spm_encode
     * gives "\xff\xfeab" -> 3 2 9 115 */
    CHECK_OK(spm_encode(&m, "\xff\xfe" "ab", 4, 1, 0, &w, &err), &err);
    CHECK(w.n_tok == 4 && w.tok[0].id == 3 && w.tok[1].id == m.unk_id &&
              w.tok[1].len == 6 && w.tok[2].id == 9 && w.tok[3].id == 115,
          "invalid UTF-8: %zu tokens", w.n_tok);
    /* NUL is not in the charsmap: an unknown piece of its own, as
     * spm_encode gives ("ab\0cd" -> 703 2 75 26) */
    spm_work w2 = {0};
    CHECK_OK(spm_encode(&m, "ab\0cd", 5, 1, 0, &w, &err), &err);
    int32_t want[4] = {703, 2, 75, 26}, got[4] = {0};
    for (size_t i = 0; i < w.n_tok && i < 4; i++)
        got[i] = w.tok[i].id;
    CHECK(w.n_tok == 4 && check_ids("NUL", got, want, 4), "NUL: %zu",
          w.n_tok);
    spm_work_free(&w2);
    spm_work_free(&w);
    spm_model_free(&m);
}

/* A 2 MB line encodes in linear time. */
static void test_long_line(void) {
    spm_model m;
    load_model(0, &m);
    size_t n = 2u << 20;
    char *s = malloc(n);
    const char *words = "the quick brown fox jumps over the lazy dog ";
    size_t wl = strlen(words);
    for (size_t i = 0; i < n; i++)
        s[i] = words[i % wl];
    spm_work w = {0};
    t5e_err err = {0};
    double t0 = time_now();
    CHECK_OK(spm_encode(&m, s, n, 1, 0, &w, &err), &err);
    double dt = time_now() - t0;
    /* one word without spaces: the longest path search stays linear */
    memset(s, 'a', n);
    t0 = time_now();
    CHECK_OK(spm_encode(&m, s, n, 1, 0, &w, &err), &err);
    double dt2 = time_now() - t0;
    printf("  2 MB line: %.3f s (words), %.3f s (one word)\n", dt, dt2);
    CHECK(dt < 2.0 && dt2 < 2.0, "2 MB line took %.2f / %.2f s", dt, dt2);
    spm_work_free(&w);
    free(s);
    spm_model_free(&m);
}

/* Corrupt model files are errors with the path in the message. */
static void test_corrupt(void) {
    char *data;
    size_t len;
    t5e_err err = {0};
    const char *path = data_path(model_files[1]);
    CHECK_OK(file_read_all(path, &data, &len, &err), &err);
    size_t cuts[] = {0, 1, 2, 7, 100, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        spm_model m;
        t5e_err e2 = {0};
        t5e_status s = spm_model_from_proto(&m, (const uint8_t *)data,
                                            cuts[i], "cut.model", &e2);
        if (s == T5E_OK) {
            spm_model_free(&m);
            continue; /* a cut at a field boundary can still be valid */
        }
        CHECK(strstr(e2.msg, "cut.model") != NULL, "message: %s", e2.msg);
    }
    /* a flipped length byte */
    data[1] ^= 0x40;
    spm_model m;
    t5e_status s = spm_model_from_proto(&m, (const uint8_t *)data, len,
                                        "flip.model", &err);
    if (s == T5E_OK)
        spm_model_free(&m);
    else
        CHECK(strstr(err.msg, "flip.model") != NULL, "message: %s",
              err.msg);
    free(data);
}

/* ------------------------------------------------------------------ */
/* tokenizer.json made from the .model, checked on every case          */
/* ------------------------------------------------------------------ */

static char *b64_encode(const uint8_t *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                              "qrstuvwxyz0123456789+/";
    char *o = malloc(4 * ((n + 2) / 3) + 1), *q = o;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *q++ = tab[v >> 18];
        *q++ = tab[(v >> 12) & 63];
        *q++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *q++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *q = '\0';
    return o;
}

/* Writes what transformers' converter writes for a T5 spiece.model. */
static void write_json(const spm_model *m, const char *path) {
    cJSON *root = cJSON_CreateObject();
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < m->n; i++) {
        if (m->type[i] != SPM_CONTROL && m->type[i] != SPM_UNKNOWN)
            continue;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", i);
        cJSON_AddStringToObject(a, "content", m->piece[i]);
        cJSON_AddBoolToObject(a, "special", 1);
        cJSON_AddItemToArray(added, a);
    }
    cJSON *norm = cJSON_AddObjectToObject(root, "normalizer");
    cJSON_AddStringToObject(norm, "type", "Sequence");
    cJSON *list = cJSON_AddArrayToObject(norm, "normalizers");
    cJSON *pre = cJSON_CreateObject();
    cJSON_AddStringToObject(pre, "type", "Precompiled");
    size_t blob = 4 + 4 * m->charsmap.n_units + m->charsmap.n_strings;
    char *b64 = b64_encode((const uint8_t *)m->charsmap.units - 4, blob);
    cJSON_AddStringToObject(pre, "precompiled_charsmap", b64);
    free(b64);
    cJSON_AddItemToArray(list, pre);
    cJSON *rep = cJSON_CreateObject();
    cJSON_AddStringToObject(rep, "type", "Replace");
    cJSON_AddItemToArray(list, rep);
    cJSON *meta = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(meta, "type", "Metaspace");
    cJSON_AddStringToObject(meta, "replacement", "\xe2\x96\x81");
    cJSON_AddBoolToObject(meta, "add_prefix_space", 1);
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "Unigram");
    cJSON_AddNumberToObject(model, "unk_id", m->unk_id);
    cJSON_AddBoolToObject(model, "byte_fallback", m->byte_fallback);
    cJSON *vocab = cJSON_AddArrayToObject(model, "vocab");
    for (int i = 0; i < m->n; i++) {
        cJSON *e = cJSON_CreateArray();
        cJSON_AddItemToArray(e, cJSON_CreateString(m->piece[i]));
        cJSON_AddItemToArray(e, cJSON_CreateNumber(m->score[i]));
        cJSON_AddItemToArray(vocab, e);
    }
    for (int i = 0; i < 100; i++) { /* HF appends the sentinels */
        char s[32];
        snprintf(s, sizeof s, "<extra_id_%d>", 99 - i);
        cJSON *e = cJSON_CreateArray();
        cJSON_AddItemToArray(e, cJSON_CreateString(s));
        cJSON_AddItemToArray(e, cJSON_CreateNumber(0));
        cJSON_AddItemToArray(vocab, e);
    }
    char *text = cJSON_PrintUnformatted(root);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    free(text);
    cJSON_Delete(root);
}

static void test_json_cases(void) {
    for (int k = 0; k < 2; k++) {
        spm_model m;
        load_model(k, &m);
        char path[64];
        snprintf(path, sizeof path, "/tmp/t5e_test_spm_%d.json", k);
        write_json(&m, path);
        spm_model_free(&m);
        t5e_tokenizer *tok;
        t5e_err err = {0};
        CHECK_OK(t5e_tokenizer_load(path, &tok, &err), &err);
        if (!tok)
            continue;
        CHECK(t5e_tokenizer_vocab_size(tok) == (k ? 1100 : 32100),
              "json vocab size %d", t5e_tokenizer_vocab_size(tok));
        check_t5_cases(tok, k, "tokenizer.json");
        t5e_tokenizer_free(tok);
        remove(path);
    }
}

int main(void) {
    RUN(test_sp_cases);
    RUN(test_t5_cases);
    RUN(test_padded_batch);
    RUN(test_truncate_pad);
    RUN(test_bytes);
    RUN(test_long_line);
    RUN(test_corrupt);
    RUN(test_json_cases);
    cJSON_Delete(cases_root);
    return harness_finish();
}
