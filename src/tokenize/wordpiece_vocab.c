/*
 * wordpiece_vocab.c - the token -> id map and the greedy longest-match
 * WordPiece split of one word.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenize/wordpiece.h"

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u

static uint32_t hash_bytes(uint32_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= FNV_PRIME;
    }
    return h;
}

void wp_map_free(wp_map *m) {
    free(m->slots);
    free(m->entries);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

const char *wp_map_key(const wp_map *m, const wp_entry *e) {
    return m->arena + e->off;
}

/* Doubles the slot table (kept at most half full) and re-inserts. */
static int map_grow_slots(wp_map *m) {
    uint32_t cap = m->cap ? 2 * m->cap : 1024;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (uint32_t i = 0; i < m->n; i++) {
        uint32_t k = m->entries[i].hash & (cap - 1);
        while (slots[k])
            k = (k + 1) & (cap - 1);
        slots[k] = i + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

static int map_append_key(wp_map *m, const char *key, size_t len,
                          uint32_t *off) {
    if (len > UINT32_MAX / 2 || m->arena_len + len + 1 > UINT32_MAX)
        return -1;
    if (m->arena_len + len + 1 > m->arena_cap) {
        size_t cap = m->arena_cap ? m->arena_cap : 4096;
        while (cap < m->arena_len + len + 1)
            cap *= 2;
        char *a = realloc(m->arena, cap);
        if (!a)
            return -1;
        m->arena = a;
        m->arena_cap = cap;
    }
    *off = (uint32_t)m->arena_len;
    memcpy(m->arena + m->arena_len, key, len);
    m->arena[m->arena_len + len] = '\0';
    m->arena_len += len + 1;
    return 0;
}

/* Slot index holding prefix+key, or the empty slot where it would go. */
static uint32_t map_find(const wp_map *m, uint32_t h, const char *prefix,
                         size_t plen, const char *key, size_t len) {
    uint32_t k = h & (m->cap - 1);
    for (;;) {
        uint32_t s = m->slots[k];
        if (!s)
            return k;
        const wp_entry *e = &m->entries[s - 1];
        if (e->hash == h && e->len == plen + len &&
            memcmp(m->arena + e->off, prefix, plen) == 0 &&
            memcmp(m->arena + e->off + plen, key, len) == 0)
            return k;
        k = (k + 1) & (m->cap - 1);
    }
}

int wp_map_put(wp_map *m, const char *key, size_t len, int id,
               int in_vocab) {
    if (2 * (m->n + 1) > m->cap && map_grow_slots(m))
        return -1;
    uint32_t h = hash_bytes(FNV_BASIS, key, len);
    uint32_t k = map_find(m, h, "", 0, key, len);
    if (m->slots[k]) {
        wp_entry *e = &m->entries[m->slots[k] - 1];
        e->id = id;
        e->in_vocab |= in_vocab;
        if (in_vocab && len > m->max_key)
            m->max_key = len;
        return (int)(m->slots[k] - 1);
    }
    if (m->n == m->n_cap) {
        uint32_t cap = m->n_cap ? 2 * m->n_cap : 1024;
        wp_entry *e = realloc(m->entries, cap * sizeof *e);
        if (!e)
            return -1;
        m->entries = e;
        m->n_cap = cap;
    }
    wp_entry *e = &m->entries[m->n];
    if (map_append_key(m, key, len, &e->off))
        return -1;
    e->len = (uint32_t)len;
    e->hash = h;
    e->id = id;
    e->in_vocab = in_vocab;
    if (in_vocab && len > m->max_key)
        m->max_key = len;
    m->slots[k] = ++m->n;
    return (int)(m->n - 1);
}

const wp_entry *wp_map_get(const wp_map *m, const char *prefix,
                           size_t plen, const char *key, size_t len) {
    if (!m->cap)
        return NULL;
    if (!prefix)
        plen = 0;
    uint32_t h = hash_bytes(hash_bytes(FNV_BASIS, prefix, plen), key, len);
    uint32_t k = map_find(m, h, prefix ? prefix : "", plen, key, len);
    return m->slots[k] ? &m->entries[m->slots[k] - 1] : NULL;
}

int wp_token_id(const wordpiece *wp, const char *tok, size_t len) {
    const wp_entry *e = wp_map_get(&wp->map, NULL, 0, tok, len);
    return e ? e->id : wp->unk;
}

int wp_ids_push(wp_ids *ids, int32_t id) {
    if (ids->n == ids->cap) {
        if (ids->cap > INT32_MAX / 2)
            return -1;
        int cap = ids->cap ? 2 * ids->cap : 64;
        int32_t *v = realloc(ids->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return 0;
}

/*
 * The longest vocabulary piece that starts at byte `start` of w, tried
 * from the longest candidate down as the reference does, but never
 * longer than the longest key: a longer candidate cannot match, and
 * skipping it keeps the split linear in the word length.  Returns the
 * end byte of the match, or 0 when nothing matches; *id gets its id.
 */
static size_t longest_piece(const wordpiece *wp, const char *w, size_t nb,
                            size_t start, int32_t *id) {
    size_t plen = start ? wp->prefix_len : 0;
    size_t room = wp->map.max_key > plen ? wp->map.max_key - plen : 0;
    size_t end = nb - start > room ? start + room : nb;
    /* back off to a code point boundary */
    while (end > start && end < nb && ((uint8_t)w[end] & 0xC0) == 0x80)
        end--;
    while (end > start) {
        const wp_entry *e = wp_map_get(&wp->map, start ? wp->prefix : NULL,
                                       plen, w + start, end - start);
        if (e && e->in_vocab) {
            *id = e->id;
            return end;
        }
        do
            end--;
        while (end > start && ((uint8_t)w[end] & 0xC0) == 0x80);
    }
    return 0;
}

int wp_split_word(const wordpiece *wp, const char *w, size_t nb, size_t nc,
                  wp_ids *out) {
    if (nc > (size_t)wp->max_chars)
        return wp_ids_push(out, wp->unk);
    int first = out->n;
    size_t start = 0;
    while (start < nb) {
        int32_t id;
        size_t end = longest_piece(wp, w, nb, start, &id);
        if (!end) {
            out->n = first;  /* the whole word becomes unk */
            return wp_ids_push(out, wp->unk);
        }
        if (wp_ids_push(out, id))
            return -1;
        start = end;
    }
    return 0;
}
