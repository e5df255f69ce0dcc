"""Kits: generation, SFZ and Hydrogen export checked against their formats, import, atomic writes."""

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import soundfile as sf

from fastdrum import KitError, OutputExistsError, _io
from fastdrum.instruments import (
    INSTRUMENTS,
    NOTE_TO_INSTRUMENT,
    first_available,
    instrument_from_filename,
)
from fastdrum.kit import HYDROGEN_MAX_LAYERS, Kit, generate_kit
from fastdrum.testing import random_model

NS = "{http://www.hydrogen-music.org/drumkit}"
HYDROGEN_XSD = "/usr/share/hydrogen/data/xsd/drumkit.xsd"

#: The order of an <instrument>'s children in Hydrogen 1.2's drumkit.xsd (choice of pan_L/pan_R or pan).
INSTRUMENT_SEQUENCE = [
    "id",
    "name",
    "volume",
    "isMuted",
    "isSoloed",
    "pan",
    "pitchOffset",
    "randomPitchFactor",
    "gain",
    "applyVelocity",
    "filterActive",
    "filterCutoff",
    "filterResonance",
    "Attack",
    "Decay",
    "Sustain",
    "Release",
    "muteGroup",
    "midiOutChannel",
    "midiOutNote",
    "isStopNote",
    "sampleSelectionAlgo",
    "isHihat",
    "lower_cc",
    "higher_cc",
    "FX1Level",
    "FX2Level",
    "FX3Level",
    "FX4Level",
    "instrumentComponent",
]
DRUMKIT_SEQUENCE = [
    "name",
    "author",
    "info",
    "license",
    "image",
    "imageLicense",
    "componentList",
    "instrumentList",
]
LAYER_SEQUENCE = ["filename", "min", "max", "gain", "pitch"]


def small_kit(n=3, sr=16000, instruments=("kick", "snare", "hihat", "openhat")):
    rng = np.random.default_rng(0)
    return Kit(
        {
            inst: rng.uniform(-0.9, 0.9, (n, 100 + 10 * i)).astype(np.float32)
            for i, inst in enumerate(instruments)
        },
        sr,
    )


def parse_sfz(text):
    """Minimal SFZ reader: a list of (header, {opcode: value}) in file order."""
    text = re.sub(r"//[^\n]*", "", text)
    sections = []
    for m in re.finditer(r"<(\w+)>([^<]*)", text):
        opcodes = dict(re.findall(r"(\w+)=(\S*)", m.group(2)))
        sections.append((m.group(1), opcodes))
    return sections


# -- the Kit object -----------------------------------------------------------------------
def test_kit_canonicalises_names_orders_gm_first_and_freezes_clips():
    kit = Kit({"zap": [np.zeros(3)], "hh": np.zeros((2, 4)), "BD": [np.ones(5)]}, 8000)
    assert kit.instruments == ["kick", "hihat", "zap"]
    assert len(kit["hihat"]) == 2 and "kick" in kit and "snare" not in kit
    with pytest.raises(ValueError):
        kit["kick"][0][0] = 1.0


def test_a_missing_instrument_is_a_key_error_as_in_a_mapping():
    kit = Kit({"kick": [np.zeros(3)]}, 8000)
    with pytest.raises(KeyError) as info:
        kit["snare"]
    assert isinstance(info.value, KitError)  # and a fastdrum error, a ValueError too
    assert str(info.value) == "the kit has no 'snare'; it has kick"  # not quoted as KeyError quotes
    assert "snare" not in kit


@pytest.mark.parametrize(
    "clips, sr, match",
    [
        ({}, 16000, "at least one"),
        ({"kick": np.zeros(10)}, 16000, r"\(10,\)"),
        ({"kick": []}, 16000, "'kick' has no clips"),
        ({"kick": [np.array([0.0, np.inf])]}, 16000, "NaN or Inf"),
        ({"kick": [np.zeros(3)]}, 0, "0"),
        ({"ki ck": [np.zeros(3)]}, 16000, "'ki ck'"),
        ({"kick": [np.zeros(3)], "bd": [np.zeros(3)]}, 16000, "'bd'"),
    ],
)
def test_bad_kits_raise_kiterror(clips, sr, match):
    with pytest.raises(KitError, match=match):
        Kit(clips, sr)


