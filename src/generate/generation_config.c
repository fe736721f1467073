/* generation_config.c - a model folder's generation_config.json. */
#include <string.h>

#include "io/config.h"

/* early_stopping is true, false or the string "never". */
static t5e_status read_early_stopping(const config_file *cf, int *out,
                                      t5e_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cf->root,
                                                      "early_stopping");
    if (!v || cJSON_IsNull(v))
        return T5E_OK;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return T5E_OK;
    }
    if (cJSON_IsString(v) && strcmp(v->valuestring, "never") == 0) {
        *out = 2;
        return T5E_OK;
    }
    return err_set(err, T5E_ERR_CONFIG, "%s: early_stopping must be true, "
                   "false or \"never\"", cf->path);
}

static t5e_status read_lengths(const config_file *cf,
                               t5e_generate_options *o, t5e_err *err) {
    const long big = 1L << 20;
    int max_length = -1, min_length = -1;
    t5e_status s;
    if ((s = config_int(cf, "max_length", -1, -1, big, &max_length, err)) ||
        (s = config_int(cf, "min_length", -1, -1, big, &min_length, err)))
        return s;
    /* lengths count the decoder start token; *_new_tokens win over them */
    if (max_length > 1)
        o->max_new_tokens = max_length - 1;
    if (min_length > 1)
        o->min_new_tokens = min_length - 1;
    if ((s = config_int(cf, "max_new_tokens", o->max_new_tokens, 1, big,
                        &o->max_new_tokens, err)) ||
        (s = config_int(cf, "min_new_tokens", o->min_new_tokens, 0, big,
                        &o->min_new_tokens, err)))
        return s;
    return T5E_OK;
}

t5e_status t5e_generate_options_from_folder(const char *dir,
                                            t5e_generate_options *o,
                                            t5e_err *err) {
    char path[4096];
    config_file cf;
    if (!path_join(path, sizeof path, dir, "generation_config.json"))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", dir);
    if (!file_exists(path))
        return T5E_OK;
    t5e_status s = config_open(path, &cf, err);
    if (s)
        return s;
    if (!(s = read_lengths(&cf, o, err)) &&
        !(s = config_int(&cf, "num_beams", o->num_beams, 1, 1024,
                         &o->num_beams, err)) &&
        !(s = config_int(&cf, "num_return_sequences",
                         o->num_return_sequences, 1, 1024,
                         &o->num_return_sequences, err)) &&
        !(s = config_float(&cf, "length_penalty", o->length_penalty,
                           &o->length_penalty, err)) &&
        !(s = read_early_stopping(&cf, &o->early_stopping, err)) &&
        !(s = config_bool(&cf, "do_sample", o->do_sample, &o->do_sample,
                          err)) &&
        !(s = config_float(&cf, "temperature", o->temperature,
                           &o->temperature, err)) &&
        !(s = config_int(&cf, "top_k", o->top_k, 0, 1L << 30, &o->top_k,
                         err)))
        s = config_float(&cf, "top_p", o->top_p, &o->top_p, err);
    config_close(&cf);
    return s;
}
