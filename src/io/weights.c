/* weights.c - see weights.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/weights.h"

static t5e_status open_shard(weights *w, const char *file, t5e_err *err) {
    char path[4096];
    if (!path_join(path, sizeof path, w->dir, file))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", w->dir);
    for (int i = 0; i < w->nfiles; i++)
        if (strcmp(w->files[i].path, path) == 0)
            return T5E_OK;
    st_file *grown = realloc(w->files, (w->nfiles + 1) * sizeof *grown);
    if (!grown)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    w->files = grown;
    t5e_status s = st_open(path, &w->files[w->nfiles], err);
    if (!s)
        w->nfiles++;
    return s;
}

/* Opens every shard that model.safetensors.index.json's weight_map names. */
static t5e_status open_index(weights *w, const char *index, t5e_err *err) {
    char *text;
    size_t len;
    t5e_status s = file_read_all(index, &text, &len, err);
    if (s)
        return s;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return err_set(err, T5E_ERR_FORMAT, "%s: no weight_map object",
                       index);
    }
    for (cJSON *e = map->child; e && !s; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/')) {
            s = err_set(err, T5E_ERR_FORMAT, "%s: bad file for tensor %s",
                        index, e->string);
            break;
        }
        s = open_shard(w, e->valuestring, err);
    }
    cJSON_Delete(root);
    return s;
}

t5e_status weights_open(const char *dir, weights *w, t5e_err *err) {
    char single[4096], index[4096];
    memset(w, 0, sizeof *w);
    if (!dir_exists(dir))
        return err_set(err, T5E_ERR_IO, "%s: no such model folder", dir);
    if (!path_join(single, sizeof single, dir, "model.safetensors") ||
        !path_join(index, sizeof index, dir,
                   "model.safetensors.index.json"))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", dir);
    w->dir = strdup(dir);
    if (!w->dir)
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    t5e_status s;
    if (file_exists(single)) {
        w->main_file = strdup(single);
        s = open_shard(w, "model.safetensors", err);
    } else if (file_exists(index)) {
        w->main_file = strdup(index);
        s = open_index(w, index, err);
    } else {
        s = err_set(err, T5E_ERR_IO, "%s: no model.safetensors or "
                    "model.safetensors.index.json (PyTorch .bin files are "
                    "not read; convert them to safetensors)", dir);
    }
    if (!s && !w->main_file)
        s = err_set(err, T5E_ERR_NOMEM, "out of memory");
    if (s)
        weights_close(w);
    return s;
}

void weights_close(weights *w) {
    for (int i = 0; i < w->nfiles; i++)
        st_close(&w->files[i]);
    for (int i = 0; i < w->nowned; i++)
        free(w->owned[i]);
    free(w->files);
    free(w->owned);
    free(w->dir);
    free(w->main_file);
    memset(w, 0, sizeof *w);
}

const st_tensor *weights_find(const weights *w, const char *name) {
    for (int i = 0; i < w->nfiles; i++) {
        const st_tensor *t = st_find(&w->files[i], name);
        if (t)
            return t;
    }
    return NULL;
}

t5e_status weights_keep(weights *w, void *buf, t5e_err *err) {
    if (w->nowned == w->cap_owned) {
        int cap = w->cap_owned ? 2 * w->cap_owned : 64;
        void **grown = realloc(w->owned, cap * sizeof *grown);
        if (!grown) {
            free(buf);
            return err_set(err, T5E_ERR_NOMEM, "out of memory");
        }
        w->owned = grown;
        w->cap_owned = cap;
    }
    w->owned[w->nowned++] = buf;
    return T5E_OK;
}

static t5e_status check_shape(const weights *w, const st_tensor *t,
                              int ndim, const long *dims, t5e_err *err) {
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == dims[i];
    if (ok)
        return T5E_OK;
    char got[128] = "", want[128] = "";
    for (int i = 0; i < t->ndim; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld",
                 i ? ", " : "", (long long)t->shape[i]);
    for (int i = 0; i < ndim; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%ld",
                 i ? ", " : "", dims[i]);
    return err_set(err, T5E_ERR_SHAPE, "%s: tensor %s has shape [%s], the "
                   "config implies [%s]", w->main_file, t->name, got, want);
}

t5e_status weights_get_shape_only(const weights *w, const st_tensor *t,
                                  long N, long K, t5e_err *err) {
    long dims[2] = {N, K};
    return check_shape(w, t, 2, dims, err);
}

t5e_status weights_get(weights *w, const float **out, int ndim, long d0,
                       long d1, t5e_err *err, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    *out = NULL;
    const st_tensor *t = weights_find(w, name);
    if (!t)
        return err_set(err, T5E_ERR_SHAPE, "%s: tensor %s is missing",
                       w->main_file, name);
    long dims[2] = {d0, d1};
    t5e_status s = check_shape(w, t, ndim, dims, err);
    if (s)
        return s;
    if (t->dtype == ST_I8 && ndim == 2)
        return weights_dequantize(w, t, d0, d1, out, err);
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 &&
        t->dtype != ST_F64)
        return err_set(err, T5E_ERR_SHAPE, "%s: tensor %s has dtype %s "
                       "(expected F32, F16 or BF16)", w->main_file, name,
                       st_dtype_name(t->dtype));
    if (t->dtype == ST_F32 && ((uintptr_t)t->data & 3) == 0) {
        *out = (const float *)t->data;
        return T5E_OK;
    }
    float *buf = xmalloc_array((size_t)t->numel, sizeof *buf);
    if (!buf)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", name);
    s = st_to_f32(t, buf, err);
    if (!s)
        s = weights_keep(w, buf, err);
    else
        free(buf);
    if (!s)
        *out = buf;
    return s;
}