def test_resample_changes_lengths_by_the_rate_ratio():
    kit = small_kit(n=1).resample(44100)
    assert kit.sr == 44100 and len(kit["kick"][0]) == round(100 * 44100 / 16000)


# -- export: SFZ --------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_export_writes_audio_files_that_read_back(tmp_path, fmt):
    kit = small_kit()
    path = kit.export(tmp_path / "k", format=fmt)
    for inst, clips in kit.items():
        for i, y in enumerate(clips):
            data, sr = sf.read(os.path.join(path, f"{inst}_{i:03d}.{fmt}"), dtype="float32")
            info = sf.info(os.path.join(path, f"{inst}_{i:03d}.{fmt}"))
            assert sr == 16000 and info.format == fmt.upper() and info.subtype == "PCM_24"
            np.testing.assert_allclose(data, y, atol=2.0**-22)


def test_sfz_groups_sit_on_gm_notes_and_round_robin_over_files_that_exist(tmp_path):
    kit = small_kit(n=5)
    path = kit.export(tmp_path / "mykit")
    sections = parse_sfz((tmp_path / "mykit" / "mykit.sfz").read_text(encoding="utf-8"))
    assert sections[0] == ("global", {"loop_mode": "one_shot", "amp_veltrack": "100"})
    groups = {}
    current = None
    for header, ops in sections[1:]:
        if header == "group":
            current = int(ops["key"])
            assert current not in groups
            groups[current] = (ops, [])
        else:
            assert header == "region"
            groups[current][1].append(ops)
    # every GM drum note fastdrum's own player maps plays the same instrument in a sampler
    expected = {
        note: first_available(inst, kit.instruments) for note, inst in NOTE_TO_INSTRUMENT.items()
    }
    assert sorted(groups) == sorted(expected)
    assert sorted(groups)[0] == 35 and set(range(35, 60)) <= set(groups)  # every GM drum note
    for note, inst in expected.items():
        ops, regions = groups[note]
        assert int(ops["seq_length"]) == len(kit[inst]) == len(regions)
        assert [int(r["seq_position"]) for r in regions] == list(range(1, len(regions) + 1))
        for r in regions:
            assert os.path.isfile(os.path.join(path, r["sample"]))
            assert r["sample"].startswith(inst + "_")
    # the closed hi-hats choke the open one
    assert groups[46][0]["off_by"] == groups[42][0]["group"] == groups[44][0]["group"]


def test_sfz_passes_sfzlint(tmp_path):
    pytest.importorskip("sfzlint")
    kit = Kit(
        {"kick": np.zeros((2, 100)), "snare": np.zeros((1, 100)), "cowbell": np.zeros((1, 100))},
        16000,
    )
    path = kit.export(tmp_path / "linted")
    lint = "import sys; from sfzlint.cli import sfzlint; sys.argv[0] = 'sfzlint'; sfzlint()"
    for sfz, clean in ((os.path.join(path, "linted.sfz"), True), (tmp_path / "old.sfz", False)):
        if not clean:  # what fastdrum wrote before: sfzlint flags its empty default_path= line
            (tmp_path / "old.sfz").write_text(
                "<control>\ndefault_path=\n<region> sample=linted/kick_000.wav\n"
            )
        proc = subprocess.run(
            [sys.executable, "-c", lint, str(sfz)], capture_output=True, text=True
        )
        assert (proc.stdout.strip() == "" and proc.stderr.strip() == "") == clean, proc


@pytest.mark.parametrize("option", ["author", "license", "info"])
@pytest.mark.parametrize("text", ["a\x01b", "bad \udcff utf-8", "new\nline"])
def test_texts_xml_and_sfz_cannot_hold_are_refused(option, text, tmp_path):
    if option == "info" and text == "new\nline":
        path = small_kit(n=1).export(tmp_path / "k", info=text)  # a paragraph of info is fine
        assert ET.parse(os.path.join(path, "drumkit.xml")).getroot() is not None
        return
    with pytest.raises(KitError, match=option):
        small_kit(n=1).export(tmp_path / "k", **{option: text})
    assert os.listdir(tmp_path) == []


def test_a_kit_name_with_a_new_line_is_refused(tmp_path):
    with pytest.raises(KitError, match="kit name"):
        small_kit(n=1).export(tmp_path / "a\n<region> sample=elsewhere.wav")
    assert os.listdir(tmp_path) == []


