/* beam.h - beam search over the cached T5 decoder. */
#ifndef T5E_BEAM_H
#define T5E_BEAM_H

#include "model/t5.h"

/*
 * Beam search as the reference runs it (transformers 4.36 BeamSearchScorer):
 * st holds B * num_beams rows; out[b] receives num_return_sequences
 * hypotheses, best first, each with its length-normalised score.
 */
t5e_status beam_search(t5e_t5 *m, t5_decode_state *st, int B,
                       const t5e_generate_options *opt, t5e_generation *out,
                       t5e_err *err);

#endif
