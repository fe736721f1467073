/*
 * spm_unigram.c - the unigram model: piece checks and lookup at load,
 * Viterbi (sp 0.1.97 Model::EncodeOptimized), the unknown merging and byte
 * fallback of SentencePieceProcessor::Encode, and sp Decode.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenize/spm.h"

#define SPACE_SYMBOL "\xe2\x96\x81"
#define UNK_PENALTY 10.0f

/* ------------------------------------------------------------------ */
/* Piece map                                                           */
/* ------------------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Slot of piece s in the map: where it is, or the empty slot for it. */
static size_t hash_slot(const spm_model *m, const char *s, size_t n) {
    size_t mask = m->hash_cap - 1;
    size_t i = (size_t)hash_bytes(s, n) & mask;
    for (;;) {
        int32_t id = m->hash[i];
        if (id < 0 || (m->piece_len[id] == n &&
                       memcmp(m->piece[id], s, n) == 0))
            return i;
        i = (i + 1) & mask;
    }
}

int spm_piece_to_id(const spm_model *m, const char *s, size_t len) {
    int32_t id = m->hash[hash_slot(m, s, len)];
    return id >= 0 ? id : m->unk_id;
}

static int is_reserved(int type) {
    return type != SPM_NORMAL && type != SPM_USER_DEFINED &&
           type != SPM_UNUSED;
}

/* sp keeps reserved pieces (control, unknown, byte) and the others in two
 * maps and looks in the reserved one first; a repeat within one map is an
 * error. */
static t5e_status map_build(spm_model *m, const char *path, t5e_err *err) {
    m->hash_cap = 16;
    while (m->hash_cap < 2 * (size_t)m->n)
        m->hash_cap *= 2;
    m->hash = xmalloc_array(m->hash_cap, sizeof *m->hash);
    if (!m->hash)
        return err_set(err, T5E_ERR_NOMEM, "%s: piece map", path);
    memset(m->hash, 0xff, m->hash_cap * sizeof *m->hash);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < m->n; i++) {
            if (is_reserved(m->type[i]) != (pass == 0))
                continue;
            size_t k = hash_slot(m, m->piece[i], m->piece_len[i]);
            int32_t old = m->hash[k];
            if (old < 0) {
                m->hash[k] = i;
            } else if (is_reserved(m->type[old]) == (pass == 0)) {
                return err_set(err, T5E_ERR_FORMAT,
                               "%s: piece %d \"%.*s\" is already defined "
                               "(id %d)", path, i, (int)m->piece_len[i],
                               m->piece[i], old);
            }
        }
    }
    return T5E_OK;
}

/* ------------------------------------------------------------------ */
/* Loading checks                                                      */
/* ------------------------------------------------------------------ */

/* "<0xXX>" (upper-case hex) -> 0..255, else -1 (sp PieceToByte). */
static int piece_to_byte(const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    const char *hi = memchr(hex, s[3], 16), *lo = memchr(hex, s[4], 16);
    if (!hi || !lo || !s[3] || !s[4])
        return -1;
    return (int)((hi - hex) * 16 + (lo - hex));
}

static t5e_status check_pieces(spm_model *m, const char *path,
                               t5e_err *err) {
    m->unk_id = -1;
    for (int b = 0; b < 256; b++)
        m->byte_id[b] = -1;
    for (int i = 0; i < m->n; i++) {
        if (m->piece_len[i] == 0)
            return err_set(err, T5E_ERR_FORMAT,
                           "%s: piece %d is empty", path, i);
        if (m->type[i] == SPM_UNKNOWN) {
            if (m->unk_id >= 0)
                return err_set(err, T5E_ERR_FORMAT,
                               "%s: unknown piece defined twice (%d, %d)",
                               path, m->unk_id, i);
            m->unk_id = i;
        }
        if (m->type[i] == SPM_BYTE) {
            int b = piece_to_byte(m->piece[i], m->piece_len[i]);
            if (!m->byte_fallback || b < 0)
                return err_set(err, T5E_ERR_FORMAT,
                               "%s: byte piece %d \"%.*s\" but byte_fallback "
                               "is off or the piece is not <0xXX>", path, i,
                               (int)m->piece_len[i], m->piece[i]);
            m->byte_id[b] = i;
        }
    }
    if (m->unk_id < 0)
        return err_set(err, T5E_ERR_FORMAT, "%s: no unknown piece", path);
    for (int b = 0; b < 256 && m->byte_fallback; b++)
        if (m->byte_id[b] < 0)
            return err_set(err, T5E_ERR_FORMAT,
                           "%s: byte_fallback is on but <0x%02X> is "
                           "missing", path, b);
    return T5E_OK;
}

