/*
 * spm_norm.c - SentencePiece normalization (sp Normalizer, 0.1.97).
 *
 * At each position: a user-defined piece that prefixes the rest is copied
 * unchanged; else the longest charsmap key that prefixes it is replaced by
 * its string; else one UTF-8 character is copied, and an invalid byte
 * becomes U+FFFD (one byte consumed).  Then whitespace: leading spaces
 * dropped, runs collapsed, trailing ones dropped (remove_extra_whitespaces),
 * a U+2581 prefix added (add_dummy_prefix) and spaces written as U+2581
 * (escape_whitespaces).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenize/spm.h"

#define SPACE_SYMBOL "\xe2\x96\x81"
#define REPLACEMENT_CHAR "\xef\xbf\xbd"

/* sp keeps at most this many trie matches per position (stack array). */
#define CHARSMAP_MAX_MATCHES 32

t5e_status spm_charsmap_init(spm_charsmap *cm, const uint8_t *blob,
                             size_t len, const char *path, t5e_err *err) {
    memset(cm, 0, sizeof *cm);
    if (len <= 4)
        return err_set(err, T5E_ERR_FORMAT,
                       "%s: precompiled_charsmap of %zu bytes is too short",
                       path, len);
    uint32_t trie_size = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 |
                         (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (trie_size >= len)
        return err_set(err, T5E_ERR_FORMAT,
                       "%s: precompiled_charsmap trie size %u exceeds the "
                       "blob (%zu bytes)", path, trie_size, len);
    /* as in sp: the trie is the next trie_size bytes, the rest strings */
    cm->units = (const uint32_t *)(const void *)(blob + 4);
    cm->n_units = trie_size / 4;
    size_t rest = len - 4 - trie_size;
    cm->strings = (const char *)blob + 4 + trie_size;
    cm->n_strings = rest;
    return T5E_OK;
}

static inline uint32_t charsmap_unit(const spm_charsmap *cm, size_t i) {
    uint32_t u;
    memcpy(&u, (const uint8_t *)cm->units + 4 * i, 4);
    return u; /* the blob is little-endian, as is every supported host */
}

/* darts-clone commonPrefixSearch; returns the longest match's length. */
static size_t charsmap_longest(const spm_charsmap *cm, const char *s,
                               size_t len, uint32_t *value) {
    if (cm->n_units == 0)
        return 0;
    size_t best = 0, found = 0;
    uint32_t unit = charsmap_unit(cm, 0);
    size_t pos = (unit >> 10) << ((unit & (1u << 9)) >> 6);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        pos ^= c;
        if (pos >= cm->n_units)
            return best;
        unit = charsmap_unit(cm, pos);
        if ((unit & ((1u << 31) | 0xffu)) != c)
            return best;
        pos ^= (unit >> 10) << ((unit & (1u << 9)) >> 6);
        if ((unit >> 8) & 1) {
            if (pos >= cm->n_units)
                return best;
            if (found++ < CHARSMAP_MAX_MATCHES) {
                best = i + 1;
                *value = charsmap_unit(cm, pos) & 0x7fffffffu;
            }
        }
    }
    return best;
}

/*
 * sp IsValidDecodeUTF8: 1 when s starts with a well-formed character
 * (no overlongs, no surrogates, <= U+10FFFF), with its length in *n.
 */
int spm_utf8_valid(const char *s, size_t len, size_t *n) {
    const uint8_t *u = (const uint8_t *)s;
    *n = 1;
    if (u[0] < 0x80)
        return 1;
    uint32_t cp;
    size_t k;
    if (len >= 2 && (u[0] & 0xe0) == 0xc0) {
        cp = (uint32_t)(u[0] & 0x1f) << 6;
        k = 2;
    } else if (len >= 3 && (u[0] & 0xf0) == 0xe0) {
        cp = (uint32_t)(u[0] & 0x0f) << 12;
        k = 3;
    } else if (len >= 4 && (u[0] & 0xf8) == 0xf0) {
        cp = (uint32_t)(u[0] & 0x07) << 18;
        k = 4;
    } else {
        return 0;
    }
    for (size_t i = 1; i < k; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 0;
        cp |= (uint32_t)(u[i] & 0x3f) << (6 * (k - 1 - i));
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[k] || (cp >= 0xd800 && cp < 0xe000) || cp > 0x10ffff)
        return 0;
    *n = k;
    return 1;
}

