/* file.c - reading, mapping and atomically writing whole files. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core.h"

int core_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void *xcalloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size)
        return NULL;
    return calloc(n > 0 ? n : 1, size > 0 ? size : 1);
}

void *xmalloc_array(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    return malloc(bytes > 0 ? bytes : 1);
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int dir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *path_join(char *buf, size_t n, const char *dir, const char *name) {
    int k = snprintf(buf, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n)
        return NULL;
    return buf;
}

double time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

t5e_status file_read_all(const char *path, char **data, size_t *len,
                         t5e_err *err) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, T5E_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return err_set(err, T5E_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return err_set(err, T5E_ERR_NOMEM, "%s: cannot allocate %zu bytes",
                       path, n);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return err_set(err, T5E_ERR_IO, "%s: short read", path);
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return T5E_OK;
}

t5e_status file_map_open(const char *path, file_map *map, t5e_err *err) {
    map->data = NULL;
    map->len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return err_set(err, T5E_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(err, T5E_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return err_set(err, T5E_ERR_FORMAT, "%s: file is empty", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return err_set(err, T5E_ERR_IO, "%s: cannot map: %s", path,
                       strerror(errno));
    map->data = p;
    map->len = (size_t)st.st_size;
    return T5E_OK;
}

void file_map_close(file_map *map) {
    if (map->data)
        munmap((void *)map->data, map->len);
    map->data = NULL;
    map->len = 0;
}

struct atomic_file {
    int fd;
    char *path;
    char *tmp;
};

t5e_status atomic_file_open(const char *path, atomic_file **out,
                            t5e_err *err) {
    *out = NULL;
    atomic_file *f = calloc(1, sizeof *f);
    if (f)
        f->fd = -1;
    size_t n = strlen(path) + 32;
    if (!f || !(f->path = strdup(path)) || !(f->tmp = malloc(n))) {
        atomic_file_abort(f);
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(f->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (f->fd < 0) {
        t5e_status s = err_set(err, T5E_ERR_IO, "%s: cannot create: %s",
                               f->tmp, strerror(errno));
        free(f->tmp);
        f->tmp = NULL;
        atomic_file_abort(f);
        return s;
    }
    *out = f;
    return T5E_OK;
}

t5e_status atomic_file_write(atomic_file *f, const void *data, size_t n,
                             t5e_err *err) {
    const char *p = data;
    while (n) {
        ssize_t k = write(f->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return err_set(err, T5E_ERR_IO, "%s: write failed: %s", f->tmp,
                           strerror(errno));
        p += k;
        n -= (size_t)k;
    }
    return T5E_OK;
}

/* fsync the folder holding `path`, so that the rename itself is durable. */
static void fsync_parent(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

t5e_status atomic_file_commit(atomic_file *f, t5e_err *err) {
    t5e_status s = T5E_OK;
    if (fsync(f->fd) != 0)
        s = err_set(err, T5E_ERR_IO, "%s: fsync failed: %s", f->tmp,
                    strerror(errno));
    if (close(f->fd) != 0 && s == T5E_OK)
        s = err_set(err, T5E_ERR_IO, "%s: close failed: %s", f->tmp,
                    strerror(errno));
    f->fd = -1;
    if (s == T5E_OK && rename(f->tmp, f->path) != 0)
        s = err_set(err, T5E_ERR_IO, "%s: rename failed: %s", f->path,
                    strerror(errno));
    if (s == T5E_OK)
        fsync_parent(f->path);
    atomic_file_abort(f);
    return s;
}

void atomic_file_abort(atomic_file *f) {
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp)
        unlink(f->tmp); /* harmless after a successful rename */
    free(f->path);
    free(f->tmp);
    free(f);
}
