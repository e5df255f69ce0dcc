"""training.model_card on a conditioned model (format 2): voices, averaged weights, a check per voice."""

import fastdrum
from training import model_card
from training.average import model_with_arrays
from training.tune import tuned_model


def test_card_of_a_conditioned_model_lists_every_voice_and_how_its_weights_were_made(tmp_path):
    tiny = fastdrum.load_model("tests/data/tiny_drums.npz")
    data = [
        dict(kit="KitA", voice="kick", split="train"),
        dict(kit="KitA", voice="kick", split="train"),
        dict(kit="FluidR3_GM.sf2:Power", voice="crash", split="val"),
    ]
    meta = dict(
        tiny.meta,
        data=data,
        holdout_data=[dict(kit="KitH", voice="kick")],
        holdout_kits=["KitH"],
        kits={"KitA": "CC0", "FluidR3_GM.sf2:Power": "MIT"},
        weights_averaged=dict(first=250, last=1000, snapshots=4),
        config=dict(
            tiny.meta.get("config", {}),
            crop=8192,
            voice_weights="length",
            input_noise=1.5,
            input_drift=0.01,
            input_drift_hz=10.0,
            input_drift_share=0.25,
        ),
    )
    arrays = {k: v for k, v in tiny.weights.items()}
    model = model_with_arrays(tiny, arrays, meta, "test")
    rows = [dict(voice="kick", temperature=0.7, epsilon=0.01, shortfall=0.0)]
    grid = [(0.7, 0.0), (0.7, 0.01), (1.0, 0.0), (1.0, 0.01)]
    model = tuned_model(model, {"kick": (0.7, 0.01)}, grid=grid, n=4, seed=1, rows=rows)
    path = tmp_path / "drums.npz"
    model.save(path)
    assert model_card.main([str(path), "--check", "--check-duration", "0.005"]) == 0
    card = (tmp_path / "drums.md").read_text()
    assert "conditioned on the voice that generates **10 voices**" in card
    assert "| pre-emphasis | y(t) - 0.85 y(t-1)" in card
    assert "| kick | 0.02 s | 0.7 | 0.01 | 2 | 1 |" in card  # two training clips, one held out
    assert (
        "| crash | 0.03 s | 1.0 | 0.0 | 0 | 0 |" in card
    )  # a validation clip is not a training clip
    assert "the mean of 4 snapshots, steps 250 to 1000" in card
    assert "| windows | 8192 samples, half from the onset" in card
    assert "each row's voice drawn in proportion to its clip length |" in card
    assert "| input noise | 1.5 codes (training only)" in card
    assert (
        "| input drift | RMS 0.01 (training only): a share 0.25 of the input windows plus a few "
        "random cosines below 10 Hz, the targets clean |"
    ) in card
    assert "among temperatures [0.7, 1.0] and epsilons [0.0, 0.01]" in card
    assert "SoundFont kits" in card
    assert card.count("- `") == len(model.voices)  # a sanity check line per voice
    assert "zero-padded to each voice's clip length (below)" in card  # not one length for all
    assert "To be filled" not in card and "Stand-in" not in card
    assert "judged again" not in card  # no second judgement in this tuning
    assert "training/window.py" not in card  # the window was not chosen by clips
    model.meta["window_choice"] = dict(
        n=40, seed=1, own_first=250, chosen_first=750, shortfall={"250": 2.0, "750": 1.0}
    )
    model.meta["weights_averaged"] = dict(first=750, last=1000, snapshots=2)
    model.save(path, overwrite=True)
    assert model_card.main([str(path)]) == 0
    assert (
        "| exported weights | the mean of 2 snapshots, steps 750 to 1000 (`training/average.py`); "
        "the window chosen among 2 by the shortfall of 40 clips a voice, seed 1 "
        "(`training/window.py`; the run's own began at step 250) |"
    ) in (tmp_path / "drums.md").read_text()
    assert "| seed | None |" in (tmp_path / "drums.md").read_text()  # tiny's config has none
    # a training seed chosen by training/seeds.py: the card names the runs and their screens
    model.meta["config"] = dict(model.meta.get("config") or {}, seed=2)
    model.meta["seed_choice"] = dict(
        n=100, seed=5, seeds=[0, 1, 2], chosen=2, shortfall={"0": 3.1, "1": 1.25, "2": 0.5}
    )
    model.save(path, overwrite=True)
    assert model_card.main([str(path)]) == 0
    assert (
        "| seed | 2: of the runs of training seeds [0, 1, 2], the least short by 100 clips a voice, "
        "seed 5 (`training/seeds.py`; shortfall 0: 3.1, 1: 1.25, 2: 0.5) |"
    ) in (tmp_path / "drums.md").read_text()
    del model.meta["seed_choice"]
    # a window of one snapshot is that snapshot, not a mean
    model.meta["weights_averaged"] = dict(first=1000, last=1000, snapshots=1)
    model.save(path, overwrite=True)
    assert model_card.main([str(path)]) == 0
    assert (
        "| exported weights | the snapshot of step 1000 alone (`training/average.py`); the window"
    ) in (tmp_path / "drums.md").read_text()