# -- export: Hydrogen ---------------------------------------------------------------------
def _in_order(tags, sequence):
    """tags appear in `sequence`'s order (optional elements may be absent)."""
    positions = [sequence.index(t) for t in tags]
    return positions == sorted(positions) and len(set(tags)) == len(tags)


def test_drumkit_xml_matches_hydrogens_schema_and_points_at_files(tmp_path):
    kit = small_kit(n=HYDROGEN_MAX_LAYERS + 4)
    path = kit.export(tmp_path / "h2kit", author="me", license="CC-BY")
    root = ET.parse(os.path.join(path, "drumkit.xml")).getroot()
    assert root.tag == NS + "drumkit_info"
    assert [c.tag[len(NS) :] for c in root] == DRUMKIT_SEQUENCE
    assert root.find(NS + "name").text == "h2kit" and root.find(NS + "author").text == "me"
    assert root.find(NS + "license").text == "CC-BY"
    instruments = root.find(NS + "instrumentList").findall(NS + "instrument")
    assert len(instruments) == len(kit.instruments)
    for i, (inst, e) in enumerate(zip(kit.instruments, instruments)):
        tags = [c.tag[len(NS) :] for c in e]
        assert tags == INSTRUMENT_SEQUENCE
        assert int(e.find(NS + "id").text) == i
        assert int(e.find(NS + "midiOutNote").text) == INSTRUMENTS[inst]
        assert e.find(NS + "sampleSelectionAlgo").text == "ROUND_ROBIN"
        assert -1.0 <= float(e.find(NS + "pan").text) <= 1.0
        layers = e.find(NS + "instrumentComponent").findall(NS + "layer")
        assert len(layers) == HYDROGEN_MAX_LAYERS  # Hydrogen reads at most 16
        for layer in layers:
            assert [c.tag[len(NS) :] for c in layer] == LAYER_SEQUENCE
            assert os.path.isfile(os.path.join(path, layer.find(NS + "filename").text))
            assert (
                float(layer.find(NS + "min").text) == 0.0
                and float(layer.find(NS + "max").text) == 1.0
            )
    hats = {e.find(NS + "midiOutNote").text: e.find(NS + "muteGroup").text for e in instruments}
    assert hats["42"] == hats["46"] != "-1"


@pytest.mark.skipif(
    not os.path.isfile(HYDROGEN_XSD), reason="Hydrogen's drumkit.xsd is not installed"
)
def test_element_orders_agree_with_the_installed_drumkit_xsd():
    xs = "{http://www.w3.org/2001/XMLSchema}"
    schema = ET.parse(HYDROGEN_XSD).getroot()
    elements = {e.get("name"): e for e in schema.findall(xs + "element")}

    def sequence(name):
        names = []
        for e in elements[name].iter(xs + "element"):
            if e is elements[name]:
                continue
            names.append(e.get("name") or e.get("ref").split(":")[-1])
        return names

    inst = sequence("instrument")
    assert _in_order(INSTRUMENT_SEQUENCE, inst)
    required = [
        e.get("name")
        for e in elements["instrument"].iter(xs + "element")
        if e.get("name")
        and e.get("minOccurs") != "0"
        and e.get("name") not in ("pan_L", "pan_R", "pan")
        and e is not elements["instrument"]
    ]
    assert set(required) <= set(INSTRUMENT_SEQUENCE)
    assert sequence("layer") == LAYER_SEQUENCE
    assert [n for n in sequence("drumkit_info") if n in DRUMKIT_SEQUENCE] == DRUMKIT_SEQUENCE


# -- export: atomicity --------------------------------------------------------------------
def test_export_never_overwrites_without_permission(tmp_path):
    kit = small_kit(n=1)
    target = tmp_path / "k"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="'.*k'"):
        kit.export(target)
    assert os.listdir(target) == ["mine.txt"]
    with pytest.raises(
        OutputExistsError, match="did not write"
    ):  # not fastdrum's folder: never replaced
        kit.export(target, overwrite=True)
    assert os.listdir(target) == ["mine.txt"]
    os.remove(target / "mine.txt")
    os.rmdir(target)
    kit.export(target)
    small_kit(n=2).export(target, overwrite=True)  # fastdrum's own folder: replaced
    assert "kick_001.wav" in os.listdir(target) and "drumkit.xml" in os.listdir(target)
    assert sorted(os.listdir(tmp_path)) == ["k"]
    (target / "thesis.txt").write_text("mine")  # a user's file put into it: no longer replaceable
    with pytest.raises(OutputExistsError, match="thesis.txt"):
        kit.export(target, overwrite=True)
    assert (target / "thesis.txt").read_text() == "mine"