/* min/max over NORMAL pieces, with sp's FLT_MAX / FLT_MIN start values
 * (so max_score is 0 when every score is negative). */
static void score_range(spm_model *m) {
    float lo = 3.402823466e+38f, hi = 1.175494351e-38f;
    for (int i = 0; i < m->n; i++) {
        if (m->type[i] != SPM_NORMAL)
            continue;
        lo = m->score[i] < lo ? m->score[i] : lo;
        hi = m->score[i] > hi ? m->score[i] : hi;
    }
    m->min_score = lo == 3.402823466e+38f ? 0.0f : lo;
    m->max_score = hi == 1.175494351e-38f ? 0.0f : hi;
}

static t5e_status build_tries(spm_model *m, const char *path,
                              t5e_err *err) {
    int32_t *values = xmalloc_array((size_t)m->n + 1, sizeof *values);
    uint32_t *lens = xmalloc_array((size_t)m->n + 1, sizeof *lens);
    if (!values || !lens) {
        free(values);
        free(lens);
        return err_set(err, T5E_ERR_NOMEM, "%s: piece trie", path);
    }
    int n_user = 0;
    for (int i = 0; i < m->n; i++) {
        values[i] = i;
        lens[i] = is_reserved(m->type[i]) ? 0 : m->piece_len[i];
        n_user += m->type[i] == SPM_USER_DEFINED;
    }
    t5e_status s = spm_trie_build(&m->trie, m->piece, lens, values, m->n,
                                  err);
    if (!s && n_user > 0) {
        for (int i = 0; i < m->n; i++)
            lens[i] = m->type[i] == SPM_USER_DEFINED ? m->piece_len[i] : 0;
        s = spm_trie_build(&m->user_trie, m->piece, lens, values, m->n,
                           err);
    }
    free(values);
    free(lens);
    return s ? err_prefix(err, s, "%s", path) : T5E_OK;
}

/* Copies the piece texts into one arena, each NUL-terminated, so that
 * id_to_piece can hand them out as C strings. */
static t5e_status copy_pieces(spm_model *m, const char *path, t5e_err *err) {
    size_t total = 0;
    for (int i = 0; i < m->n; i++)
        total += (size_t)m->piece_len[i] + 1;
    char *a = malloc(total ? total : 1);
    if (!a)
        return err_set(err, T5E_ERR_NOMEM, "%s: %zu bytes of pieces", path,
                       total);
    char *o = a;
    for (int i = 0; i < m->n; i++) {
        memcpy(o, m->piece[i], m->piece_len[i]);
        o[m->piece_len[i]] = '\0';
        m->piece[i] = o;
        o += m->piece_len[i] + 1;
    }
    m->text = a;
    return T5E_OK;
}

t5e_status spm_model_finish(spm_model *m, const char *path, t5e_err *err) {
    if (m->n <= 0)
        return err_set(err, T5E_ERR_FORMAT, "%s: no pieces", path);
    t5e_status s = copy_pieces(m, path, err);
    if (!s)
        s = check_pieces(m, path, err);
    if (!s)
        s = map_build(m, path, err);
    if (s)
        return s;
    score_range(m);
    return build_tries(m, path, err);
}

void spm_model_free(spm_model *m) {
    if (!m)
        return;
    free(m->piece);
    free(m->piece_len);
    free(m->score);
    free(m->type);
    free(m->hash);
    free(m->arena);
    free(m->text);
    free(m->blob);
    free(m->unk_surface);
    spm_trie_free(&m->trie);
    spm_trie_free(&m->user_trie);
    memset(m, 0, sizeof *m);
}

void spm_work_free(spm_work *w) {
    free(w->norm);
    free(w->best);
    free(w->tok);
    memset(w, 0, sizeof *w);
}

/* ------------------------------------------------------------------ */
/* Viterbi                                                             */
/* ------------------------------------------------------------------ */

/* The best path that ends at a byte position (sp BestPathNode). */
typedef struct {
    float score;
    int32_t start; /* -1: no path ends here yet */
    int32_t id;
} best_node;

static int tok_reserve(spm_work *w, size_t extra) {
    if (w->n_tok + extra <= w->tok_cap)
        return 1;
    size_t cap = w->tok_cap ? w->tok_cap : 64;
    while (cap < w->n_tok + extra)
        cap *= 2;
    spm_token *t = xmalloc_array(cap, sizeof *t);
    if (!t)
        return 0;
    if (w->n_tok)
        memcpy(t, w->tok, w->n_tok * sizeof *t);
    free(w->tok);
    w->tok = t;
    w->tok_cap = cap;
    return 1;
}

