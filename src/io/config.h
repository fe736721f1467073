/*
 * config.h - typed reads of a Hugging Face config.json.
 *
 * Each getter takes the value when the key is present, the default when it
 * is absent or null, and fails with a message naming the file and key when
 * the value has the wrong type or is out of range.
 */
#ifndef T5E_CONFIG_H
#define T5E_CONFIG_H

#include <cjson/cJSON.h>

#include "core/core.h"

typedef struct {
    const char *path;
    cJSON *root;
} config_file;

t5e_status config_open(const char *path, config_file *cf, t5e_err *err);
void config_close(config_file *cf);

t5e_status config_int(const config_file *cf, const char *key, long def,
                      long lo, long hi, int *out, t5e_err *err);
t5e_status config_float(const config_file *cf, const char *key, double def,
                        float *out, t5e_err *err);
t5e_status config_bool(const config_file *cf, const char *key, int def,
                       int *out, t5e_err *err);
/* *out points into the config (valid until config_close), or is def. */
t5e_status config_string(const config_file *cf, const char *key,
                         const char *def, const char **out, t5e_err *err);

#endif
