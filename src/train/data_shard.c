/*
 * data_shard.c - token shards: raw text tokenized once into a binary file
 * (layout in data.h), memory-mapped and validated on open.
 *
 * The builder streams its input with getline and spools tokens and offsets
 * into unlinked scratch files beside the output, because the header (which
 * holds the counts) comes first and atomic_file only appends.  Nothing is
 * proportional to the corpus in memory, so corpora larger than RAM work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/data.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_update(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

uint64_t data_vocab_hash(const t5e_tokenizer *tok) {
    uint64_t h = FNV_OFFSET;
    int V = t5e_tokenizer_vocab_size(tok);
    for (int id = 0; id < V; id++) {
        const char *piece = t5e_tokenizer_id_to_piece(tok, id);
        if (piece)
            h = fnv_update(h, piece, strlen(piece));
        h = fnv_update(h, "\n", 1); /* keeps "ab","c" apart from "a","bc" */
    }
    return h;
}

/* ------------------------------------------------------------------ */
/* Random helpers shared by the readers                                */
/* ------------------------------------------------------------------ */

double data_rand_double(rng_state *r) {
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t data_rand_below(rng_state *r, uint64_t n) {
    /* rejection keeps it exactly uniform; rarely loops for small n */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = rng_next(r);
    while (x >= limit);
    return x % n;
}

void data_permutation(uint64_t *order, uint64_t n, uint64_t seed,
                      uint64_t stream, uint64_t epoch) {
    rng_state r;
    /* distinct odd multipliers keep (stream, epoch) pairs apart */
    rng_seed(&r, seed ^ (stream * 0x9e3779b97f4a7c15ULL) ^
                     (epoch * 0xd1b54a32d192ed03ULL));
    for (uint64_t i = 0; i < n; i++)
        order[i] = i;
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = data_rand_below(&r, i);
        uint64_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* ------------------------------------------------------------------ */
/* Building                                                            */
/* ------------------------------------------------------------------ */

/* An append-only scratch file that is gone once closed. */
typedef struct {
    FILE *f;
    uint64_t n; /* items written */
} spool;

static t5e_status spool_open(spool *s, const char *out_path,
                             const char *tag, t5e_err *err) {
    size_t len = strlen(out_path) + strlen(tag) + 40;
    char *path = malloc(len);
    if (!path)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", out_path);
    snprintf(path, len, "%s.%s.scratch.%ld", out_path, tag, (long)getpid());
    s->n = 0;
    s->f = fopen(path, "w+b");
    if (!s->f) {
        t5e_status st = err_set(err, T5E_ERR_IO,
                                "%s: cannot create scratch file", path);
        free(path);
        return st;
    }
    unlink(path); /* the open handle keeps it alive; a crash leaves none */
    free(path);
    return T5E_OK;
}

static t5e_status spool_put(spool *s, const void *item, size_t size,
                            size_t count, const char *out_path,
                            t5e_err *err) {
    if (fwrite(item, size, count, s->f) != count)
        return err_set(err, T5E_ERR_IO, "%s: writing scratch data failed",
                       out_path);
    s->n += count;
    return T5E_OK;
}

/* Appends the spooled bytes to the output, then closes the spool. */
static t5e_status spool_drain(spool *s, atomic_file *out,
                              const char *out_path, t5e_err *err) {
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    t5e_status st = T5E_OK;
    if (!buf)
        st = err_set(err, T5E_ERR_NOMEM, "%s: out of memory", out_path);
    if (!st && (fflush(s->f) != 0 || fseek(s->f, 0, SEEK_SET) != 0))
        st = err_set(err, T5E_ERR_IO, "%s: rereading scratch data failed",
                     out_path);
    size_t got;
    while (!st && (got = fread(buf, 1, CHUNK, s->f)) > 0)
        st = atomic_file_write(out, buf, got, err);
    if (!st && ferror(s->f))
        st = err_set(err, T5E_ERR_IO, "%s: reading scratch data failed",
                     out_path);
    free(buf);
    return st;
}

static void spool_close(spool *s) {
    if (s->f)
        fclose(s->f);
    s->f = NULL;
}

typedef struct {
    const t5e_tokenizer *tok;
    const char *out_path;
    int vocab_size;
    spool tokens, lines, docs;
    uint64_t doc_lines; /* lines in the document being built */
    uint64_t token_hash;
} shard_builder;

static int line_is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' &&
            s[i] != '\v' && s[i] != '\n')
            return 0;
    return 1;
}

