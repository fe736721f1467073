/*
 * core.h - small services every module uses: error reporting, checked
 * allocation, whole-file reading, memory mapping, atomic file writing.
 */
#ifndef T5E_CORE_H
#define T5E_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "t5e.h"

#if defined(__GNUC__)
#define T5E_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define T5E_PRINTF(a, b)
#endif

/* Writes a formatted message into `err` (when not NULL); returns `s`. */
t5e_status err_set(t5e_err *err, t5e_status s, const char *fmt, ...)
    T5E_PRINTF(3, 4);

/* Prepends "context: " to the message already in `err`; returns its status. */
t5e_status err_prefix(t5e_err *err, t5e_status s, const char *fmt, ...)
    T5E_PRINTF(3, 4);

/* calloc/malloc that return NULL on overflow of n * size as well. */
void *xcalloc(size_t n, size_t size);
/* OpenMP's thread count for the next parallel region (1 without it). */
int core_max_threads(void);
void *xmalloc_array(size_t n, size_t size);

/* Reads a whole file into a NUL-terminated buffer (free()). */
t5e_status file_read_all(const char *path, char **data, size_t *len,
                         t5e_err *err);

/* A read-only memory map of a whole file. */
typedef struct {
    const uint8_t *data;
    size_t len;
} file_map;

t5e_status file_map_open(const char *path, file_map *map, t5e_err *err);
void file_map_close(file_map *map);

int file_exists(const char *path);
int dir_exists(const char *path);

/* Joins dir and name into buf (size n); returns buf, or NULL if too long. */
char *path_join(char *buf, size_t n, const char *dir, const char *name);

/*
 * Atomic whole-file write: writes to "<path>.tmp.<pid>", fsyncs it,
 * renames it over `path` and fsyncs the directory, so a crash leaves
 * either the old file or the new one, never a mix.
 */
typedef struct atomic_file atomic_file;
t5e_status atomic_file_open(const char *path, atomic_file **out,
                            t5e_err *err);
t5e_status atomic_file_write(atomic_file *f, const void *data, size_t n,
                             t5e_err *err);
t5e_status atomic_file_commit(atomic_file *f, t5e_err *err);
void atomic_file_abort(atomic_file *f);

/* Wall-clock seconds from a monotonic clock. */
double time_now(void);

#endif