def test_card_of_a_model_tuned_with_a_second_judgement_says_how(tmp_path):
    tiny = fastdrum.load_model("tests/data/tiny_drums.npz")
    rows = [dict(voice="kick", temperature=t, epsilon=0.0, shortfall=t) for t in (0.8, 0.9, 1.0)]
    crows = rows[:2]  # kick's two best pairs judged again
    model = tuned_model(
        tiny,
        {"kick": (0.8, 0.0)},
        grid=[(0.8, 0.0), (0.9, 0.0), (1.0, 0.0)],
        n=40,
        seed=1,
        rows=rows,
        confirmed=(100, 2, crows),
    )
    path = tmp_path / "drums.npz"
    model.save(path)
    assert model_card.main([str(path)]) == 0
    card = (tmp_path / "drums.md").read_text()
    assert "whose 40 clips (seed 1) fall least short" in card
    assert (
        "each voice's 2 best pairs of that screen were judged again on 100 clips (seed 2)" in card
    )


def test_card_of_a_run_without_a_validation_split_says_so(tmp_path):
    """A run with ``--val-fraction 0``: every clip trains and no validation loss exists."""
    tiny = fastdrum.load_model("tests/data/tiny_drums.npz")
    data = [dict(kit="KitA", voice="kick", split="train")] * 3
    losses = dict(tiny.meta.get("losses", {}), val_best=None, val_last=None)
    meta = dict(tiny.meta, data=data, kits={"KitA": "CC0"}, losses=losses)
    path = tmp_path / "drums.npz"
    model_with_arrays(tiny, dict(tiny.weights), meta, "test").save(path)
    assert model_card.main([str(path)]) == 0
    card = (tmp_path / "drums.md").read_text()
    assert "3 training clips (no validation split: every clip not held out trains)" in card
    assert "| validation loss | none (no validation split) |" in card
    assert "validation loss, best" not in card and "validation loss, last" not in card
    # Validation clips without recorded losses (an older file): not "no validation split".
    meta = dict(meta, data=data + [dict(kit="KitA", voice="kick", split="val")])
    model_with_arrays(tiny, dict(tiny.weights), meta, "test").save(path, overwrite=True)
    assert model_card.main([str(path)]) == 0
    assert "no validation split" not in (tmp_path / "drums.md").read_text()
    # With a split, both figures are given.
    meta["losses"] = dict(losses, val_best=3.25, val_last=3.5)
    model_with_arrays(tiny, dict(tiny.weights), meta, "test").save(path, overwrite=True)
    assert model_card.main([str(path)]) == 0
    card = (tmp_path / "drums.md").read_text()
    assert "3 training and 1 validation clips (whole instruments" in card
    assert "| validation loss, best | 3.25 nats |" in card


