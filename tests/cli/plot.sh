#!/usr/bin/env bash
# plot.sh - checks of `t5e plot` on small metrics logs made here: the SVG
# it writes (one polyline per series, legend, escaping, gaps), PNG output
# through rsvg-convert when installed, and its errors.
#
# Run from the repository root: T5E_BIN=build/t5e bash tests/cli/plot.sh
# Prints "ok NAME" or "FAIL NAME" per check; exits 1 if any check failed.

BIN=${T5E_BIN:-build/t5e}
TMP=$(mktemp -d /tmp/t5e_plot_cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
failed=0

ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+: $2}"; failed=1; }

# check NAME STATUS: ok when STATUS is 0.
check() { if [ "$2" -eq 0 ]; then ok "$1"; else fail "$1"; fi; }

# run ARGS...: t5e plot ARGS, stdout/stderr in $TMP/out, $TMP/err.
run() {
    "$BIN" plot "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
}

# polylines FILE: how many <polyline elements FILE has.
polylines() { grep -o '<polyline' "$1" | wc -l; }

# expect_error NAME STATUS PATTERN ARGS...: exit STATUS, one stderr line
# matching PATTERN, nothing on stdout.
expect_error() {
    local name=$1 want=$2 pattern=$3
    shift 3
    run "$@"
    if [ "$rc" -ne "$want" ]; then
        fail "$name" "exit $rc, want $want: $(cat "$TMP/err")"
    elif [ "$(wc -l <"$TMP/err")" -ne 1 ]; then
        fail "$name" "stderr is not one line: $(cat "$TMP/err")"
    elif ! grep -q -- "$pattern" "$TMP/err"; then
        fail "$name" "stderr lacks '$pattern': $(cat "$TMP/err")"
    elif [ -s "$TMP/out" ]; then
        fail "$name" "stdout not empty"
    else
        ok "$name"
    fi
}

# A run: train lines every 10 steps, an eval line every 20 with a null
# eval_loss at 60 (a gap: two runs of two points); a second run with
# eval lines only.
{
    for s in 10 20 30 40 50 60 70 80 90 100; do
        echo "{\"step\": $s, \"time\": $s.5, \"gen_loss\": $((110 - s))" \
             ", \"disc_loss\": 0.$s, \"lr\": 0.0001, \"grad_norm\": 1.5}"
        if [ $((s % 20)) -eq 0 ]; then
            v=$([ $s -eq 60 ] && echo null || echo "1.$s")
            echo "{\"step\": $s, \"event\": \"eval\", \"accuracy\": 0.$s," \
                 "\"eval_loss\": $v}"
        fi
    done
    echo
} >"$TMP/run.jsonl"
printf '{"step": 20, "accuracy": 0.5}\n{"step": 40, "accuracy": 0.55}\n' \
    >"$TMP/scratch.jsonl"

# --- default keys and output: gen_loss, disc_loss, accuracy, eval_loss
# (step, time, lr, grad_norm left out); eval_loss has 2 runs of points
run "$TMP/run.jsonl"
svg=$TMP/run.svg
[ "$rc" -eq 0 ] && [ "$(cat "$TMP/out")" = "$svg" ] && [ -s "$svg" ] &&
    head -1 "$svg" | grep -q '^<?xml' && grep -q '</svg>' "$svg"
check default_output $?
[ "$(polylines "$svg")" -eq 5 ]
check polyline_per_series_and_gap $?
legend=0
for k in gen_loss disc_loss accuracy eval_loss; do
    grep -q ">$k</text>" "$svg" || legend=1
done
check legend_names_keys $legend
! grep -q -e '>lr</text>' -e '>grad_norm</text>' -e '>time</text>' "$svg"
check default_keys_skip_lr_time $?
ls "$TMP" | grep -q '\.tmp' && fail no_temp_files_left || ok no_temp_files_left

