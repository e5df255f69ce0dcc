# Sourced by tools/asan.sh and tools/valgrind.sh: a throwaway copy of the package
# in which the kernel's tests run against a specially built extension.
#
# Sets ROOT (the repository), PYTHON (default: the `python` on PATH) and WORK (a
# temporary folder, removed on exit), and copies into $WORK/src the package
# without any built files, setup.py, pyproject.toml, the kernel's tests
# (tests/test_kernel.py, tests/test_kernel_time.py, tests/test_conditioning.py,
# tests/test_guidance.py, the format-7 kernel tests of tests/test_predictor_loop.py with
# tests/test_predictor.py, which it imports, and the data they use), tests/conftest.py and tests/kernel_support.py, and a pytest.ini
# that turns warnings into errors.
# kernel_copy_build ENV...: build the extension there in place with the given
# environment assignments (e.g. FASTDRUM_EXTRA_CFLAGS=...); on failure print
# the build log and exit 1.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/src/tests"
cp -r "$ROOT/fastdrum" "$WORK/src/fastdrum"
find "$WORK/src/fastdrum" \( -name '*.so' -o -name '*.c' -o -name '__pycache__' \) -prune -exec rm -rf {} +
cp "$ROOT/setup.py" "$ROOT/pyproject.toml" "$WORK/src/"
cp "$ROOT/tests/test_kernel.py" "$ROOT/tests/test_kernel_time.py" "$ROOT/tests/test_conditioning.py" \
    "$ROOT/tests/test_guidance.py" "$ROOT/tests/test_predictor_loop.py" "$ROOT/tests/test_predictor.py" \
    "$ROOT/tests/conftest.py" "$ROOT/tests/kernel_support.py" "$WORK/src/tests/"
cp -r "$ROOT/tests/data" "$WORK/src/tests/"
[ -f "$ROOT/README.md" ] && cp "$ROOT/README.md" "$WORK/src/"
printf '[pytest]\nfilterwarnings = error\nmarkers =\n    slow: a test that takes more than a few seconds\n' >"$WORK/src/pytest.ini"

kernel_copy_build() {
    (cd "$WORK/src" && env "$@" "$PYTHON" setup.py -q build_ext --inplace --build-temp "$WORK/build" \
        >"$WORK/build.log" 2>&1) || { cat "$WORK/build.log"; exit 1; }
}