def test_card_of_a_stand_in_says_so_before_anything_else(tmp_path):
    """A model whose meta has ``stand_in`` (random weights put where a trained model will go)."""
    tiny = fastdrum.load_model("tests/data/tiny_drums.npz")
    meta = dict(tiny.meta, stand_in="random weights, replace before release")
    model = model_with_arrays(tiny, dict(tiny.weights), meta, "test")
    path = tmp_path / "drums.npz"
    model.save(path)
    assert model_card.main([str(path)]) == 0
    lines = (tmp_path / "drums.md").read_text().splitlines()
    assert not any("input noise" in x for x in lines)  # a run without input noise: no row
    assert lines[4] == (
        "> **Stand-in, not a trained model.** random weights, replace before release"
    )


def test_windows_row_names_how_voices_are_drawn():
    """The card's windows row says how each row's voice was drawn: uniformly, by length, or by the
    weights given."""
    from training.model_card import _windows_row

    assert _windows_row(dict(crop=0)) == "| windows | whole clips |"
    assert _windows_row(dict(crop=64)).endswith("each row's voice drawn uniformly |")
    row = _windows_row(dict(crop=64, voice_weights="clap=2,tom_low=2"))
    assert row.endswith(
        "drawn in proportion to the weights clap=2,tom_low=2 (a voice not named: 1) |"
    )


def test_card_of_a_model_of_one_voice_names_it_and_its_folders(tmp_path):
    """A model conditioned on one voice (as the shipped clap.npz) is called a model of that voice, and
    the folders of one-shots it trained on (--data) are named beside the kits."""
    from fastdrum.testing import random_model

    model = random_model(seed=0, voices=["clap"], dilations=[1, 2])
    meta = dict(
        model.meta,
        instrument="clap",
        data=[dict(kit="LMMS samples/drums", voice="clap", split="train")],
        kits={"LMMS samples/drums": "GPL-2+"},
        config=dict(data=["/usr/share/lmms/samples/drums"]),
    )
    model = model_with_arrays(model, dict(model.weights), meta, "test")
    model.save(tmp_path / "clap.npz")
    assert model_card.main([str(tmp_path / "clap.npz")]) == 0
    card = (tmp_path / "clap.md").read_text()
    assert "A WaveNet of one voice, **clap**, at" in card and "1 voices" not in card
    assert "and folders of one-shots (`/usr/share/lmms/samples/drums`)." in card
    assert "| LMMS samples/drums | GPL-2+ | 1 | 0 |" in card


def test_card_of_a_model_tuned_with_guidance_lists_each_voices_default(tmp_path):
    tiny = fastdrum.load_model("tests/data/tiny_drums.npz")
    grows = [
        dict(
            voice="openhat", temperature=0.9, epsilon=0.0, negative_voice=u, guidance=w, shortfall=s
        )
        for u, w, s in ((None, 0.0, 1.0), ("hihat", 0.5, 0.2))
    ]
    model = tuned_model(
        tiny,
        {"openhat": (0.9, 0.0)},
        grid=None,
        n=40,
        seed=1,
        rows=None,
        guided=((0.5, 1.0), {"openhat": ("hihat", 0.5)}, grows),
        guidance_confirmed=(40, [2, 3], [dict(r, seed=s) for s in (2, 3) for r in grows]),
    )
    path = tmp_path / "drums.npz"
    model.save(path)
    assert model_card.main([str(path), "--check", "--check-duration", "0.005"]) == 0
    card = (tmp_path / "drums.md").read_text()
    assert (
        "then only where it also falls less short than no guidance on 40 clips of each of the "
        in card
    )
    assert "seeds [2, 3]" in card
    assert "| default guidance |" in card
    assert "| openhat | " in card and "| 0.9 | 0.0 | away from hihat x0.5 | 0 | 0 |" in card
    assert "| kick | 0.02 s | 0.8 | 0.0 | none | 0 | 0 |" in card
    assert "at weights [0.5, 1.0], beside no guidance, on 40 clips (seed 1)" in card
    assert model.meta["guidance_tuning"]["shortfall"] == {
        "openhat@0.9/0.0": 1.0,
        "openhat@0.9/0.0-hihat*0.5": 0.2,
    }


