/* cmd_convert.c - `t5e convert`: a model folder in another float format. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "io/convert.h"
#include "train/checkpoint.h"

static const char usage_text[] =
"usage: t5e convert -m DIR --dtype f32|f16|bf16|int8 --output-dir OUT\n"
"\n"
"Writes a copy of a model folder whose safetensors files hold every\n"
"float tensor in the given format (rounded to nearest even); the other\n"
"files (config.json, tokenizer files, shard index) are copied as they\n"
"are.  The result loads like the original: bf16 halves the size.\n"
"int8 is what `t5e quantize` writes.\n"
"\n"
"options:\n"
"  -m, --model DIR     the model folder (required)\n"
"  --dtype T           f32, f16, bf16 or int8 (required)\n"
"  --output-dir OUT    the new folder (required; created if missing)\n"
"  -h, --help          this help\n";

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

static t5e_status convert_dir(const char *in, const char *out, st_dtype dt,
                              t5e_err *err) {
    DIR *d = opendir(in);
    if (!d)
        return err_set(err, T5E_ERR_IO, "%s: cannot open folder: %s", in,
                       strerror(errno));
    if (mkdir(out, 0755) && errno != EEXIST) {
        closedir(d);
        return err_set(err, T5E_ERR_IO, "%s: cannot create: %s", out,
                       strerror(errno));
    }
    struct dirent *e;
    t5e_status s = T5E_OK;
    char src[4096], dst[4096];
    while (!s && (e = readdir(d))) {
        if (!path_join(src, sizeof src, in, e->d_name) || !file_exists(src))
            continue; /* folders (checkpoints) are not copied */
        path_join(dst, sizeof dst, out, e->d_name);
        /* int8 applies to the model's own files (model.safetensors or
         * its shards), not to other tensor files a folder may hold */
        int weights = ends_with(e->d_name, ".safetensors") &&
                      (dt != ST_I8 || !strncmp(e->d_name, "model", 5));
        s = weights ? st_convert(src, dst, dt, err)
                    : copy_file(src, dst, err);
    }
    closedir(d);
    return s;
}

int cmd_convert(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"dtype", required_argument, 0, 'd'},
        {"output-dir", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *in = NULL, *out = NULL, *dtype = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == 'm')
            in = optarg;
        else if (c == 'd')
            dtype = optarg;
        else if (c == 'o')
            out = optarg;
        else
            return cli_usage_error("convert", "bad option");
    }
    if (!in || !out || !dtype)
        return cli_usage_error("convert", "-m, --dtype and --output-dir "
                               "are required");
    st_dtype dt = !strcmp(dtype, "f32") ? ST_F32 : !strcmp(dtype, "f16")
                  ? ST_F16 : !strcmp(dtype, "bf16") ? ST_BF16
                  : !strcmp(dtype, "int8") ? ST_I8 : ST_NDTYPES;
    if (dt == ST_NDTYPES)
        return cli_usage_error("convert", "unknown dtype '%s'", dtype);
    if (!dir_exists(in)) {
        fprintf(stderr, "t5e convert: %s: no such model folder\n", in);
        return 1;
    }
    t5e_err err = {0};
    if (convert_dir(in, out, dt, &err))
        return cli_fail("convert", &err);
    return 0;
}

static const char quantize_usage[] =
"usage: t5e quantize -m DIR --output-dir OUT\n"
"\n"
"Writes a copy of a model folder whose linear weights (T5: every layer\n"
"and the embedding table; ELECTRA: the encoder layers) are int8,\n"
"symmetric per output row: NAME holds round(w / scale) in\n"
"[-127, 127] and NAME_scale (F32, one per row) holds max |w| / 127.\n"
"Other tensors and files are copied as they are.  The folder is a quarter\n"
"of the float32 size and runs in int8 (`--dtype auto`) with t5e; it is\n"
"t5e's own layout, which the reference does not load.\n"
"\n"
"options:\n"
"  -m, --model DIR     the model folder (required)\n"
"  --output-dir OUT    the new folder (required; created if missing)\n"
"  -h, --help          this help\n";

int cmd_quantize(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"output-dir", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *in = NULL, *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(quantize_usage, stdout);
            return 0;
        }
        if (c == 'm')
            in = optarg;
        else if (c == 'o')
            out = optarg;
        else
            return cli_usage_error("quantize", "bad option");
    }
    if (!in || !out)
        return cli_usage_error("quantize", "-m and --output-dir are "
                               "required");
    if (!dir_exists(in)) {
        fprintf(stderr, "t5e quantize: %s: no such model folder\n", in);
        return 1;
    }
    t5e_err err = {0};
    if (convert_dir(in, out, ST_I8, &err))
        return cli_fail("quantize", &err);
    return 0;
}
