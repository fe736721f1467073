/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors reader: any
 * input must parse or fail cleanly, and every tensor the parser accepts
 * must be readable in full.
 */
#include <stdlib.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    t5e_err err = {0};
    if (st_parse(data, size, "fuzz", &f, &err))
        return 0;
    for (int i = 0; i < f.n; i++) {
        const st_tensor *t = &f.tensors[i];
        if (t->numel > (1 << 20))
            continue;
        float *buf = malloc((size_t)t->numel * sizeof *buf + 1);
        int32_t *ibuf = malloc((size_t)t->numel * sizeof *ibuf + 1);
        if (buf && st_to_f32(t, buf, &err) == T5E_OK)
            (void)buf[0];
        if (ibuf)
            (void)st_to_i32(t, ibuf, &err);
        free(buf);
        free(ibuf);
    }
    (void)st_find(&f, "x");
    st_close(&f);
    return 0;
}
