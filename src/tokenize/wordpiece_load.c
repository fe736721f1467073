/*
 * wordpiece_load.c - reading a WordPiece tokenizer: vocab.txt with the
 * tokenizer_config.json / special_tokens_map.json beside it, or a
 * tokenizer.json whose model is WordPiece.
 *
 * Reference behaviour kept (transformers 4.36.2 BertTokenizer):
 *  - vocab.txt: one token per line, id = line number.  Lines end at \n,
 *    \r\n or a lone \r (Python's universal newlines); a last line without
 *    a newline still counts; an empty line is the token "".  A duplicate
 *    token maps to its last line; the ids of its earlier lines decode as
 *    the unk token.  A file that is not UTF-8 is an error, as in Python.
 *  - special tokens are named by tokenizer_config.json, overridden by
 *    special_tokens_map.json, defaulting to [UNK] [SEP] [PAD] [CLS]
 *    [MASK]; their ids come from added_tokens_decoder or the vocabulary.
 *    One missing from both gets the next free id, as the reference's
 *    _add_tokens does (there: the count of distinct tokens, which is the
 *    same unless the vocabulary has duplicates).
 * Not supported: do_basic_tokenize false, added_tokens.json, and the
 * single_word flag of added tokens (ignored).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tokenize/wordpiece.h"

/* Largest id count accepted from any file: keeps the id table
 * allocation bounded whatever a file claims. */
#define WP_MAX_ID (1 << 24)

static char *str_dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void wp_free(wordpiece *wp) {
    if (!wp)
        return;
    wp_map_free(&wp->map);
    free(wp->id_tok);
    free(wp->unk_tok);
    free(wp->sep_tok);
    free(wp->pad_tok);
    free(wp->cls_tok);
    free(wp->mask_tok);
    for (int i = 0; i < wp->n_extra_special; i++)
        free(wp->extra_special[i]);
    free(wp->extra_special);
    for (int i = 0; i < wp->n_added; i++) {
        free(wp->added[i].text);
        free(wp->added[i].cps);
    }
    free(wp->added);
    free(wp->protect);
    for (int i = 0; i < wp->n_never_split; i++)
        free(wp->never_split[i]);
    free(wp->never_split);
    free(wp->never);
    free(wp);
}

/* Defaults of BertTokenizer's constructor. */
static t5e_status wp_defaults(wordpiece *wp, t5e_err *err) {
    memcpy(wp->prefix, "##", 3);
    wp->prefix_len = 2;
    wp->max_chars = 100;
    wp->lower = 1;
    wp->strip_accents = -1;     /* null: follow lower */
    wp->chinese = 1;
    wp->clean = 1;
    wp->cleanup = 1;
    wp->unk_tok = str_dup("[UNK]");
    wp->sep_tok = str_dup("[SEP]");
    wp->pad_tok = str_dup("[PAD]");
    wp->cls_tok = str_dup("[CLS]");
    wp->mask_tok = str_dup("[MASK]");
    if (!wp->unk_tok || !wp->sep_tok || !wp->pad_tok || !wp->cls_tok ||
        !wp->mask_tok)
        return err_set(err, T5E_ERR_NOMEM, "wordpiece: out of memory");
    return T5E_OK;
}

/* ------------------------------------------------------------------ */
/* vocab.txt                                                           */
/* ------------------------------------------------------------------ */

static int utf8_is_valid(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = wp_utf8_next(s + i, n - i, &cp);
        if (k == 1 && (uint8_t)s[i] >= 0x80)
            return 0;
        i += k;
    }
    return 1;
}

/* Calls fn for each line of text (universal newlines); returns the count
 * of lines, or -1 when fn fails. */
typedef int (*line_fn)(void *ctx, const char *s, size_t n, long line);

static long for_each_line(const char *t, size_t len, line_fn fn, void *ctx) {
    long line = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && t[j] != '\n' && t[j] != '\r')
            j++;
        if (fn(ctx, t + i, j - i, line++))
            return -1;
        if (j < len && t[j] == '\r' && j + 1 < len && t[j + 1] == '\n')
            j++;
        i = j + 1;
    }
    return line;
}