/*
 * Fills best[0..n] over w->norm.  Piece candidates are summed in double
 * and stored as float, unknowns in float: sp's user-defined score is a
 * double expression, which makes `auto score` double for every piece.
 * Ties keep the first candidate (strict >), so the earliest start wins.
 */
static void viterbi(const spm_model *m, const char *s, size_t n,
                    best_node *best) {
    const spm_da_unit *u = m->trie.units;
    const int64_t n_units = m->trie.n;
    const float unk_score = m->min_score - UNK_PENALTY;
    for (size_t i = 0; i <= n; i++)
        best[i] = (best_node){0.0f, -1, -1};
    size_t start = 0;
    while (start < n) {
        const float here = best[start].score;
        size_t mblen = (size_t)spm_char_len((uint8_t)s[start]);
        if (mblen > n - start)
            mblen = n - start;
        int has_single = 0;
        int32_t state = 0;
        for (size_t k = start; k < n; k++) {
            int64_t next = (int64_t)u[state].base + (uint8_t)s[k];
            if (next >= n_units || u[next].check != state)
                break;
            state = (int32_t)next;
            int32_t id = u[state].value;
            if (id < 0 || m->type[id] == SPM_UNUSED)
                continue;
            size_t length = k + 1 - start;
            double score = m->type[id] == SPM_USER_DEFINED
                               ? (double)((float)length * m->max_score) - 0.1
                               : (double)m->score[id];
            double cand = score + (double)here;
            best_node *t = &best[k + 1];
            if (t->start < 0 || cand > (double)t->score) {
                t->score = (float)cand;
                t->start = (int32_t)start;
                t->id = id;
            }
            if (length == mblen)
                has_single = 1;
        }
        if (!has_single) {
            best_node *t = &best[start + mblen];
            float cand = unk_score + here;
            if (t->start < 0 || cand > t->score) {
                t->score = cand;
                t->start = (int32_t)start;
                t->id = m->unk_id;
            }
        }
        start += mblen;
    }
}

/* Byte fallback: every unknown piece becomes one <0xXX> per byte.  The
 * path (tok[first..first+count)) is moved up first so that the output,
 * which only grows, never overtakes what is still to be read. */
static int split_bytes(const spm_model *m, spm_work *w, size_t first,
                       size_t count) {
    size_t total = 0;
    for (size_t i = first; i < first + count; i++)
        total += w->tok[i].id == m->unk_id ? w->tok[i].len : 1;
    w->n_tok = first + count;
    if (!tok_reserve(w, total))
        return 0;
    size_t src = first + total;
    memmove(&w->tok[src], &w->tok[first], count * sizeof *w->tok);
    size_t out = first;
    for (size_t i = 0; i < count; i++) {
        spm_token t = w->tok[src + i];
        if (t.id != m->unk_id) {
            w->tok[out++] = t;
            continue;
        }
        for (uint32_t j = 0; j < t.len; j++) {
            uint8_t c = (uint8_t)w->norm[t.off + j];
            w->tok[out++] = (spm_token){m->byte_id[c], t.off + j, 1};
        }
    }
    w->n_tok = out;
    return 1;
}

/* Appends the best path: unknown runs merged, or split into byte pieces. */
static int emit_path(const spm_model *m, spm_work *w, const best_node *best,
                     size_t n) {
    size_t count = 0;
    for (size_t e = n; e > 0; e = (size_t)best[e].start)
        count++;
    size_t first = w->n_tok;
    if (!tok_reserve(w, count))
        return 0;
    size_t k = first + count;
    for (size_t e = n; e > 0; e = (size_t)best[e].start) {
        size_t b = (size_t)best[e].start;
        w->tok[--k] = (spm_token){best[e].id, (uint32_t)b,
                                  (uint32_t)(e - b)};
    }
    if (m->byte_fallback)
        return split_bytes(m, w, first, count);
    /* merge runs of unknowns in place, left to right */
    size_t out = first;
    int prev_unk = 0;
    for (size_t i = first; i < first + count; i++) {
        spm_token t = w->tok[i];
        int unk = t.id == m->unk_id;
        if (unk && prev_unk)
            w->tok[out - 1].len += t.len;
        else
            w->tok[out++] = t;
        prev_unk = unk;
    }
    w->n_tok = out;
    return 1;
}

