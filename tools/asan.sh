#!/usr/bin/env bash
# Run the kernel tests against an AddressSanitizer + UndefinedBehaviorSanitizer
# build of fastdrum._ext._wavenet, with leak checking: tests/test_kernel.py,
# tests/test_kernel_time.py (time since the onset), tests/test_conditioning.py (the per-row
# conditioning bias) and tests/test_guidance.py (rows in pairs, negative-voice guidance).
#
# The sanitized extension is built into a temporary copy of the package (the
# normal in-place build is never touched), and tests/test_kernel.py runs
# against that copy with libasan preloaded into the interpreter.
# Exit status: non-zero on any test failure, sanitizer report or leak.
#
# Leaks: LeakSanitizer reports every block still allocated at exit. CPython,
# numpy, scipy/OpenBLAS and libgomp keep process-lifetime allocations (module
# tables, interned objects, thread pools) that they never free; those are
# suppressed by the allocator entry points and libraries they come from (see
# tools/lsan.supp). Allocation stacks are recorded two frames deep
# (malloc_context_size=2), so a suppression matches only the function that
# called malloc itself: the kernel allocates with posix_memalign/malloc directly
# from _wavenet.so, so its own leaks are still reported (checked by injecting
# one). Not covered: reference-count leaks of Python objects.
#
# Usage: tools/asan.sh [extra pytest args]     (PYTHON defaults to the `python` on PATH,
#                                                 e.g. an activated venv)
set -euo pipefail

CC="${CC:-gcc}"
. "$(dirname "${BASH_SOURCE[0]}")/kernel_copy.sh"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
echo "== building the sanitized extension in $WORK/src"
kernel_copy_build CC="$CC" FASTDRUM_EXTRA_CFLAGS="$SAN -O1 -g" FASTDRUM_EXTRA_LDFLAGS="$SAN"

LIBASAN="$("$CC" -print-file-name=libasan.so)"
LIBUBSAN="$("$CC" -print-file-name=libubsan.so)"
echo "== running the kernel's tests with LD_PRELOAD=$LIBASAN"
cd "$WORK/src"
status=0
env LD_PRELOAD="$LIBASAN:$LIBUBSAN" \
    PYTHONMALLOC=malloc \
    ASAN_OPTIONS="detect_leaks=1:malloc_context_size=2:abort_on_error=0:halt_on_error=1:exitcode=99:detect_odr_violation=0:strict_init_order=1:allocator_may_return_null=1" \
    LSAN_OPTIONS="suppressions=$ROOT/tools/lsan.supp:print_suppressions=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98" \
    PYTHONPATH="$WORK/src" \
    "$PYTHON" - "$@" <<'PY' || status=$?
import sys
import pytest
import fastdrum._ext._wavenet as k
assert "/src/fastdrum/" in k.__file__ and "/tmp" in k.__file__, k.__file__   # the sanitized copy
print("kernel under test:", k.__file__)
sys.exit(pytest.main(["-p", "no:cacheprovider", "-q", "tests/test_kernel.py", "tests/test_kernel_time.py", "tests/test_conditioning.py",
                      "tests/test_guidance.py",
                      "tests/test_predictor_loop.py::test_the_kernel_runs_the_loop_as_the_reference_does",
                      "tests/test_predictor_loop.py::test_the_kernel_draws_the_references_clips",
                      *sys.argv[1:]]))
PY
if [ "$status" -ne 0 ]; then
    echo "== asan.sh: FAILED (exit status $status)"
    exit "$status"
fi
echo "== asan.sh: clean"