typedef struct {
    wordpiece *wp;
    const char *path;
    t5e_err *err;
} vocab_ctx;

static int vocab_line(void *vctx, const char *s, size_t n, long line) {
    vocab_ctx *c = vctx;
    if (line >= WP_MAX_ID) {
        err_set(c->err, T5E_ERR_FORMAT, "%s: more than %d lines", c->path,
                WP_MAX_ID);
        return -1;
    }
    if (!utf8_is_valid(s, n)) {
        err_set(c->err, T5E_ERR_FORMAT, "%s: line %ld is not valid UTF-8",
                c->path, line + 1);
        return -1;
    }
    if (wp_map_put(&c->wp->map, s, n, (int)line, 1) < 0) {
        err_set(c->err, T5E_ERR_NOMEM, "%s: out of memory", c->path);
        return -1;
    }
    return 0;
}

static t5e_status parse_vocab_txt(wordpiece *wp, const char *path,
                                  const char *text, size_t len,
                                  t5e_err *err) {
    vocab_ctx c = {wp, path, err};
    long lines = for_each_line(text, len, vocab_line, &c);
    if (lines < 0)
        return err->status ? err->status : T5E_ERR_FORMAT;
    if (lines == 0)
        return err_set(err, T5E_ERR_FORMAT, "%s: empty vocabulary", path);
    wp->n_ids = wp->n_vocab_ids = (int)lines;
    return T5E_OK;
}

/* ------------------------------------------------------------------ */
/* JSON helpers                                                        */
/* ------------------------------------------------------------------ */

static cJSON *json_read(const char *path, t5e_status *s, t5e_err *err) {
    char *text;
    size_t len;
    *s = file_read_all(path, &text, &len, err);
    if (*s)
        return NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        *s = err_set(err, T5E_ERR_FORMAT, "%s: not a JSON object", path);
    }
    return root;
}

static cJSON *jget(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A JSON integer in [0, WP_MAX_ID) into *out; 0 when it is not one. */
static int jid(const cJSON *v, int *out) {
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d < WP_MAX_ID) || d != (double)(int)d)
        return 0;
    *out = (int)d;
    return 1;
}

