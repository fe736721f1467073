/*
 * t5_save.c - writes a trainable T5 as the reference's save_pretrained
 * does: config.json with its keys (sorted, as the reference writes them;
 * tie_word_embeddings only when false, since true is the default it
 * leaves out) and model.safetensors with the state_dict names, tied
 * tensors stored once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/t5_train.h"
#include "train/checkpoint.h"

const char *op_activation_name(t5e_activation act);

const char *op_activation_name(t5e_activation act) {
    switch (act) {
    case T5E_ACT_RELU: return "relu";
    case T5E_ACT_GELU: return "gelu";
    case T5E_ACT_GELU_NEW: return "gelu_new";
    case T5E_ACT_GELU_FAST: return "gelu_fast";
    case T5E_ACT_QUICK_GELU: return "quick_gelu";
    case T5E_ACT_SILU: return "silu";
    case T5E_ACT_TANH: return "tanh";
    case T5E_ACT_SIGMOID: return "sigmoid";
    case T5E_ACT_LINEAR: return "linear";
    }
    return "relu";
}

/* feed_forward_proj that parses back to the same activation. */
static void ff_proj_name(const t5e_t5_config *c, char *buf, size_t n) {
    const char *act = op_activation_name(c->dense_act);
    if (c->is_gated_act && c->dense_act == T5E_ACT_GELU_NEW)
        snprintf(buf, n, "gated-gelu");
    else
        snprintf(buf, n, "%s%s", c->is_gated_act ? "gated-" : "", act);
}

char *t5_config_json(const t5e_t5_config *c) {
    char proj[64];
    ff_proj_name(c, proj, sizeof proj);
    cJSON *o = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(arch,
                         cJSON_CreateString("T5ForConditionalGeneration"));
    cJSON_AddNumberToObject(o, "classifier_dropout", 0.0);
    cJSON_AddNumberToObject(o, "d_ff", c->d_ff);
    cJSON_AddNumberToObject(o, "d_kv", c->d_kv);
    cJSON_AddNumberToObject(o, "d_model", c->d_model);
    cJSON_AddNumberToObject(o, "decoder_start_token_id",
                            c->decoder_start_token_id);
    cJSON_AddStringToObject(o, "dense_act_fn",
                            op_activation_name(c->dense_act));
    char rate[32];
    snprintf(rate, sizeof rate, "%.7g", (double)c->dropout_rate);
    cJSON_AddRawToObject(o, "dropout_rate", rate);
    cJSON_AddNumberToObject(o, "eos_token_id", c->eos_token_id);
    cJSON_AddStringToObject(o, "feed_forward_proj", proj);
    cJSON_AddNumberToObject(o, "initializer_factor", 1.0);
    cJSON_AddBoolToObject(o, "is_encoder_decoder", 1);
    cJSON_AddBoolToObject(o, "is_gated_act", c->is_gated_act);
    char eps[32]; /* the float's shortest decimal: 1e-06, not 9.99e-07 */
    snprintf(eps, sizeof eps, "%.7g", (double)c->layer_norm_epsilon);
    cJSON_AddRawToObject(o, "layer_norm_epsilon", eps);
    cJSON_AddStringToObject(o, "model_type", "t5");
    cJSON_AddNumberToObject(o, "num_decoder_layers", c->num_decoder_layers);
    cJSON_AddNumberToObject(o, "num_heads", c->num_heads);
    cJSON_AddNumberToObject(o, "num_layers", c->num_layers);
    cJSON_AddNumberToObject(o, "pad_token_id", c->pad_token_id);
    cJSON_AddNumberToObject(o, "relative_attention_max_distance",
                            c->relative_attention_max_distance);
    cJSON_AddNumberToObject(o, "relative_attention_num_buckets",
                            c->relative_attention_num_buckets);
    if (!c->tie_word_embeddings)
        cJSON_AddBoolToObject(o, "tie_word_embeddings", 0);
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    cJSON_AddStringToObject(o, "transformers_version", "4.36.2");
    cJSON_AddBoolToObject(o, "use_cache", 1);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

t5e_status t5_trainable_save(const t5_trainable *t, const char *dir,
                             t5e_err *err) {
    char path[4096];
    char *json = t5_config_json(&t->model.cfg);
    if (!json)
        return err_set(err, T5E_ERR_NOMEM, "config.json");
    t5e_status s = T5E_OK;
    if (!path_join(path, sizeof path, dir, "config.json"))
        s = err_set(err, T5E_ERR_ARG, "%s: path too long", dir);
    if (!s)
        s = write_text_file(path, json, err);
    free(json);
    st_item *items = s ? NULL : param_items(&t->ps, 0);
    if (!s && !items)
        s = err_set(err, T5E_ERR_NOMEM, "model.safetensors");
    if (!s) {
        path_join(path, sizeof path, dir, "model.safetensors");
        s = st_write(path, items, t->ps.n, err);
    }
    free(items);
    return s;
}