t5e_status spm_encode(const spm_model *m, const char *text, size_t len,
                      int add_dummy_prefix, int append, spm_work *w,
                      t5e_err *err) {
    if (!append)
        w->n_tok = 0;
    t5e_status s = spm_normalize(m, text, len, add_dummy_prefix, w, err);
    if (s)
        return s;
    size_t n = w->norm_len;
    if (n == 0)
        return T5E_OK;
    if (n >= INT32_MAX)
        return err_set(err, T5E_ERR_ARG, "encode: text of %zu bytes is too "
                       "long", len);
    if (w->best_cap < n + 1) {
        void *p = xmalloc_array(n + 1, sizeof(best_node));
        if (!p)
            return err_set(err, T5E_ERR_NOMEM, "encode: %zu bytes", n);
        free(w->best);
        w->best = p;
        w->best_cap = n + 1;
    }
    viterbi(m, w->norm, n, w->best);
    if (!emit_path(m, w, w->best, n))
        return err_set(err, T5E_ERR_NOMEM, "encode: %zu bytes", n);
    return T5E_OK;
}

const char *spm_token_text(const spm_model *m, const spm_work *w,
                           const spm_token *t, size_t *len) {
    if (t->id == m->unk_id) {
        *len = t->len;
        return w->norm + t->off;
    }
    *len = m->piece_len[t->id];
    return m->piece[t->id];
}

/* ------------------------------------------------------------------ */
/* Decode                                                              */
/* ------------------------------------------------------------------ */

int spm_str_put(spm_str *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p)
            return 0;
        b->s = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
    return 1;
}

/* Byte pieces: each valid UTF-8 character as is, each bad byte U+FFFD. */
static int put_bytes(spm_str *out, const uint8_t *bytes, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t k;
        if (!spm_utf8_valid((const char *)bytes + i, n - i, &k)) {
            if (!spm_str_put(out, "\xef\xbf\xbd", 3))
                return 0;
            i += 1;
            continue;
        }
        if (!spm_str_put(out, (const char *)bytes + i, k))
            return 0;
        i += k;
    }
    return 1;
}

/* One non-byte piece (sp DecodeSentencePiece); bos: nothing written yet. */
static int put_piece(const spm_model *m, spm_str *out, const char *p,
                     size_t n, int id, int bos) {
    int type = m->type[id];
    if (type == SPM_CONTROL)
        return 1;
    if (type == SPM_UNKNOWN) {
        if (n == m->piece_len[id] && memcmp(p, m->piece[id], n) == 0)
            return spm_str_put(out, m->unk_surface, strlen(m->unk_surface));
        return spm_str_put(out, p, n);
    }
    if (bos && (m->add_dummy_prefix || m->remove_extra_ws) && n >= 3 &&
        memcmp(p, SPACE_SYMBOL, 3) == 0) {
        p += 3;
        n -= 3;
    }
    size_t i = 0, from = 0;
    while (i + 3 <= n) {
        if (memcmp(p + i, SPACE_SYMBOL, 3) == 0) {
            if (!spm_str_put(out, p + from, i - from) ||
                !spm_str_put(out, " ", 1))
                return 0;
            i += 3;
            from = i;
        } else {
            i++;
        }
    }
    return spm_str_put(out, p + from, n - from);
}

t5e_status spm_decode_pieces(const spm_model *m, const char *const *pieces,
                             const size_t *lens, int n, spm_str *out,
                             t5e_err *err) {
    size_t start = out->n;
    uint8_t *bytes = NULL;
    size_t nb = 0;
    int ok = 1;
    if (!spm_str_put(out, "", 0))
        return err_set(err, T5E_ERR_NOMEM, "decode of %d pieces", n);
    for (int i = 0; i < n && ok; i++) {
        int id = spm_piece_to_id(m, pieces[i], lens[i]);
        if (m->type[id] == SPM_BYTE) {
            if (!bytes && !(bytes = malloc((size_t)n)))
                ok = 0;
            else
                bytes[nb++] = (uint8_t)piece_to_byte(m->piece[id],
                                                     m->piece_len[id]);
            continue;
        }
        ok = put_bytes(out, bytes, nb);
        nb = 0;
        ok = ok && put_piece(m, out, pieces[i], lens[i], id,
                             out->n == start);
    }
    ok = ok && put_bytes(out, bytes, nb);
    free(bytes);
    if (!ok)
        return err_set(err, T5E_ERR_NOMEM, "decode of %d pieces", n);
    return T5E_OK;
}
