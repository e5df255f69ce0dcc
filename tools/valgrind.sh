#!/usr/bin/env bash
# Run (a fast subset of) the kernel tests under valgrind memcheck.
#
# The kernel is built with the normal flags into a temporary copy of the
# package (the in-place build is not touched), and tests/test_kernel.py runs
# against that copy. Python's allocator is plain malloc (PYTHONMALLOC=malloc)
# so memcheck sees every block. Exit status non-zero on any memcheck error or
# definite leak (--errors-for-leak-kinds=definite); the interpreter's own
# reports are suppressed by tools/valgrind-python.supp (read it: every entry is
# anchored at a top frame outside fastdrum).
#
# Usage: tools/valgrind.sh [pytest -k expression]
#        The default subset covers both product paths, both activation paths,
#        1-3 threads, chunked calls and the argument checks (a few minutes).
set -euo pipefail

SUBSET="${1:-same_codes and (blas-scalar-1.0 or simd-simd-0.8) or independent and simd-simd or bad_run}"
. "$(dirname "${BASH_SOURCE[0]}")/kernel_copy.sh"
echo "== building the extension in $WORK/src"
kernel_copy_build

cd "$WORK/src"
export PYTHONPATH="$WORK/src"
"$PYTHON" -c 'import sys, fastdrum._ext._wavenet as k
if not k.__file__.startswith(sys.argv[1]):
    sys.exit(f"wrong kernel under test: {k.__file__}")
print("kernel under test:", k.__file__)' "$WORK/src"
echo "== valgrind memcheck: tests/test_kernel.py -k '$SUBSET'"
status=0
env PYTHONMALLOC=malloc OPENBLAS_NUM_THREADS=1 valgrind \
    --tool=memcheck --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --num-callers=30 --suppressions="$ROOT/tools/valgrind-python.supp" \
    "$PYTHON" -m pytest -p no:cacheprovider -q tests/test_kernel.py -k "$SUBSET" || status=$?
if [ "$status" -ne 0 ]; then
    echo "== valgrind.sh: FAILED (exit status $status)"
    exit "$status"
fi
echo "== valgrind.sh: clean"