/* Closes the current document if it holds any line. */
static t5e_status builder_end_doc(shard_builder *b, t5e_err *err) {
    if (b->doc_lines == 0)
        return T5E_OK;
    b->doc_lines = 0;
    uint64_t first_line_of_next = b->lines.n;
    return spool_put(&b->docs, &first_line_of_next, 8, 1, b->out_path, err);
}

static t5e_status builder_add_line(shard_builder *b, const char *file,
                                   uint64_t line_no, const char *text,
                                   size_t len, t5e_err *err) {
    t5e_encode_options opt;
    t5e_encode_options_default(&opt);
    opt.add_special_tokens = 0;
    t5e_encoding enc = {0};
    t5e_status st = t5e_tokenizer_encode(b->tok, text, (long)len, NULL, 0,
                                         &opt, &enc, err);
    if (st)
        return err_prefix(err, st, "%s:%llu", file,
                          (unsigned long long)line_no);
    if (enc.n == 0) {
        t5e_encoding_free(&enc);
        return T5E_OK;
    }
    if (b->doc_lines == 0 && b->docs.n == 0) {
        uint64_t zero = 0; /* doc_starts[0] */
        st = spool_put(&b->docs, &zero, 8, 1, b->out_path, err);
    }
    uint64_t start = b->tokens.n;
    if (!st)
        st = spool_put(&b->lines, &start, 8, 1, b->out_path, err);
    for (int i = 0; !st && i < enc.n; i++) {
        uint32_t id = (uint32_t)enc.ids[i];
        if (enc.ids[i] < 0 || enc.ids[i] >= b->vocab_size)
            st = err_set(err, T5E_ERR_FORMAT,
                         "%s:%llu: tokenizer gave id %d outside [0, %d)",
                         file, (unsigned long long)line_no, enc.ids[i],
                         b->vocab_size);
        else
            st = spool_put(&b->tokens, &id, 4, 1, b->out_path, err);
        b->token_hash = fnv_update(b->token_hash, &id, 4);
    }
    b->doc_lines++;
    t5e_encoding_free(&enc);
    return st;
}

