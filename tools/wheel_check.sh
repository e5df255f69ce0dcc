#!/usr/bin/env bash
# Build fastdrum's sdist and binary wheel, repair the wheel into a manylinux tag, check both with
# twine, then install the wheel into a fresh venv where no compiler can run and run README.md's
# command 1 (a house beat and a 16-variation kit from the shipped models) in a folder outside the
# checkout, so that the installed package, not the source tree, is what runs.
#
# Usage: tools/wheel_check.sh [OUT_DIR]      (default dist/; needs the release extra:
#                                             pip install -e ".[release]")
# PYTHON defaults to the `python` on PATH (e.g. an activated venv). Prints the wheel's tag and
# size and the install time; exits non-zero if any step fails.
#
# The wheel is built without -march=native (setup.py adds no such flag): the kernel's AVX2 + FMA +
# F16C functions are compiled for those instructions one function at a time and chosen at run
# time, so one x86-64 wheel serves every CPU. auditwheel copies libgomp (OpenMP) into the wheel.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
OUT="$(mkdir -p "${1:-$ROOT/dist}" && cd "${1:-$ROOT/dist}" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
VERSION="$("$PYTHON" -c 'import runpy, sys; print(runpy.run_path(sys.argv[1])["__version__"])' \
    "$ROOT/fastdrum/_version.py")"

echo "== building the sdist, and the wheel from it (python -m build)"
"$PYTHON" -m build --outdir "$WORK/raw" "$ROOT"

echo "== repairing the wheel into a manylinux tag (auditwheel)"
"$PYTHON" -m auditwheel show "$WORK/raw"/fastdrum-"$VERSION"-*.whl
"$PYTHON" -m auditwheel repair --strip --wheel-dir "$WORK/repaired" \
    "$WORK/raw"/fastdrum-"$VERSION"-*.whl
rm -f "$OUT"/fastdrum-"$VERSION"-*.whl "$OUT"/fastdrum-"$VERSION".tar.gz
cp "$WORK/repaired"/*.whl "$WORK/raw"/fastdrum-"$VERSION".tar.gz "$OUT"/
WHEEL="$(ls "$OUT"/fastdrum-"$VERSION"-*manylinux*.whl)"
SDIST="$OUT/fastdrum-$VERSION.tar.gz"

echo "== twine check"
"$PYTHON" -m twine check --strict "$WHEEL" "$SDIST"

echo "== installing the wheel into a fresh venv with no compiler"
# Every compiler name a build backend tries runs a stub that fails, and CC/CXX say false: if pip
# tried to build anything from source here, the install would fail.
mkdir -p "$WORK/nocc"
for cc in cc c++ gcc g++ clang clang++ x86_64-linux-gnu-gcc x86_64-linux-gnu-g++; do
    printf '#!/bin/sh\necho "wheel_check: no compiler here ($0)" >&2\nexit 1\n' >"$WORK/nocc/$cc"
    chmod +x "$WORK/nocc/$cc"
done
"$PYTHON" -m venv "$WORK/venv"
export PATH="$WORK/venv/bin:$WORK/nocc:$PATH" CC=false CXX=false
hash -r
if cc --version >/dev/null 2>&1; then echo "wheel_check: a compiler still runs" >&2; exit 1; fi
start=$(date +%s.%N)
pip install -q --only-binary=:all: "$WHEEL"
end=$(date +%s.%N)

echo "== README command 1, from $WORK/run"
mkdir "$WORK/run"
cd "$WORK/run"
python - <<'PY'
import fastdrum, fastdrum._ext._wavenet as k, sys
assert fastdrum.__file__.startswith(sys.prefix), fastdrum.__file__   # the wheel, not the checkout
print("fastdrum", fastdrum.__version__, "from", fastdrum.__file__)
print("SIMD paths:", k.simd_available())
PY
fastdrum beat -o beat.wav && fastdrum kit -o my-kit -n 16
test -s beat.wav && test -d my-kit

echo "== wheel_check: ok"
echo "wheel:   $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KiB)"
echo "sdist:   $(basename "$SDIST") ($(du -k "$SDIST" | cut -f1) KiB)"
seconds="$(python -c "print(f'{$end - $start:.1f}')")"
echo "install: $seconds s (pip install of the wheel and its dependencies)"