# --- chosen keys, two files: one series per file, labelled by file
run "$TMP/run.jsonl" "$TMP/scratch.jsonl" --keys accuracy -o "$TMP/c.svg"
[ "$rc" -eq 0 ] && [ "$(polylines "$TMP/c.svg")" -eq 2 ] &&
    grep -q ">$TMP/run.jsonl</text>" "$TMP/c.svg" &&
    grep -q ">$TMP/scratch.jsonl</text>" "$TMP/c.svg"
check two_files_one_key $?
run "$TMP/run.jsonl" --keys gen_loss,disc_loss -o "$TMP/k.svg"
[ "$rc" -eq 0 ] && [ "$(polylines "$TMP/k.svg")" -eq 2 ]
check keys_option $?

# --- options: title escaped, x key, log scale
run "$TMP/run.jsonl" --title 'a<b & "c"' --x time --log-y -o "$TMP/t.svg"
[ "$rc" -eq 0 ] && grep -q 'a&lt;b &amp; &quot;c&quot;' "$TMP/t.svg" &&
    grep -q '>time</text>' "$TMP/t.svg" &&
    [ "$(polylines "$TMP/t.svg")" -eq 2 ]
check title_x_log_default_keys_without_x_left_out $?

# --- a last line still being written (no newline) is skipped
cp "$TMP/scratch.jsonl" "$TMP/live.jsonl"
printf '{"step": 60, "accu' >>"$TMP/live.jsonl"
run "$TMP/live.jsonl" -o "$TMP/live.svg"
[ "$rc" -eq 0 ] && grep -q 'live.jsonl:3' "$TMP/err" &&
    [ "$(polylines "$TMP/live.svg")" -eq 1 ]
check incomplete_last_line $?

# --- PNG through rsvg-convert, or a clear error without it
if command -v rsvg-convert >/dev/null; then
    run "$TMP/run.jsonl" -o "$TMP/r.png"
    [ "$rc" -eq 0 ] && [ "$(head -c 4 "$TMP/r.png" | tail -c 3)" = PNG ]
    check png_output $?
else
    ok png_output
fi
PATH=/nonexistent "$BIN" plot "$TMP/run.jsonl" -o "$TMP/n.png" \
    >"$TMP/out" 2>"$TMP/err"
[ $? -eq 1 ] && grep -q librsvg2-bin "$TMP/err" && [ ! -e "$TMP/n.png" ]
check png_without_rsvg_convert $?

# --- bad input: exit 1, one line naming file (and line)
expect_error missing_file 1 "$TMP/none.jsonl" "$TMP/none.jsonl"
printf '{"step": 1, "loss": 2}\n\n{"step": 2, loss: 3}\n{"step": 3}\n' \
    >"$TMP/bad.jsonl"
expect_error invalid_json_line 1 "bad.jsonl:3" "$TMP/bad.jsonl"
printf '[1, 2]\n' >"$TMP/arr.jsonl"
expect_error not_an_object 1 "arr.jsonl:1" "$TMP/arr.jsonl"
printf '{"step": 1, "time": 2, "lr": 0.1, "event": "x"}\n' >"$TMP/nokey.jsonl"
expect_error no_numeric_key 1 "no numeric key" "$TMP/nokey.jsonl"
expect_error unknown_key 1 '"nosuch"' "$TMP/run.jsonl" --keys nosuch
expect_error no_x_key 1 '"epoch"' "$TMP/run.jsonl" --x epoch
[ ! -e "$TMP/bad.svg" ] && [ ! -e "$TMP/nokey.svg" ]
check no_output_on_error $?

# --- usage errors: exit 2
expect_error no_file 2 "no metrics file"
expect_error unknown_option 2 "--bogus" "$TMP/run.jsonl" --bogus
expect_error keys_without_value 2 "--keys" "$TMP/run.jsonl" --keys
expect_error empty_key_name 2 "empty name" "$TMP/run.jsonl" --keys a,,b

# --- --help documents every option and the defaults
run --help
[ "$rc" -eq 0 ] && for o in -o --output --keys --x --title --log-y \
    'default: step' tokens_per_s rsvg-convert; do
    grep -q -- "$o" "$TMP/out" || exit_help=1
done
[ "$rc" -eq 0 ] && [ -z "$exit_help" ]
check help_documents_options $?

exit $failed
