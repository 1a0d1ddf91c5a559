# Shared by the CLI test scripts (sourced): a fresh WORK folder to run in, `run` to call the
# tool, `fail` to report with the command and its output, and the expect_* checks.
# The sourcing script sets case_name, MILO and WORK first.

rm -rf "$WORK"
mkdir -p "$WORK" || exit 1
cd "$WORK" || exit 1

last=""
code=0

fail() {
    echo "FAIL [$case_name]: $*" >&2
    echo "--- command: $last" >&2
    echo "--- stdout:" >&2
    head -c 6000 out.txt >&2 2>/dev/null
    echo "--- stderr:" >&2
    head -c 4000 err.txt >&2 2>/dev/null
    exit 1
}

# run ARGS...: runs milo with ARGS; stdout in out.txt, stderr in err.txt, status in $code.
run() {
    last="milo $*"
    "$MILO" "$@" >out.txt 2>err.txt
    code=$?
}

# run_in FILE ARGS...: as run, with FILE on standard input.
run_in() {
    input=$1
    shift
    last="milo $* < $input"
    "$MILO" "$@" <"$input" >out.txt 2>err.txt
    code=$?
}

expect_code() { [ "$code" = "$1" ] || fail "expected exit code $1, got $code"; }
expect_out() { grep -q -F -- "$1" out.txt || fail "stdout lacks: $1"; }
expect_err() { grep -q -F -- "$1" err.txt || fail "stderr lacks: $1"; }
# expect_line TEXT: stdout has a line that is exactly TEXT.
expect_line() { grep -q -x -F -- "$1" out.txt || fail "stdout lacks the line: $1"; }
expect_no_out() { grep -q -F -- "$1" out.txt && fail "stdout unexpectedly has: $1"; return 0; }
expect_empty_out() { [ ! -s out.txt ] || fail "stdout should be empty"; }
expect_empty_err() { [ ! -s err.txt ] || fail "stderr should be empty"; }
same_bytes() { cmp -s "$1" "$2" || fail "$1 and $2 differ"; }
