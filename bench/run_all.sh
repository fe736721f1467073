#!/usr/bin/env bash
# Every workload of ../shared/BENCH.md, one command each, as the peers were
# measured: median of 5 runs after a warm-up, min and max beside it, peak
# resident memory.  Run it on a quiet machine; the figures go to stdout.
#
# Usage: bench/run_all.sh [THREADS]   (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
th=${1:-2}
make -s MODE=release bench >/dev/null
export OMP_WAIT_POLICY=passive
run() {
    echo "\$ $*"
    "$@"
    echo
}
# the machine: memory bandwidth, and GEMV per weight type
run build/bench/bench_gemv --threads "$th" --runs 5
# W1 / W2: T5 greedy decoding, batch 1, per weight type
for dt in f32 bf16 int8; do
    run build/bench/bench_t5 --model small --threads "$th" --dtype $dt
done
for dt in f32 bf16 int8; do
    run build/bench/bench_t5 --model base --threads "$th" --dtype $dt
done
# batched generation: requests of 64..128 tokens decoded together
for b in 8 32; do
    for dt in f32 int8; do
        run build/bench/bench_t5 --model small --threads "$th" --dtype $dt \
            --batch $b
    done
done
# W3: ELECTRA-Small discriminator forward, batch 32 and 1, then 1 thread
run build/bench/bench_electra --threads "$th"
run build/bench/bench_electra --threads 1 --batch 32
# W4 / W5: training steps
run build/bench/bench_electra_train --threads "$th"
run build/bench/bench_t5_train --threads "$th"
