/* checkpoint.c - see checkpoint.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/checkpoint.h"

int remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    char child[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (path_join(child, sizeof child, path, e->d_name))
            remove_tree(child);
    }
    closedir(d);
    return rmdir(path);
}

static void fsync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

t5e_status ckpt_begin(const char *out_dir, long step, char *tmp, size_t n,
                      t5e_err *err) {
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
        return err_set(err, T5E_ERR_IO, "%s: cannot create: %s", out_dir,
                       strerror(errno));
    int k = snprintf(tmp, n, "%s/.checkpoint-%ld.tmp", out_dir, step);
    if (k < 0 || (size_t)k >= n)
        return err_set(err, T5E_ERR_ARG, "%s: path too long", out_dir);
    remove_tree(tmp);
    if (mkdir(tmp, 0755) != 0)
        return err_set(err, T5E_ERR_IO, "%s: cannot create: %s", tmp,
                       strerror(errno));
    return T5E_OK;
}

t5e_status ckpt_commit(const char *out_dir, const char *tmp,
                       const char *final_name, t5e_err *err) {
    char final[4096];
    const char *dot = strrchr(tmp, '/');
    if (final_name) {
        if (!path_join(final, sizeof final, out_dir, final_name))
            return err_set(err, T5E_ERR_ARG, "%s: path too long", out_dir);
    } else {
        /* ".checkpoint-N.tmp" -> "checkpoint-N" */
        snprintf(final, sizeof final, "%s/%s", out_dir, dot ? dot + 2 : tmp);
        char *ext = strstr(final + strlen(out_dir), ".tmp");
        if (ext)
            *ext = '\0';
    }
    fsync_path(tmp);
    remove_tree(final);
    if (rename(tmp, final) != 0)
        return err_set(err, T5E_ERR_IO, "%s: cannot rename to %s: %s", tmp,
                       final, strerror(errno));
    fsync_path(out_dir);
    return T5E_OK;
}

/* N of "checkpoint-N", or -1. */
static long checkpoint_step(const char *name) {
    if (strncmp(name, "checkpoint-", 11) != 0)
        return -1;
    char *end;
    long v = strtol(name + 11, &end, 10);
    return (*end || end == name + 11 || v < 0) ? -1 : v;
}

long ckpt_latest(const char *out_dir, char *path, size_t n) {
    DIR *d = opendir(out_dir);
    if (!d)
        return -1;
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        long s = checkpoint_step(e->d_name);
        if (s > best)
            best = s;
    }
    closedir(d);
    if (best >= 0 && path)
        snprintf(path, n, "%s/checkpoint-%ld", out_dir, best);
    return best;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

void ckpt_prune(const char *out_dir, int keep) {
    DIR *d = opendir(out_dir);
    if (!d)
        return;
    long steps[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        long s = checkpoint_step(e->d_name);
        if (s >= 0)
            steps[n++] = s;
    }
    closedir(d);
    qsort(steps, (size_t)n, sizeof *steps, cmp_long);
    char path[4096];
    for (int i = 0; i + keep < n; i++) {
        snprintf(path, sizeof path, "%s/checkpoint-%ld", out_dir, steps[i]);
        remove_tree(path);
    }
}

t5e_status write_text_file(const char *path, const char *text,
                           t5e_err *err) {
    atomic_file *f;
    t5e_status s = atomic_file_open(path, &f, err);
    if (s)
        return s;
    s = atomic_file_write(f, text, strlen(text), err);
    if (s) {
        atomic_file_abort(f);
        return s;
    }
    return atomic_file_commit(f, err);
}

t5e_status copy_file(const char *src, const char *dst, t5e_err *err) {
    char *data;
    size_t len;
    t5e_status s = file_read_all(src, &data, &len, err);
    if (s)
        return s;
    atomic_file *f;
    s = atomic_file_open(dst, &f, err);
    if (!s) {
        s = atomic_file_write(f, data, len, err);
        if (s)
            atomic_file_abort(f);
        else
            s = atomic_file_commit(f, err);
    }
    free(data);
    return s;
}
