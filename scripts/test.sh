#!/usr/bin/env bash
# Runs every test: builds (release, then AddressSanitizer + UBSan), runs
# each tests/test_* program and the CLI tests, and ends with one line
# "N passed, M failed".  Installs its Debian dependencies first.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1
jobs=$(nproc)
passed=0
failed=0

run_suite() { # $1 = build folder
    local dir=$1 t out p f
    for t in "$dir"/tests/test_*; do
        [ -x "$t" ] || continue
        echo "== $t"
        out=$(OMP_NUM_THREADS=2 T5E_BIN="$dir/t5e" "$t" 2>&1)
        local rc=$?
        echo "$out" | grep -v '^ok ' || true
        p=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
        f=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
        if [ -z "$p" ]; then
            echo "   $t crashed or printed no summary (exit $rc)"
            failed=$((failed + 1))
            continue
        fi
        passed=$((passed + p))
        failed=$((failed + f))
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
    done
    for t in tests/cli/*.sh; do
        [ -f "$t" ] || continue
        echo "== $t ($dir)"
        out=$(T5E_BIN="$dir/t5e" bash "$t" 2>&1)
        local rc=$?
        echo "$out" | grep -v '^ok ' || true
        p=$(echo "$out" | grep -c '^ok ')
        f=$(echo "$out" | grep -c '^FAIL ')
        passed=$((passed + p))
        failed=$((failed + f))
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
    done
}

make -j"$jobs" MODE=release tests >/dev/null || { echo "build failed"; exit 1; }
run_suite build
make -j"$jobs" MODE=asan tests >/dev/null || { echo "asan build failed"; exit 1; }
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_suite build-asan

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
