"""The fast, deterministic subset of tools/fuzz_inputs.py (the long run is
``nice -n 15 python tools/fuzz_inputs.py --cases 10000``): hostile MIDI files and kit folders."""

import random

import pytest

from tools import fuzz_inputs as fz


def test_fuzz_subset_meets_the_oracle():
    outcomes, failures, _, _ = fz.run(200, seed=0, quiet=True)
    assert failures == []
    assert sum(outcomes.values()) == 200
    # the cases reach every outcome: read and refused MIDI files, loaded and refused kits
    kinds = " ".join(outcomes)
    for expected in ("midi: read", "midi: MidiError", "kit: loaded", "kit: KitError"):
        assert expected in kinds, outcomes


@pytest.mark.parametrize("case", [fz.midi_case, fz.kit_case])
def test_the_oracle_can_fail(case, tmp_path, monkeypatch):
    """A reader that drops a hit, or follows a link out, is caught."""
    if case is fz.midi_case:
        import fastdrum.midi

        real = fastdrum.midi.read_midi

        def lossy(*args, **kwargs):
            hits, length = real(*args, **kwargs)
            return hits[1:], length

        monkeypatch.setattr(fastdrum.midi, "read_midi", lossy)
    else:
        import fastdrum.kit

        monkeypatch.setattr(fastdrum.kit, "_refuse_links_out", lambda directory: None)
    caught = 0
    for i in range(80):
        try:
            case(random.Random(f"oracle-{i}"), str(tmp_path))
        except fz.Failure:
            caught += 1
    assert caught > 0