def test_kit_folders_refuse_links_that_lead_outside(tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    sf.write(outside / "x.wav", np.ones(80), 8000)
    d = tmp_path / "kit"
    d.mkdir()
    sf.write(d / "kick_000.wav", np.ones(80), 8000)
    os.symlink(outside / "x.wav", d / "snare_000.wav")
    with pytest.raises(KitError, match=r"outside it.*'snare_000.wav' -> '.*secret/x.wav'"):
        Kit.load(d)
    os.remove(d / "snare_000.wav")
    os.symlink(outside, d / "snare")
    with pytest.raises(KitError, match=r"'snare' -> "):
        Kit.load(d)
    os.remove(d / "snare")
    (d / "hats").mkdir()
    os.symlink(outside / "x.wav", d / "hats" / "h1.wav")
    with pytest.raises(KitError, match=r"'hats/h1.wav' -> "):
        Kit.load(d)
    os.remove(d / "hats" / "h1.wav")
    os.symlink(d / "kick_000.wav", d / "hats" / "h1.wav")  # a link inside the folder is fine
    assert Kit.load(d).instruments == ["kick", "hihat"]


def test_ctrl_c_during_export_leaves_nothing(tmp_path, monkeypatch):
    kit = small_kit(n=3)
    real = _io.write_audio_data
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(_io, "write_audio_data", interrupted)
    with pytest.raises(KeyboardInterrupt):
        kit.export(tmp_path / "k")
    assert os.listdir(tmp_path) == []


def test_ctrl_c_during_overwrite_keeps_the_old_kit(tmp_path, monkeypatch):
    target = small_kit(n=1).export(tmp_path / "k")
    before = sorted(os.listdir(target))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_io, "write_audio_data", interrupted)
    with pytest.raises(KeyboardInterrupt):
        small_kit(n=2).export(target, overwrite=True)
    assert sorted(os.listdir(target)) == before and os.listdir(tmp_path) == ["k"]


def test_bad_export_format(tmp_path):
    with pytest.raises(KitError, match="'mp3'"):
        small_kit().export(tmp_path / "k", format="mp3")


# -- import -------------------------------------------------------------------------------
def test_export_then_load_round_trips(tmp_path):
    kit = small_kit(n=3)
    loaded = Kit.load(kit.export(tmp_path / "k", format="flac"))
    assert loaded.instruments == kit.instruments and loaded.sr == kit.sr and loaded.name == "k"
    for inst in kit.instruments:
        for a, b in zip(kit[inst], loaded[inst]):
            np.testing.assert_allclose(a, b, atol=2.0**-22)


def test_load_by_prefix_and_subfolder_mixes_stereo_and_resamples(tmp_path):
    d = tmp_path / "clips"
    d.mkdir()
    sf.write(d / "Kick-Soft.wav", np.full(100, 0.5), 16000)
    sf.write(d / "808_Kick_Long.wav", np.full(100, 0.25), 16000)
    sf.write(d / "hh3.flac", np.full(100, 0.1), 16000)
    sf.write(d / "OpenHat_01.wav", np.stack([np.full(200, 0.2), np.full(200, 0.4)], axis=1), 32000)
    (d / "snares").mkdir()
    sf.write(d / "snares" / "a.wav", np.full(80, 0.3), 16000)
    sf.write(d / "snares" / "b.wav", np.full(80, 0.3), 16000)
    (d / "notes.txt").write_text("not audio")
    kit = Kit.load(d)
    assert kit.sr == 32000
    assert {k: len(v) for k, v in kit.items()} == {"kick": 2, "snare": 2, "hihat": 1, "openhat": 1}
    oh = kit["openhat"][0]
    np.testing.assert_allclose(oh[5:-5], 0.3, atol=1e-3)  # stereo mixed to mono
    assert len(kit["kick"][0]) == 200  # 100 samples at 16 kHz -> 200 at 32 kHz
    assert Kit.load(d, sr=16000).sr == 16000


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        Kit.load(tmp_path / "nope")
    with pytest.raises(KitError, match="no audio files"):
        Kit.load(tmp_path)
    sf.write(tmp_path / "001.wav", np.zeros(10), 8000)
    with pytest.raises(KitError, match="001.wav"):
        Kit.load(tmp_path)


