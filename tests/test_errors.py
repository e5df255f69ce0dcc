"""fastdrum.errors: every exception in one module, exported from fastdrum, each also a builtin."""

import inspect

import pytest

import fastdrum
from fastdrum import errors


def test_every_exception_of_the_package_is_defined_in_fastdrum_errors_and_exported():
    defined = {
        name
        for name, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, (Exception, Warning)) and obj.__module__ == errors.__name__
    }
    assert defined == set(errors.__all__)
    for name in errors.__all__:
        assert name in fastdrum.__all__ and getattr(fastdrum, name) is getattr(errors, name)


ERRORS = [n for n in errors.__all__ if n not in ("FastDrumError", "FastDrumWarning")]


@pytest.mark.parametrize("name", ERRORS)
def test_each_error_is_a_fastdrum_error_and_the_builtin_it_means(name):
    cls = getattr(errors, name)
    assert issubclass(cls, fastdrum.FastDrumError)
    builtins = [
        b
        for b in cls.__mro__
        if b.__module__ == "builtins" and b not in (Exception, BaseException, object)
    ]
    assert builtins, f"{name} is not also a builtin exception"


def test_no_module_of_the_package_defines_an_exception_of_its_own():
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(fastdrum.__path__, "fastdrum."):
        if info.name in ("fastdrum.__main__", "fastdrum.serve.app"):
            continue  # runs the command; needs the serve extra
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, fastdrum.FastDrumError):
                where = f"{info.name}.{name}"
                assert obj.__module__ == "fastdrum.errors", f"{where} is defined outside errors"


def test_a_missing_instrument_reads_as_its_message():
    err = errors.InstrumentNotFoundError("the kit has no 'snare'; it has kick")
    assert isinstance(err, KeyError) and isinstance(err, ValueError)
    assert str(err) == "the kit has no 'snare'; it has kick"
