/*
 * spm_trie.c - a byte-keyed double-array trie, built once at load.
 *
 * Viterbi walks the trie one byte at a time from every character position,
 * so a transition must be two loads and a compare: state t = base[s] + c is
 * a child of s when check[t] == s.  Building places each node's children at
 * the first base where all their slots are free (first fit).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenize/spm.h"

typedef struct {
    const char *const *keys;
    const uint32_t *lens;
} key_set;

static const key_set *sort_keys; /* qsort has no context argument */

static int key_compare(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    uint32_t li = sort_keys->lens[i], lj = sort_keys->lens[j];
    int c = memcmp(sort_keys->keys[i], sort_keys->keys[j],
                   li < lj ? li : lj);
    if (c)
        return c;
    if (li != lj)
        return li < lj ? -1 : 1;
    return i < j ? -1 : (i > j); /* stable: the first of equal keys wins */
}

/* Free slots form a doubly linked list (next / prev, -1 ends it), so that
 * looking for a base skips the used ones. */
typedef struct {
    spm_trie *t;
    int32_t cap;
    int32_t *next, *prev;
    int32_t head, tail;
} builder;

static int builder_grow(builder *b, int64_t need) {
    if (need <= b->cap)
        return 1;
    int64_t cap = b->cap ? b->cap : 1024;
    while (cap < need)
        cap *= 2;
    if (cap > INT32_MAX)
        return 0;
    spm_da_unit *u = realloc(b->t->units, (size_t)cap * sizeof *u);
    if (u)
        b->t->units = u;
    int32_t *nx = realloc(b->next, (size_t)cap * sizeof *nx);
    if (nx)
        b->next = nx;
    int32_t *pv = realloc(b->prev, (size_t)cap * sizeof *pv);
    if (pv)
        b->prev = pv;
    if (!u || !nx || !pv)
        return 0;
    for (int64_t i = b->cap; i < cap; i++) {
        u[i] = (spm_da_unit){0, -1, -1};
        nx[i] = -1;
        pv[i] = b->tail;
        if (b->tail >= 0)
            nx[b->tail] = (int32_t)i;
        else
            b->head = (int32_t)i;
        b->tail = (int32_t)i;
    }
    b->cap = (int32_t)cap;
    return 1;
}

/* Marks slot i used (check = parent) and unlinks it from the free list. */
static void builder_use(builder *b, int64_t i, int32_t parent) {
    b->t->units[i].check = parent;
    int32_t nx = b->next[i], pv = b->prev[i];
    if (pv >= 0)
        b->next[pv] = nx;
    else
        b->head = nx;
    if (nx >= 0)
        b->prev[nx] = pv;
    else
        b->tail = pv;
}

/* Finds a base where every label of the node lands on a free slot. */
static int64_t builder_find_base(builder *b, const uint8_t *labels, int n) {
    for (int64_t pos = b->head;; pos = b->next[pos]) {
        if (pos < 0) { /* no free slot fits: add room at the end */
            pos = b->cap;
            if (!builder_grow(b, (int64_t)b->cap + 512))
                return -1;
        }
        int64_t base = pos - labels[0];
        if (base < 1)
            continue;
        if (!builder_grow(b, base + 256))
            return -1;
        const spm_da_unit *u = b->t->units;
        int ok = 1;
        for (int k = 1; k < n && ok; k++)
            ok = u[base + labels[k]].check == -1;
        if (ok)
            return base;
    }
}

typedef struct {
    int32_t state, lo, hi, depth;
} build_frame;

/* Places the children of one node (keys [lo, hi) share depth bytes). */
static int builder_node(builder *b, const key_set *ks, const int *order,
                        const int32_t *values, build_frame f,
                        build_frame *stack, int *top) {
    int lo = f.lo;
    while (lo < f.hi && ks->lens[order[lo]] == (uint32_t)f.depth) {
        if (b->t->units[f.state].value < 0)
            b->t->units[f.state].value = values[order[lo]];
        lo++;
    }
    if (lo == f.hi)
        return 1;
    uint8_t labels[256];
    int n = 0;
    for (int i = lo; i < f.hi; i++) {
        uint8_t c = (uint8_t)ks->keys[order[i]][f.depth];
        if (n == 0 || labels[n - 1] != c)
            labels[n++] = c;
    }
    int64_t base = builder_find_base(b, labels, n);
    if (base < 0)
        return 0;
    b->t->units[f.state].base = (int32_t)base;
    for (int k = 0; k < n; k++)
        builder_use(b, base + labels[k], f.state);
    /* one frame per child: the run of keys with that label */
    int start = lo;
    for (int i = lo; i <= f.hi; i++) {
        int end = i == f.hi ||
                  (uint8_t)ks->keys[order[i]][f.depth] !=
                      (uint8_t)ks->keys[order[start]][f.depth];
        if (!end)
            continue;
        uint8_t c = (uint8_t)ks->keys[order[start]][f.depth];
        stack[(*top)++] = (build_frame){(int32_t)(base + c), start, i,
                                        f.depth + 1};
        start = i;
    }
    return 1;
}

t5e_status spm_trie_build(spm_trie *t, const char *const *keys,
                          const uint32_t *lens, const int32_t *values,
                          int n, t5e_err *err) {
    memset(t, 0, sizeof *t);
    int *order = xmalloc_array((size_t)n + 1, sizeof *order);
    /* at most one pending frame per key plus one per node being split */
    build_frame *stack = xmalloc_array((size_t)n + 2, sizeof *stack);
    builder b = {t, 0, NULL, NULL, -1, -1};
    int ok = order && stack && builder_grow(&b, 1024);
    if (!ok) {
        free(order);
        free(stack);
        free(b.next);
        free(b.prev);
        spm_trie_free(t);
        return err_set(err, T5E_ERR_NOMEM, "piece trie of %d keys", n);
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (lens[i] > 0)
            order[m++] = i;
    key_set ks = {keys, lens};
    sort_keys = &ks;
    qsort(order, (size_t)m, sizeof *order, key_compare);
    sort_keys = NULL;

    builder_use(&b, 0, -2); /* the root: used, child of nothing */
    int top = 0;
    if (m > 0)
        stack[top++] = (build_frame){0, 0, m, 0};
    while (top > 0 && ok) {
        build_frame f = stack[--top];
        ok = builder_node(&b, &ks, order, values, f, stack, &top);
    }
    free(order);
    free(stack);
    free(b.next);
    free(b.prev);
    t->n = b.cap;
    if (!ok) {
        spm_trie_free(t);
        return err_set(err, T5E_ERR_NOMEM, "piece trie of %d keys", n);
    }
    return T5E_OK;
}

void spm_trie_free(spm_trie *t) {
    free(t->units);
    memset(t, 0, sizeof *t);
}

size_t spm_trie_longest(const spm_trie *t, const char *s, size_t len,
                        int32_t *value) {
    size_t best = 0;
    int32_t state = 0;
    for (size_t i = 0; i < len && t->n > 0; i++) {
        int64_t next = (int64_t)t->units[state].base + (uint8_t)s[i];
        if (next >= t->n || t->units[next].check != state)
            break;
        state = (int32_t)next;
        if (t->units[state].value >= 0) {
            best = i + 1;
            *value = t->units[state].value;
        }
    }
    return best;
}