# -- generation ---------------------------------------------------------------------------
@pytest.fixture
def models():
    return {
        "kick": random_model(seed=0, clip_duration=0.01, instrument="kick"),
        "hihat": random_model(seed=1, clip_duration=0.015, sample_rate=8000, instrument="hihat"),
    }


def test_generate_kit_makes_n_post_processed_clips_per_instrument(models):
    kit = generate_kit(models, n=3, seed=0, backend="numpy")
    assert kit.sr == 16000 and kit.instruments == ["kick", "hihat"]
    assert [len(kit[i]) for i in kit.instruments] == [3, 3]
    assert (
        len(kit["kick"][0]) == 160 and len(kit["hihat"][0]) == 240
    )  # 0.015 s at 8 kHz, resampled to 16 kHz
    for y in kit["kick"]:
        assert abs(20 * np.log10(abs(y).max()) + 1.0) < 1e-3  # peak-normalised to -1 dBFS


def test_generate_kit_gives_a_model_without_a_duration_the_documented_default():
    from fastdrum.kit import DEFAULT_CLIP_SECONDS

    m = random_model(seed=0, sample_rate=8000, instrument="kick")
    m.meta.pop("clip_duration")
    assert m.duration is None
    kit = generate_kit({"kick": m}, n=1, seed=0, backend="numpy", post=False)
    assert len(kit["kick"][0]) == round(DEFAULT_CLIP_SECONDS * 8000) == 2000
    kit = generate_kit({"kick": m}, n=1, duration=0.01, seed=0, backend="numpy", post=False)
    assert len(kit["kick"][0]) == 80  # a duration given wins


def test_generate_kit_is_seeded_per_instrument(models):
    a = generate_kit(models, n=2, seed=5, backend="numpy", post=False)
    b = generate_kit({"kick": models["kick"]}, n=2, seed=5, backend="numpy", post=False)
    c = generate_kit(models, n=2, seed=6, backend="numpy", post=False)
    for x, y in zip(a["kick"], b["kick"]):
        np.testing.assert_array_equal(x, y)  # adding the hi-hat changed no kick
    assert not all(np.array_equal(x, y) for x, y in zip(a["kick"], c["kick"]))


def test_generate_kit_from_model_files_and_bad_arguments(tmp_path, models):
    path = tmp_path / "kick.npz"
    models["kick"].save(path)
    kit = generate_kit([str(path)], n=1, duration=0.005, backend="numpy", seed=0)
    assert kit.instruments == ["kick"] and len(kit["kick"][0]) == 80
    with pytest.raises(KitError, match="-1"):
        generate_kit(models, n=1, seed=-1, backend="numpy")
    with pytest.raises(KitError, match="empty"):
        generate_kit({}, backend="numpy")


@pytest.mark.parametrize(
    "name, instrument",
    [
        ("kick_000", "kick"),
        ("Kick-Soft", "kick"),
        ("808_Kick_Long", "kick"),
        ("BD 02", "kick"),
        ("snares", "snare"),
        ("Snare Rim", "snare"),
        ("hh3", "hihat"),
        ("HatClosed-Hard", "hihat"),
        ("Hi-Hat Closed", "hihat"),
        ("Hat Pedal", "hihat"),
        ("HatOpen-Soft", "openhat"),
        ("Hi-Hat Open", "openhat"),
        ("oh_01", "openhat"),
        ("Clap", "clap"),
        ("Floor Tom", "tom_low"),
        ("Tom-Lo", "tom_low"),
        ("Tom Hi", "tom_high"),
        ("Tom Mid", "tom_mid"),
        ("tom_low_003", "tom_low"),
        ("Crash Ride", "crash"),
        ("RideBell", "ride"),
        ("Bell-Hard", "bell"),
        ("001", None),
    ],
)
def test_instrument_names_are_recognised(name, instrument):

    assert instrument_from_filename(name) == instrument