static t5e_status builder_add_file(shard_builder *b, const char *path,
                                   shard_progress_fn progress, void *ctx,
                                   t5e_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, T5E_ERR_IO, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t line_no = 0, bytes = 0, next_report = 1 << 20;
    t5e_status st = T5E_OK;
    while (!st && (len = getline(&line, &cap, f)) >= 0) {
        line_no++;
        bytes += (uint64_t)len;
        size_t n = (size_t)len;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (line_is_blank(line, n))
            st = builder_end_doc(b, err);
        else
            st = builder_add_line(b, path, line_no, line, n, err);
        if (progress && bytes >= next_report) {
            progress(ctx, path, bytes, b->tokens.n);
            next_report = bytes + (1 << 20);
        }
    }
    if (!st && ferror(f))
        st = err_set(err, T5E_ERR_IO, "%s: read failed after line %llu",
                     path, (unsigned long long)line_no);
    free(line);
    fclose(f);
    if (!st)
        st = builder_end_doc(b, err);
    if (!st && progress)
        progress(ctx, path, bytes, b->tokens.n);
    return st;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Header, then the three spools in file order. */
static t5e_status builder_write(shard_builder *b, t5e_err *err) {
    uint8_t head[SHARD_HEADER_BYTES] = {0};
    uint64_t n_lines = b->lines.n, n_docs = b->docs.n - 1;
    memcpy(head, SHARD_MAGIC, 8);
    put_u32(head + 8, SHARD_VERSION);
    put_u32(head + 12, (uint32_t)b->vocab_size);
    put_u64(head + 16, b->tokens.n);
    put_u64(head + 24, n_lines);
    put_u64(head + 32, n_docs);
    put_u64(head + 40, data_vocab_hash(b->tok));
    put_u64(head + 48, b->token_hash);

    /* closing entries of the offset tables */
    uint64_t end_tok = b->tokens.n;
    t5e_status st = spool_put(&b->lines, &end_tok, 8, 1, b->out_path, err);
    if (st)
        return st;
    atomic_file *out;
    if ((st = atomic_file_open(b->out_path, &out, err)))
        return st;
    static const uint8_t zeros[8] = {0};
    st = atomic_file_write(out, head, sizeof head, err);
    if (!st)
        st = spool_drain(&b->tokens, out, b->out_path, err);
    if (!st && (b->tokens.n & 1))
        st = atomic_file_write(out, zeros, 4, err);
    if (!st)
        st = spool_drain(&b->lines, out, b->out_path, err);
    if (!st)
        st = spool_drain(&b->docs, out, b->out_path, err);
    if (st) {
        atomic_file_abort(out);
        return st;
    }
    return atomic_file_commit(out, err);
}

t5e_status shard_build(const char *const *files, int n,
                       const t5e_tokenizer *tok, const char *out_path,
                       shard_progress_fn progress, void *ctx, t5e_err *err) {
    if (n <= 0)
        return err_set(err, T5E_ERR_ARG, "%s: no input files", out_path);
    shard_builder b = {.tok = tok, .out_path = out_path,
                       .vocab_size = t5e_tokenizer_vocab_size(tok),
                       .token_hash = FNV_OFFSET};
    t5e_status st = spool_open(&b.tokens, out_path, "tokens", err);
    if (!st)
        st = spool_open(&b.lines, out_path, "lines", err);
    if (!st)
        st = spool_open(&b.docs, out_path, "docs", err);
    for (int i = 0; !st && i < n; i++)
        st = builder_add_file(&b, files[i], progress, ctx, err);
    if (!st && b.tokens.n == 0)
        st = err_set(err, T5E_ERR_FORMAT,
                     "%s: the input files hold no tokens", files[0]);
    if (!st)
        st = builder_write(&b, err);
    spool_close(&b.tokens);
    spool_close(&b.lines);
    spool_close(&b.docs);
    return st;
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

static uint32_t get_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The file size the header's counts imply; 0 on overflow. */
static uint64_t shard_expected_size(uint64_t n_tok, uint64_t n_lines,
                                    uint64_t n_docs) {
    const uint64_t lim = (uint64_t)1 << 56; /* far above any disk */
    if (n_tok >= lim || n_lines >= lim || n_docs >= lim)
        return 0;
    uint64_t tok_bytes = (n_tok * 4 + 7) & ~(uint64_t)7;
    return SHARD_HEADER_BYTES + tok_bytes + (n_lines + 1) * 8 +
           (n_docs + 1) * 8;
}

static t5e_status shard_check_header(const char *path, const file_map *m,
                                     token_shard *sh, t5e_err *err) {
    if (m->len < SHARD_HEADER_BYTES)
        return err_set(err, T5E_ERR_FORMAT,
                       "%s: %zu bytes, shorter than the %d-byte shard "
                       "header (truncated?)", path, m->len,
                       SHARD_HEADER_BYTES);
    if (memcmp(m->data, SHARD_MAGIC, 8) != 0)
        return err_set(err, T5E_ERR_FORMAT,
                       "%s: not a token shard (magic is not %s)", path,
                       SHARD_MAGIC);
    uint32_t version = get_u32(m->data + 8);
    if (version != SHARD_VERSION)
        return err_set(err, T5E_ERR_UNSUPPORTED,
                       "%s: shard version %u, expected %d", path, version,
                       SHARD_VERSION);
    sh->vocab_size = get_u32(m->data + 12);
    sh->n_tokens = get_u64(m->data + 16);
    sh->n_lines = get_u64(m->data + 24);
    sh->n_docs = get_u64(m->data + 32);
    sh->vocab_hash = get_u64(m->data + 40);
    sh->token_hash = get_u64(m->data + 48);
    if (sh->vocab_size == 0 || sh->n_tokens == 0 || sh->n_lines == 0 ||
        sh->n_docs == 0)
        return err_set(err, T5E_ERR_FORMAT,
                       "%s: empty shard (vocab %u, %llu tokens, %llu lines, "
                       "%llu documents)", path, sh->vocab_size,
                       (unsigned long long)sh->n_tokens,
                       (unsigned long long)sh->n_lines,
                       (unsigned long long)sh->n_docs);
    uint64_t want = shard_expected_size(sh->n_tokens, sh->n_lines,
                                        sh->n_docs);
    if (want != m->len)
        return err_set(err, T5E_ERR_FORMAT,
                       "%s: the header's counts (%llu tokens, %llu lines, "
                       "%llu documents) need %llu bytes, the file has %zu "
                       "(truncated or corrupt)", path,
                       (unsigned long long)sh->n_tokens,
                       (unsigned long long)sh->n_lines,
                       (unsigned long long)sh->n_docs,
                       (unsigned long long)want, m->len);
    return T5E_OK;
}

/* starts[n + 1]: starts[0] == 0, strictly increasing, starts[n] == end. */
static t5e_status check_offsets(const char *path, const char *what,
                                const uint64_t *starts, uint64_t n,
                                uint64_t end, t5e_err *err) {
    if (starts[0] != 0 || starts[n] != end)
        return err_set(err, T5E_ERR_FORMAT,
                       "%s: %s table runs %llu..%llu, expected 0..%llu",
                       path, what, (unsigned long long)starts[0],
                       (unsigned long long)starts[n],
                       (unsigned long long)end);
    for (uint64_t i = 0; i < n; i++)
        if (starts[i + 1] <= starts[i])
            return err_set(err, T5E_ERR_FORMAT,
                           "%s: %s %llu is empty or out of order "
                           "(starts %llu, next %llu)", path, what,
                           (unsigned long long)i,
                           (unsigned long long)starts[i],
                           (unsigned long long)starts[i + 1]);
    return T5E_OK;
}

t5e_status shard_open(const char *path, token_shard *sh, t5e_err *err) {
    memset(sh, 0, sizeof *sh);
    t5e_status st = file_map_open(path, &sh->map, err);
    if (st)
        return st;
    const uint8_t *p = sh->map.data;
    st = shard_check_header(path, &sh->map, sh, err);
    if (!st) {
        uint64_t tok_bytes = (sh->n_tokens * 4 + 7) & ~(uint64_t)7;
        /* mmap data is page aligned and every section 8-byte aligned */
        sh->tokens = (const uint32_t *)(const void *)(p + SHARD_HEADER_BYTES);
        sh->line_starts = (const uint64_t *)(const void *)(
            p + SHARD_HEADER_BYTES + tok_bytes);
        sh->doc_starts = sh->line_starts + sh->n_lines + 1;
        st = check_offsets(path, "line", sh->line_starts, sh->n_lines,
                           sh->n_tokens, err);
    }
    if (!st)
        st = check_offsets(path, "document", sh->doc_starts, sh->n_docs,
                           sh->n_lines, err);
    if (st)
        shard_close(sh);
    return st;
}

void shard_close(token_shard *sh) {
    file_map_close(&sh->map);
    memset(sh, 0, sizeof *sh);
}

t5e_status shard_verify(const token_shard *sh, t5e_err *err) {
    uint64_t h = FNV_OFFSET;
    for (uint64_t i = 0; i < sh->n_tokens; i++) {
        uint32_t id = sh->tokens[i];
        if (id >= sh->vocab_size)
            return err_set(err, T5E_ERR_FORMAT,
                           "token shard: token %llu is id %u, outside the "
                           "vocabulary of %u", (unsigned long long)i, id,
                           sh->vocab_size);
        h = fnv_update(h, &id, 4);
    }
    if (h != sh->token_hash)
        return err_set(err, T5E_ERR_FORMAT,
                       "token shard: token checksum %016llx, header says "
                       "%016llx (corrupt)", (unsigned long long)h,
                       (unsigned long long)sh->token_hash);
    return T5E_OK;
}

t5e_status shard_check_tokenizer(const token_shard *sh,
                                 const t5e_tokenizer *tok, t5e_err *err) {
    int V = t5e_tokenizer_vocab_size(tok);
    if ((uint32_t)V != sh->vocab_size)
        return err_set(err, T5E_ERR_CONFIG,
                       "token shard: built with a vocabulary of %u ids, the "
                       "tokenizer has %d", sh->vocab_size, V);
    if (data_vocab_hash(tok) != sh->vocab_hash)
        return err_set(err, T5E_ERR_CONFIG,
                       "token shard: built with another vocabulary of the "
                       "same size (%d); rebuild it with this tokenizer", V);
    return T5E_OK;
}
