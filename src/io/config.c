/* config.c - see config.h. */
#include <math.h>
#include <stdlib.h>

#include "io/config.h"

t5e_status config_open(const char *path, config_file *cf, t5e_err *err) {
    char *text;
    size_t len;
    cf->path = path;
    cf->root = NULL;
    t5e_status s = file_read_all(path, &text, &len, err);
    if (s)
        return s;
    cf->root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cf->root || !cJSON_IsObject(cf->root)) {
        cJSON_Delete(cf->root);
        cf->root = NULL;
        return err_set(err, T5E_ERR_FORMAT, "%s: not a JSON object", path);
    }
    return T5E_OK;
}

void config_close(config_file *cf) {
    cJSON_Delete(cf->root);
    cf->root = NULL;
}

static const cJSON *get(const config_file *cf, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cf->root, key);
    return cJSON_IsNull(v) ? NULL : v;
}

t5e_status config_int(const config_file *cf, const char *key, long def,
                      long lo, long hi, int *out, t5e_err *err) {
    const cJSON *v = get(cf, key);
    double d = (double)def;
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
            return err_set(err, T5E_ERR_CONFIG, "%s: %s must be an integer",
                           cf->path, key);
        d = v->valuedouble;
    }
    if (d < (double)lo || d > (double)hi)
        return err_set(err, T5E_ERR_CONFIG, "%s: %s = %.0f is out of range "
                       "[%ld, %ld]", cf->path, key, d, lo, hi);
    *out = (int)d;
    return T5E_OK;
}

t5e_status config_float(const config_file *cf, const char *key, double def,
                        float *out, t5e_err *err) {
    const cJSON *v = get(cf, key);
    if (v && !cJSON_IsNumber(v))
        return err_set(err, T5E_ERR_CONFIG, "%s: %s must be a number",
                       cf->path, key);
    double d = v ? v->valuedouble : def;
    if (!isfinite(d))
        return err_set(err, T5E_ERR_CONFIG, "%s: %s is not finite",
                       cf->path, key);
    *out = (float)d;
    return T5E_OK;
}

t5e_status config_bool(const config_file *cf, const char *key, int def,
                       int *out, t5e_err *err) {
    const cJSON *v = get(cf, key);
    if (v && !cJSON_IsBool(v))
        return err_set(err, T5E_ERR_CONFIG, "%s: %s must be true or false",
                       cf->path, key);
    *out = v ? cJSON_IsTrue(v) : def;
    return T5E_OK;
}

t5e_status config_string(const config_file *cf, const char *key,
                         const char *def, const char **out, t5e_err *err) {
    const cJSON *v = get(cf, key);
    if (v && !cJSON_IsString(v))
        return err_set(err, T5E_ERR_CONFIG, "%s: %s must be a string",
                       cf->path, key);
    *out = v ? v->valuestring : def;
    return T5E_OK;
}