def test_load_a_hydrogen_kit_uses_its_drumkit_xml(tmp_path):
    d = tmp_path / "h2"
    d.mkdir()
    for fn in ("a.wav", "b.wav", "c.wav", "Snare1.wav"):
        sf.write(d / fn, np.full(300, 0.1), 44100)
    ns = "http://www.hydrogen-music.org/drumkit"
    (d / "drumkit.xml").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="{ns}"><name>h2</name><instrumentList>
 <instrument><id>0</id><name>Big Boom</name><midiOutNote>36</midiOutNote>
  <instrumentComponent><layer><filename>a.wav</filename></layer><layer><filename>b.wav</filename></layer>
  </instrumentComponent></instrument>
 <instrument><id>1</id><name>Hat Open</name><midiOutNote>37</midiOutNote>
  <instrumentComponent><layer><filename>c.wav</filename></layer></instrumentComponent></instrument>
</instrumentList></drumkit_info>""")
    kit = Kit.load(d)
    # by note (a name with no known word), by name (its note 37 is not a hat), and by file name
    assert {k: len(v) for k, v in kit.items()} == {"kick": 2, "openhat": 1, "snare": 1}
    (d / "drumkit.xml").write_text("<drumkit_info><unclosed>")
    with pytest.raises(KitError, match="drumkit.xml"):
        Kit.load(d)


def test_our_own_export_with_more_variations_than_hydrogen_layers_loads_whole(tmp_path):
    kit = small_kit(n=HYDROGEN_MAX_LAYERS + 3)
    loaded = Kit.load(kit.export(tmp_path / "big"))
    assert {k: len(v) for k, v in loaded.items()} == {k: len(v) for k, v in kit.items()}


def test_kit_process_applies_each_instruments_chain():
    kit = small_kit(n=2).process()
    for _, clips in kit.items():
        for y in clips:
            assert (
                abs(20 * np.log10(abs(y).max()) + 1.0) < 1e-3 and y[-1] == 0.0
            )  # -1 dBFS peak, faded out
    quiet = small_kit(n=1).process(target_db=-6.0, normalize="peak")
    assert abs(20 * np.log10(abs(quiet["kick"][0]).max()) + 6.0) < 1e-3


@pytest.mark.skipif(
    not os.path.isfile(HYDROGEN_XSD), reason="Hydrogen's drumkit.xsd is not installed"
)
def test_drumkit_xml_validates_against_hydrogens_xsd(tmp_path):
    xmlschema = pytest.importorskip("xmlschema")
    names = list(INSTRUMENTS) + ["cowbell"]
    kit = Kit({n: np.zeros((HYDROGEN_MAX_LAYERS + 1, 10)) for n in names}, 16000)
    path = kit.export(tmp_path / "full")
    xmlschema.XMLSchema(HYDROGEN_XSD).validate(
        os.path.join(path, "drumkit.xml")
    )  # raises if invalid
    assert len(
        ET.parse(os.path.join(path, "drumkit.xml")).getroot().findall(f".//{NS}instrument")
    ) == len(names)


def test_generate_kit_passes_the_guidance_weight_on_to_generate():
    """generate_kit(guidance=w): each voice's clips are generate()'s at weight w away from its default
    negative voice, drawn from the voice's own stream; 0 is none; the default is the voice's own."""
    import fastdrum
    from fastdrum.kit import _seed_for

    model = fastdrum.load_model("tests/data/tiny_drums.npz")
    v, u = model.voices[:2]
    meta = dict(model.meta)
    meta["voices"] = dict(meta.get("voices", {}))
    meta["voices"][v] = dict(meta["voices"].get(v, {}), negative_voice=u, guidance=0.5)
    model.meta = meta
    model = model.with_voice(v)  # the instrument a kit plays

    def stream():  # a fresh one each time: generate() spawns from it
        return _seed_for(np.random.SeedSequence(3), v)

    for w in (None, 0.0, 2.0):
        kit = generate_kit({v: model}, n=2, seed=3, duration=0.01, guidance=w, post=False)
        want = fastdrum.generate(model, 2, seed=stream(), duration=0.01, guidance=w, voice=v)
        np.testing.assert_array_equal(np.stack(kit[v]), want)
    plain = fastdrum.generate(model, 2, seed=stream(), duration=0.01, guidance=0, voice=v)
    guided = fastdrum.generate(model, 2, seed=stream(), duration=0.01, voice=v)
    assert not np.array_equal(plain, guided)  # the default weight does guide
