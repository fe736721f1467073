/*
 * checkpoint.h - checkpoint folders that appear whole or not at all.
 *
 * A checkpoint is written into OUT/.checkpoint-STEP.tmp, every file
 * fsynced, then the folder is renamed to OUT/checkpoint-STEP and OUT is
 * fsynced.  A run killed at any moment leaves the previous checkpoints
 * intact; a stale .tmp folder is ignored and removed by the next run.
 */
#ifndef T5E_CHECKPOINT_H
#define T5E_CHECKPOINT_H

#include "core/core.h"

/* Makes OUT (if needed) and a fresh temporary folder; tmp gets its path. */
t5e_status ckpt_begin(const char *out_dir, long step, char *tmp, size_t n,
                      t5e_err *err);
/* Renames the temporary folder to OUT/checkpoint-STEP (or `final_name`
 * when not NULL), replacing an older folder of that name. */
t5e_status ckpt_commit(const char *out_dir, const char *tmp,
                       const char *final_name, t5e_err *err);
/* The step of the newest complete checkpoint-N in OUT (path in `path`),
 * or -1 when there is none. */
long ckpt_latest(const char *out_dir, char *path, size_t n);
/* Removes all but the newest `keep` checkpoint-N folders. */
void ckpt_prune(const char *out_dir, int keep);

/* Whole-file helpers on top of atomic_file. */
t5e_status write_text_file(const char *path, const char *text, t5e_err *err);
t5e_status copy_file(const char *src, const char *dst, t5e_err *err);
/* Removes a folder and everything in it (no symlinks followed). */
int remove_tree(const char *path);

#endif
