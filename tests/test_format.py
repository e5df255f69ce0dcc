"""Model format 1: round trips, files written by other programs, one test per kind of bad file."""

import json

import numpy as np
import pytest

import fastdrum
from fastdrum import ModelFormatError, ModelNotFoundError, load_model
from fastdrum.testing import random_model


def arrays_of(model):
    """The format-1 arrays of a model, as another program would write them."""
    a = {
        "format_version": np.array(1),
        "sample_rate": np.array(model.sample_rate),
        "dilations": np.array(model.dilations),
        "meta": np.array(json.dumps(model.meta)),
    }
    a.update({k: np.array(v) for k, v in model.weights.items()})
    return a


@pytest.fixture
def good():
    return arrays_of(random_model(seed=0, dilations=[1, 2, 4], primers=3))


def write(tmp_path, arrays, name="m.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_round_trip(tmp_path):
    model = random_model(seed=0, primers=4)
    model.save(tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    assert back.dilations == model.dilations and back.sample_rate == model.sample_rate
    assert back.meta == model.meta
    np.testing.assert_array_equal(back.primers, model.primers)
    for k, v in model.weights.items():
        np.testing.assert_array_equal(back.weights[k], v)
    codes = np.arange(20) % model.quantization_channels
    np.testing.assert_array_equal(back.forward(codes), model.forward(codes))


def test_file_written_by_another_program(tmp_path, good):
    """np.savez_compressed with int32 metadata, no primers or meta: still format 1."""
    del good["meta"]
    good["dilations"] = good["dilations"].astype(np.int32)
    good["sample_rate"] = np.array(22050, dtype=np.int32)
    path = tmp_path / "other.npz"
    np.savez_compressed(path, **good)
    model = load_model(path)
    assert model.sample_rate == 22050 and model.primers is None and model.instrument is None
    assert (
        model.n_layers,
        model.quantization_channels,
        model.residual_channels,
        model.dilation_channels,
        model.skip_channels,
    ) == (3, 32, 8, 6, 10)
    assert model.receptive_field == 1 + 2 + 4 + 2


def test_save_replaces_a_file_only_when_asked(tmp_path):
    model, other = random_model(seed=0), random_model(seed=1)
    model.save(tmp_path / "m.npz")
    with pytest.raises(fastdrum.OutputExistsError, match="already exists"):
        other.save(tmp_path / "m.npz")  # overwrite=False is the default, as for every writer
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind
    assert np.array_equal(load_model(tmp_path / "m.npz").weights["out2_b"], model.weights["out2_b"])
    other.save(tmp_path / "m.npz", overwrite=True)
    assert np.array_equal(load_model(tmp_path / "m.npz").weights["out2_b"], other.weights["out2_b"])
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


@pytest.mark.parametrize(
    "key", ["format_version", "sample_rate", "dilations", "input_w", "dil_b", "out2_b"]
)
def test_missing_key(tmp_path, good, key):
    del good[key]
    with pytest.raises(ModelFormatError, match=f"'{key}': missing"):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize(
    "key,shape",
    [
        ("input_w", (2, 32, 9)),
        ("dil_w", (3, 2, 8, 13)),
        ("res_w", (3, 6, 7)),
        ("out1_w", (10, 11)),
        ("skip_b", (4, 10)),
    ],
)
def test_wrong_shape(tmp_path, good, key, shape):
    good[key] = np.zeros(shape, dtype=np.float32)
    with pytest.raises(ModelFormatError, match=f"'{key}'"):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize(
    "key,dtype", [("input_w", np.float64), ("dil_b", np.float16), ("out2_w", np.int32)]
)
def test_wrong_dtype(tmp_path, good, key, dtype):
    good[key] = good[key].astype(dtype)
    with pytest.raises(ModelFormatError, match=f"'{key}': dtype must be float32"):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_not_finite(tmp_path, good, bad):
    good["res_b"][1, 2] = bad
    with pytest.raises(ModelFormatError, match="'res_b': contains NaN or Inf"):
        load_model(write(tmp_path, good))


def test_object_array_is_refused_without_unpickling(tmp_path, good):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    good["meta"] = np.array([Evil()], dtype=object)
    path = tmp_path / "evil.npz"
    np.savez(path, **good)  # np.savez pickles object arrays
    with pytest.raises(ModelFormatError, match="'meta'"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("version", [0, 8, 99])
def test_unknown_version(tmp_path, good, version):
    good["format_version"] = np.array(version)
    with pytest.raises(ModelFormatError, match=f"'format_version': unknown version {version}"):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize("dilations", [[1, 0, 2], [1, -4, 2], [1, 2**40, 2]])
def test_absurd_dilations(tmp_path, good, dilations):
    good["dilations"] = np.array(dilations, dtype=np.int64)
    with pytest.raises(ModelFormatError, match="'dilations'"):
        load_model(write(tmp_path, good))


def test_not_a_zip(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"this is not a model")
    with pytest.raises(ModelFormatError, match="not a model file"):
        load_model(path)


def test_truncated_file(tmp_path, good):
    data = write(tmp_path, good).read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError):
        load_model(path)


def test_size_limit_checked_before_reading(tmp_path, good):
    path = write(tmp_path, good)
    with pytest.raises(ModelFormatError, match="size limit"):
        load_model(path, max_bytes=1000)


def test_bad_meta_json(tmp_path, good):
    good["meta"] = np.array("{not json")
    with pytest.raises(ModelFormatError, match="'meta': is not valid JSON"):
        load_model(write(tmp_path, good))


def test_meta_must_be_an_object(tmp_path, good):
    good["meta"] = np.array("[1, 2]")
    with pytest.raises(ModelFormatError, match="'meta': must hold a JSON object"):
        load_model(write(tmp_path, good))


def test_primer_codes_out_of_range(tmp_path, good):
    good["primers"] = np.array([[0, 1, 32]])
    with pytest.raises(ModelFormatError, match=r"'primers': codes must lie in \[0, 32\)"):
        load_model(write(tmp_path, good))


def test_sample_rate_must_be_positive(tmp_path, good):
    good["sample_rate"] = np.array(0)
    with pytest.raises(ModelFormatError, match="'sample_rate'"):
        load_model(write(tmp_path, good))


def test_errors_are_value_errors_and_fastdrum_errors(tmp_path, good):
    del good["input_b"]
    with pytest.raises(ValueError):
        load_model(write(tmp_path, good))
    with pytest.raises(fastdrum.FastDrumError):
        load_model(write(tmp_path, good))


def test_unknown_name_lists_shipped_models():
    with pytest.raises(
        ModelNotFoundError, match=r"no model named 'cowbell-9000'; shipped models: \["
    ):
        load_model("cowbell-9000")


def test_missing_path(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_model(tmp_path / "nope.npz")