def test_input_drift_row_says_every_window_and_the_default_band():
    from training.model_card import _input_drift_rows

    assert _input_drift_rows({}) == [] and _input_drift_rows({"input_drift": None}) == []
    (row,) = _input_drift_rows({"input_drift": 0.002})
    assert row == (
        "| input drift | RMS 0.002 (training only): each input window plus a few random cosines "
        "below 30 Hz, the targets clean |"
    )


def test_card_names_each_voice_s_pre_emphasis():
    from fastdrum.testing import random_model

    m = random_model(seed=0, voices=["kick", "hihat"], preemphasis=[0.85, 0.0])
    assert model_card._format2_config_rows(m)[0] == (
        "| pre-emphasis | y(t) - a y(t-1) before mu-law, a by voice (kick 0.85, hihat 0); "
        "undone by `generate()` |"
    )


def test_card_names_the_files_format():
    """A model with leaky integration is format 3 and its card says so (it said format 2)."""
    from fastdrum.testing import random_model

    for voices in (["hihat"], ["kick", "hihat"]):
        for b, version in ((0.0, 2), (0.995, 3)):
            m = random_model(seed=0, voices=voices, preemphasis=0.0, integration=b)
            assert m.format_version == version
            text = model_card.render(m, "m")
            assert f"in fastdrum model format {version}" in text, (voices, b)


def test_card_gives_each_voice_s_low_shelf():
    """A format-4 model's card says so and gives each shelved voice's corner and depth."""
    from fastdrum.mulaw import shelf_coefficients
    from fastdrum.testing import random_model

    c, p = shelf_coefficients(40, 44100)
    m = random_model(
        seed=0, voices=["kick", "hihat"], sample_rate=44100, shelf_zero=[c, 0], shelf_pole=[p, 0]
    )
    text = model_card.render(m, "m")
    assert "in fastdrum model format 4" in text
    row = [r for r in model_card._format2_config_rows(m) if r.startswith("| low shelf")]
    assert len(row) == 1 and "depth kick 40 Hz, 20 dB;" in row[0] and "hihat" not in row[0]


def test_card_gives_the_output_filter_and_each_corrected_voice_s_strength():
    """A format-5 model's card says so, its filter's length, and the strength each voice chose."""
    import numpy as np

    from fastdrum.testing import random_model

    h = np.zeros((2, 64), dtype=np.float32)
    h[:, 0] = 1.0
    h[0, 1] = 0.5
    m = random_model(seed=0, voices=["kick", "hihat"], output_filter=h)
    m.meta = dict(
        m.meta,
        output_filter_choice=dict(
            n=100,
            seed=6,
            fit_seed=7,
            taps=64,
            voices={"kick": dict(strength=0.5), "hihat": dict(strength=0.0)},
        ),
    )
    text = model_card.render(m, "m")
    assert "in fastdrum model format 5" in text
    row = [r for r in model_card._format2_config_rows(m) if r.startswith("| output filter")]
    assert len(row) == 1 and "FIR of 64 taps" in row[0] and "(kick 0.5) |" in row[0]
    assert "seed 7" in row[0] and "hihat" not in row[0]


def test_preprocessing_names_the_high_pass_of_a_run_that_had_one():
    from training.model_card import _highpass_words

    assert _highpass_words({}) == "" and _highpass_words({"highpass_hz": 0.0}) == ""
    assert _highpass_words({"highpass_hz": 60.0}).startswith("high-passed at 60 Hz (a second-order")


def test_card_gives_the_predictor_of_a_format_6_model():
    from fastdrum.testing import random_model

    p = dict(order=8, window=64, hop=32, gain=2.0)
    m = random_model(seed=0, voices=["kick", "hihat"], predictor=p)
    text = model_card.render(m, "m")
    assert "in fastdrum model format 6" in text
    row = [r for r in model_card._format2_config_rows(m) if r.startswith("| predictor")]
    assert len(row) == 1 and "order 8, refitted every 32 samples on the last 64" in row[0]
    assert "(times 2)" in row[0]
    assert not [
        r
        for r in model_card._format2_config_rows(random_model(seed=0, voices=["kick"]))
        if r.startswith("| predictor")
    ]
