"""Build the compiled kernel; all metadata lives in pyproject.toml.

Environment variables read at build time:

FASTDRUM_DEBUG_CYTHON=1
    Turn Cython's bounds, wraparound and initialisation checks back on
    (and build without optimisation), for debugging the kernel.
FASTDRUM_NO_OPENMP=1
    Build without OpenMP: ``n_threads`` then runs the row blocks one after
    another (same results, one core).
FASTDRUM_EXTRA_CFLAGS, FASTDRUM_EXTRA_LDFLAGS
    Extra compiler / linker flags, split on whitespace (tools/asan.sh uses
    them for the sanitizers).
"""

import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("FASTDRUM_DEBUG_CYTHON", "0") == "1"
OPENMP = os.environ.get("FASTDRUM_NO_OPENMP", "0") != "1" and sys.platform != "darwin"

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
link_args = []
if sys.platform == "win32":
    compile_args = ["/O2"] + (["/openmp"] if OPENMP else [])
elif OPENMP:
    compile_args.append("-fopenmp")
    link_args.append("-fopenmp")
compile_args += os.environ.get("FASTDRUM_EXTRA_CFLAGS", "").split()
link_args += os.environ.get("FASTDRUM_EXTRA_LDFLAGS", "").split()

extensions = [
    Extension(
        "fastdrum._ext._wavenet",
        ["fastdrum/_ext/_wavenet.pyx"],
        depends=["fastdrum/_ext/_wavenet.pxd", "fastdrum/_ext/_simd.h"],
        include_dirs=["fastdrum/_ext", np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