/* A token given as "text" or as {"content": "text", ...}. */
static const char *token_text(const cJSON *v) {
    if (cJSON_IsString(v))
        return v->valuestring;
    const cJSON *c = jget(v, "content");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

/* Sets *flag from a boolean key (null / absent leave it alone). */
static void jbool(const cJSON *o, const char *key, int *flag) {
    const cJSON *v = jget(o, key);
    if (cJSON_IsBool(v))
        *flag = cJSON_IsTrue(v);
}

static int set_name(char **slot, const cJSON *v) {
    const char *t = token_text(v);
    if (!t)
        return 0;
    char *d = str_dup(t);
    if (!d)
        return -1;
    free(*slot);
    *slot = d;
    return 0;
}

/* Reads the special token names of a config or special_tokens_map. */
static int read_special_names(wordpiece *wp, const cJSON *o) {
    if (set_name(&wp->unk_tok, jget(o, "unk_token")) ||
        set_name(&wp->sep_tok, jget(o, "sep_token")) ||
        set_name(&wp->pad_tok, jget(o, "pad_token")) ||
        set_name(&wp->cls_tok, jget(o, "cls_token")) ||
        set_name(&wp->mask_tok, jget(o, "mask_token")))
        return -1;
    const cJSON *extra = jget(o, "additional_special_tokens");
    if (!cJSON_IsArray(extra))
        return 0;
    for (int i = 0; i < wp->n_extra_special; i++)
        free(wp->extra_special[i]);
    free(wp->extra_special);
    wp->n_extra_special = 0;
    wp->extra_special = xcalloc((size_t)cJSON_GetArraySize(extra) + 1,
                                sizeof *wp->extra_special);
    if (!wp->extra_special)
        return -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, extra) {
        const char *t = token_text(e);
        if (t && !(wp->extra_special[wp->n_extra_special++] = str_dup(t)))
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Added tokens                                                        */
/* ------------------------------------------------------------------ */

static int find_added(const wordpiece *wp, const char *text) {
    for (int i = 0; i < wp->n_added; i++)
        if (!strcmp(wp->added[i].text, text))
            return i;
    return -1;
}

/* Appends an added token (a later one with the same text replaces). */
static int add_token(wordpiece *wp, const char *text, int id, int special,
                     int lstrip, int rstrip, int normalized) {
    int k = find_added(wp, text);
    if (k < 0) {
        wp_added *a = realloc(wp->added, (size_t)(wp->n_added + 1) *
                                             sizeof *a);
        if (!a)
            return -1;
        wp->added = a;
        k = wp->n_added++;
        memset(&a[k], 0, sizeof a[k]);
        size_t n = strlen(text);
        a[k].text = str_dup(text);
        a[k].cps = xmalloc_array(n ? n : 1, sizeof *a[k].cps);
        if (!a[k].text || !a[k].cps)
            return -1;
        a[k].n_cps = (int)wp_utf8_decode(text, n, a[k].cps);
    }
    wp_added *a = &wp->added[k];
    a->id = id;
    a->special = special;
    a->lstrip = lstrip;
    a->rstrip = rstrip;
    a->normalized = normalized;
    if (id >= wp->n_ids)
        wp->n_ids = id + 1;
    return 0;
}

/* One {"content", "lstrip", ...} object of added_tokens(_decoder). */
static int add_token_json(wordpiece *wp, const cJSON *o, int id) {
    const char *text = token_text(o);
    if (!text || id < 0 || id >= WP_MAX_ID)
        return 1;
    int special = 0, lstrip = 0, rstrip = 0, normalized = 0;
    jbool(o, "special", &special);
    jbool(o, "lstrip", &lstrip);
    jbool(o, "rstrip", &rstrip);
    normalized = !special;
    jbool(o, "normalized", &normalized);
    return add_token(wp, text, id, special, lstrip, rstrip, normalized);
}

static t5e_status read_added_decoder(wordpiece *wp, const cJSON *dec,
                                     const char *path, t5e_err *err) {
    const cJSON *e;
    cJSON_ArrayForEach(e, dec) {
        char *end;
        long id = strtol(e->string ? e->string : "", &end, 10);
        int rc = *end || end == e->string ? 1
                                          : add_token_json(wp, e, (int)id);
        if (rc < 0)
            return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
        if (rc > 0 || id < 0 || id >= WP_MAX_ID)
            return err_set(err, T5E_ERR_FORMAT,
                           "%s: bad added_tokens_decoder entry \"%s\"", path,
                           e->string ? e->string : "");
    }
    return T5E_OK;
}

/* ------------------------------------------------------------------ */
/* Configuration files                                                 */
/* ------------------------------------------------------------------ */

static t5e_status read_never_split(wordpiece *wp, const cJSON *a,
                                   const char *path, t5e_err *err) {
    if (!cJSON_IsArray(a))
        return T5E_OK;
    wp->never_split = xcalloc((size_t)cJSON_GetArraySize(a) + 1,
                              sizeof *wp->never_split);
    if (!wp->never_split)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (!cJSON_IsString(e))
            return err_set(err, T5E_ERR_CONFIG,
                           "%s: never_split holds a non-string", path);
        if (!(wp->never_split[wp->n_never_split++] = str_dup(e->valuestring)))
            return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    }
    return T5E_OK;
}

/* tokenizer_config.json: options (when `options`), names, added tokens. */
static t5e_status read_config(wordpiece *wp, const char *path, int options,
                              t5e_err *err) {
    if (!file_exists(path))
        return T5E_OK;
    t5e_status s;
    cJSON *root = json_read(path, &s, err);
    if (!root)
        return s;
    if (options) {
        int basic = 1;
        jbool(root, "do_basic_tokenize", &basic);
        jbool(root, "do_lower_case", &wp->lower);
        jbool(root, "tokenize_chinese_chars", &wp->chinese);
        const cJSON *sa = jget(root, "strip_accents");
        if (cJSON_IsBool(sa))
            wp->strip_accents = cJSON_IsTrue(sa);
        if (!basic)
            s = err_set(err, T5E_ERR_UNSUPPORTED,
                        "%s: do_basic_tokenize false is not supported", path);
        if (!s)
            s = read_never_split(wp, jget(root, "never_split"), path, err);
    }
    jbool(root, "clean_up_tokenization_spaces", &wp->cleanup);
    if (!s && read_special_names(wp, root))
        s = err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    const cJSON *dec = jget(root, "added_tokens_decoder");
    if (!s && cJSON_IsObject(dec))
        s = read_added_decoder(wp, dec, path, err);
    cJSON_Delete(root);
    return s;
}

static t5e_status read_special_map(wordpiece *wp, const char *path,
                                   t5e_err *err) {
    if (!file_exists(path))
        return T5E_OK;
    t5e_status s;
    cJSON *root = json_read(path, &s, err);
    if (!root)
        return s;
    if (read_special_names(wp, root))
        s = err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    cJSON_Delete(root);
    return s;
}

/* The configs in the folder of `file`. */
static t5e_status read_side_files(wordpiece *wp, const char *file,
                                  int options, t5e_err *err) {
    char dir[4096], path[4096];
    const char *slash = strrchr(file, '/');
    size_t n = slash ? (size_t)(slash - file) : 1;
    if (n >= sizeof dir)
        return err_set(err, T5E_ERR_ARG, "%s: path too long", file);
    memcpy(dir, slash ? file : ".", n);
    dir[n] = '\0';
    if (!path_join(path, sizeof path, dir, "tokenizer_config.json"))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", file);
    t5e_status s = read_config(wp, path, options, err);
    if (s)
        return s;
    if (!path_join(path, sizeof path, dir, "special_tokens_map.json"))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", file);
    return read_special_map(wp, path, err);
}

/* ------------------------------------------------------------------ */
/* Finishing                                                           */
/* ------------------------------------------------------------------ */

/* id -> token from the vocabulary (for a duplicate, its last line). */
static t5e_status build_id_table(wordpiece *wp, t5e_err *err) {
    wp->id_tok = xcalloc((size_t)wp->n_ids, sizeof *wp->id_tok);
    if (!wp->id_tok)
        return err_set(err, T5E_ERR_NOMEM, "wordpiece: out of memory");
    for (uint32_t i = 0; i < wp->map.n; i++) {
        const wp_entry *e = &wp->map.entries[i];
        if (e->in_vocab && e->id >= 0 && e->id < wp->n_ids)
            wp->id_tok[e->id] = wp_map_key(&wp->map, e);
    }
    return T5E_OK;
}

/* The special names in the reference's all_special_tokens order. */
static int special_names(const wordpiece *wp, const char **out) {
    const char *fixed[] = {wp->unk_tok, wp->sep_tok, wp->pad_tok,
                           wp->cls_tok, wp->mask_tok};
    int n = 0;
    for (int i = 0; i < 5; i++)
        if (fixed[i] && fixed[i][0])
            out[n++] = fixed[i];
    for (int i = 0; i < wp->n_extra_special; i++)
        if (wp->extra_special[i] && wp->extra_special[i][0])
            out[n++] = wp->extra_special[i];
    return n;
}

/* Specials not yet added become added tokens: the vocabulary's id, or
 * the next free id. */
static int add_specials(wordpiece *wp, const char **names, int n) {
    for (int i = 0; i < n; i++) {
        if (find_added(wp, names[i]) >= 0)
            continue;
        const wp_entry *e = wp_map_get(&wp->map, NULL, 0, names[i],
                                       strlen(names[i]));
        int id = e && e->in_vocab ? e->id : wp->n_ids;
        if (add_token(wp, names[i], id, 1, 0, 0, 0))
            return -1;
    }
    return 0;
}

/* Added tokens decode to their own text and take their own id. */
static int apply_added(wordpiece *wp) {
    for (int i = 0; i < wp->n_added; i++) {
        wp_added *a = &wp->added[i];
        if (wp_map_put(&wp->map, a->text, strlen(a->text), a->id, 0) < 0)
            return -1;
        wp->id_tok[a->id] = a->text;
        uint32_t c = a->n_cps ? a->cps[0] : 0;
        if (c < 0x80)
            wp->added_first[c] = a->n_cps > 0;
        else
            wp->added_first_high = 1;
    }
    return 0;
}

/* never (basic tokenizer leaves whole) and protect (lower-casing skips)
 * lists. */
static int build_lists(wordpiece *wp, const char **names, int n) {
    wp->never = xcalloc((size_t)(n + wp->n_never_split + 1),
                        sizeof *wp->never);
    wp->protect = xcalloc((size_t)(n + wp->n_added + 1),
                          sizeof *wp->protect);
    if (!wp->never || !wp->protect)
        return -1;
    for (int i = 0; i < wp->n_never_split; i++)
        wp->never[wp->n_never++] = (struct wp_never){
            wp->never_split[i], strlen(wp->never_split[i]), 1};
    for (int i = 0; i < n; i++) {
        wp->never[wp->n_never++] = (struct wp_never){names[i],
                                                      strlen(names[i]), 0};
        wp->protect[wp->n_protect++] = find_added(wp, names[i]);
    }
    for (int i = 0; i < wp->n_added; i++)
        if (!wp->added[i].special && wp->added[i].normalized)
            wp->protect[wp->n_protect++] = i;
    return 0;
}

static t5e_status wp_finish(wordpiece *wp, const char *path, t5e_err *err) {
    const char *names[5 + 64];
    if (wp->n_extra_special > 64)
        return err_set(err, T5E_ERR_UNSUPPORTED,
                       "%s: %d additional special tokens (at most 64)",
                       path, wp->n_extra_special);
    int n = special_names(wp, names);
    if (add_specials(wp, names, n))
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    if (wp->n_ids > WP_MAX_ID)
        return err_set(err, T5E_ERR_FORMAT, "%s: id %d out of range "
                       "(at most %d)", path, wp->n_ids - 1, WP_MAX_ID - 1);
    t5e_status s = build_id_table(wp, err);
    if (s)
        return s;
    if (apply_added(wp) || build_lists(wp, names, n))
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    wp->unk = wp_token_id(wp, wp->unk_tok, strlen(wp->unk_tok));
    wp->sep = wp_token_id(wp, wp->sep_tok, strlen(wp->sep_tok));
    wp->pad = wp_token_id(wp, wp->pad_tok, strlen(wp->pad_tok));
    wp->cls = wp_token_id(wp, wp->cls_tok, strlen(wp->cls_tok));
    wp->mask = wp_token_id(wp, wp->mask_tok, strlen(wp->mask_tok));
    if (wp->strip_accents < 0)
        wp->strip_accents = wp->lower;
    return T5E_OK;
}

t5e_status wp_load_vocab_txt(wordpiece *wp, const char *path, t5e_err *err) {
    t5e_status s = wp_defaults(wp, err);
    if (s)
        return s;
    char *text;
    size_t len;
    if ((s = file_read_all(path, &text, &len, err)))
        return s;
    s = parse_vocab_txt(wp, path, text, len, err);
    free(text);
    if (!s)
        s = read_side_files(wp, path, 1, err);
    return s ? s : wp_finish(wp, path, err);
}

/* ------------------------------------------------------------------ */
/* tokenizer.json                                                      */
/* ------------------------------------------------------------------ */

static t5e_status json_vocab(wordpiece *wp, const cJSON *vocab,
                             const char *path, t5e_err *err) {
    if (!cJSON_IsObject(vocab))
        return err_set(err, T5E_ERR_FORMAT, "%s: model.vocab is not an "
                       "object", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        int id;
        if (!jid(e, &id))
            return err_set(err, T5E_ERR_FORMAT, "%s: model.vocab[\"%s\"] "
                           "is not an id below %d", path, e->string,
                           WP_MAX_ID);
        if (wp_map_put(&wp->map, e->string, strlen(e->string), id, 1) < 0)
            return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
        if (id >= wp->n_ids)
            wp->n_ids = id + 1;
    }
    if (!wp->n_ids)
        return err_set(err, T5E_ERR_FORMAT, "%s: empty vocabulary", path);
    wp->n_vocab_ids = wp->n_ids;
    return T5E_OK;
}

/* model: unk_token, continuing_subword_prefix, max_input_chars_per_word */
static t5e_status json_model(wordpiece *wp, const cJSON *model,
                             const char *path, t5e_err *err) {
    const cJSON *pre = jget(model, "continuing_subword_prefix");
    if (cJSON_IsString(pre)) {
        size_t n = strlen(pre->valuestring);
        if (n >= sizeof wp->prefix)
            return err_set(err, T5E_ERR_UNSUPPORTED, "%s: continuing_"
                           "subword_prefix longer than %zu bytes", path,
                           sizeof wp->prefix - 1);
        memcpy(wp->prefix, pre->valuestring, n + 1);
        wp->prefix_len = n;
    }
    const cJSON *mx = jget(model, "max_input_chars_per_word");
    if (cJSON_IsNumber(mx)) {
        double v = mx->valuedouble;
        wp->max_chars = !(v >= 0) ? 0 : v > 1e9 ? 1000000000 : (int)v;
    }
    if (set_name(&wp->unk_tok, jget(model, "unk_token")))
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    return json_vocab(wp, jget(model, "vocab"), path, err);
}

/* normalizer: BertNormalizer options, or none at all. */
static t5e_status json_normalizer(wordpiece *wp, const cJSON *norm,
                                  const char *path, t5e_err *err) {
    if (!norm || cJSON_IsNull(norm)) {
        wp->lower = wp->chinese = wp->clean = 0;
        wp->strip_accents = 0;
        return T5E_OK;
    }
    const cJSON *type = jget(norm, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "BertNormalizer"))
        return err_set(err, T5E_ERR_UNSUPPORTED, "%s: normalizer %s is not "
                       "supported (expected BertNormalizer)", path,
                       cJSON_IsString(type) ? type->valuestring : "?");
    jbool(norm, "lowercase", &wp->lower);
    jbool(norm, "handle_chinese_chars", &wp->chinese);
    jbool(norm, "clean_text", &wp->clean);
    const cJSON *sa = jget(norm, "strip_accents");
    if (cJSON_IsBool(sa))
        wp->strip_accents = cJSON_IsTrue(sa);
    return T5E_OK;
}

