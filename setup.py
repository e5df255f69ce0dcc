"""Build the compiled kernel; all metadata lives in pyproject.toml."""

from setuptools import setup

setup(ext_modules=[])