/* sp NormalizePrefix: the replacement of the text's head and how many
 * input bytes it consumes. */
static const char *norm_prefix(const spm_model *m, const char *s,
                               size_t len, size_t *out_len,
                               size_t *consumed) {
    int32_t id;
    if (m->user_trie.n > 0) {
        size_t k = spm_trie_longest(&m->user_trie, s, len, &id);
        if (k > 0) {
            *out_len = *consumed = k;
            return s;
        }
    }
    uint32_t value;
    size_t k = m->has_charsmap ? charsmap_longest(&m->charsmap, s, len,
                                                  &value) : 0;
    if (k > 0) {
        *consumed = k;
        if (value >= m->charsmap.n_strings) {
            *out_len = 0; /* a broken blob: treat as "maps to nothing" */
            return s;
        }
        const char *r = m->charsmap.strings + value;
        *out_len = strnlen(r, m->charsmap.n_strings - value);
        return r;
    }
    size_t n;
    if (!spm_utf8_valid(s, len, &n)) {
        *consumed = 1;
        *out_len = 3;
        return REPLACEMENT_CHAR;
    }
    *out_len = *consumed = n;
    return s;
}

static int norm_reserve(spm_work *w, size_t extra) {
    if (w->norm_len + extra <= w->norm_cap)
        return 1;
    size_t cap = w->norm_cap ? w->norm_cap : 256;
    while (cap < w->norm_len + extra)
        cap *= 2;
    char *p = realloc(w->norm, cap);
    if (!p)
        return 0;
    w->norm = p;
    w->norm_cap = cap;
    return 1;
}

/* Appends one normalized piece, spaces escaped; returns 0 on NOMEM. */
static int norm_append(const spm_model *m, spm_work *w, const char *p,
                       size_t n) {
    if (!norm_reserve(w, 3 * n))
        return 0;
    char *o = w->norm + w->norm_len;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ' && m->escape_ws) {
            memcpy(o, SPACE_SYMBOL, 3);
            o += 3;
        } else {
            *o++ = p[i];
        }
    }
    w->norm_len = (size_t)(o - w->norm);
    return 1;
}

t5e_status spm_normalize(const spm_model *m, const char *text, size_t len,
                         int add_dummy_prefix, spm_work *w, t5e_err *err) {
    w->norm_len = 0;
    size_t out_n, used;
    const char *r;
    if (m->remove_extra_ws) {
        while (len > 0) {
            r = norm_prefix(m, text, len, &out_n, &used);
            if (!(out_n == 1 && r[0] == ' '))
                break;
            text += used;
            len -= used;
        }
    }
    if (len == 0)
        return T5E_OK;
    if (!norm_reserve(w, len + 16))
        return err_set(err, T5E_ERR_NOMEM, "normalizing %zu bytes", len);
    if (add_dummy_prefix && !norm_append(m, w, " ", 1))
        return err_set(err, T5E_ERR_NOMEM, "normalizing %zu bytes", len);

    int prev_space = m->remove_extra_ws;
    while (len > 0) {
        r = norm_prefix(m, text, len, &out_n, &used);
        if (prev_space)
            while (out_n > 0 && r[0] == ' ') {
                r++;
                out_n--;
            }
        if (out_n > 0) {
            if (!norm_append(m, w, r, out_n))
                return err_set(err, T5E_ERR_NOMEM, "normalizing %zu bytes",
                               len);
            prev_space = r[out_n - 1] == ' ';
        }
        text += used;
        len -= used;
        if (!m->remove_extra_ws)
            prev_space = 0;
    }

    if (m->remove_extra_ws) {
        const char *sp = m->escape_ws ? SPACE_SYMBOL : " ";
        size_t k = m->escape_ws ? 3 : 1;
        while (w->norm_len >= k &&
               memcmp(w->norm + w->norm_len - k, sp, k) == 0)
            w->norm_len -= k;
    }
    return T5E_OK;
}