static t5e_status json_added(wordpiece *wp, const cJSON *added,
                             const char *path, t5e_err *err) {
    const cJSON *e;
    cJSON_ArrayForEach(e, added) {
        int id;
        int rc = jid(jget(e, "id"), &id) ? add_token_json(wp, e, id) : 1;
        if (rc < 0)
            return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
        if (rc > 0)
            return err_set(err, T5E_ERR_FORMAT, "%s: bad added_tokens "
                           "entry", path);
    }
    return T5E_OK;
}

/* Special names: BertProcessing's cls / sep, padding's pad_token. */
static int json_names(wordpiece *wp, const cJSON *root) {
    const cJSON *pp = jget(root, "post_processor");
    const cJSON *cls = cJSON_GetArrayItem(jget(pp, "cls"), 0);
    const cJSON *sep = cJSON_GetArrayItem(jget(pp, "sep"), 0);
    const cJSON *pad = jget(jget(root, "padding"), "pad_token");
    return set_name(&wp->cls_tok, cls) || set_name(&wp->sep_tok, sep) ||
           set_name(&wp->pad_tok, pad);
}

t5e_status wp_load_tokenizer_json(wordpiece *wp, const char *path,
                                  t5e_err *err) {
    t5e_status s = wp_defaults(wp, err);
    if (s)
        return s;
    cJSON *root = json_read(path, &s, err);
    if (!root)
        return s;
    s = json_model(wp, jget(root, "model"), path, err);
    if (!s)
        s = json_normalizer(wp, jget(root, "normalizer"), path, err);
    if (!s)
        s = json_added(wp, jget(root, "added_tokens"), path, err);
    if (!s && json_names(wp, root))
        s = err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    cJSON_Delete(root);
    if (!s)
        s = read_side_files(wp, path, 0, err);
    return s ? s : wp_finish(wp, path, err);
}
