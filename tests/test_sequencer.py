"""The sequencer: grid syntax, timing (length, swing, humanise), clip choice and mixing."""

import math

import numpy as np
import pytest

from fastdrum import PatternError
from fastdrum.instruments import DEFAULT_GAIN, DEFAULT_PAN, INSTRUMENTS, canonical_instrument
from fastdrum.kit import Kit
from fastdrum.presets import PRESETS
from fastdrum.sequencer import VELOCITIES, Hit, Pattern, beat_length, mix, render, schedule

SR = 16000


def impulse_kit(instruments=("kick", "snare", "hihat"), n=1, length=32, sr=SR):
    """Clip i of each instrument: an impulse at sample i (so the output shows which clip played)."""
    clips = {}
    for inst in instruments:
        rows = np.zeros((n, length), dtype=np.float32)
        rows[np.arange(n), np.arange(n)] = 1.0
        clips[inst] = rows
    return Kit(clips, sr)


def expected_onset(k, *, bpm, steps_per_beat, swing, sr):
    return round((k + swing * (k % 2)) * 60.0 / bpm / steps_per_beat * sr)


# -- patterns -----------------------------------------------------------------------------
def test_grid_characters_map_to_their_documented_velocities():
    p = Pattern.parse("kick=Xxo.O|123 456-789_0")
    assert p.tracks["kick"].tolist() == [1.0, 0.7, 0.35, 0.0, 0.5] + [d / 9 for d in range(1, 10)][
        :3
    ] + [d / 9 for d in (4, 5, 6)] + [0.0] + [d / 9 for d in (7, 8, 9)] + [0.0, 0.0]
    assert VELOCITIES["X"] == 1.0 and VELOCITIES["."] == 0.0


def test_aliases_separators_comments_and_tiling():
    p = Pattern.parse("# a comment\nBD = x...x...\n hh=x. ; SD=....X...")
    assert set(p.tracks) == {"kick", "hihat", "snare"}
    assert p.steps == 8 and p.steps_per_beat == 2.0
    assert p.tracks["hihat"].tolist() == [0.7, 0.0] * 4
    assert p.instruments == ["kick", "hihat", "snare"]


def test_to_grid_round_trips():
    text = "kick=X...x...,snare=....X..o,hihat=x.x.x.x."
    assert Pattern.parse(Pattern.parse(text).to_grid()).to_grid() == text


@pytest.mark.parametrize("name", ["house", "techno", "hip-hop", "breakbeat"])
def test_required_presets_exist_with_tempo_kick_and_snare(name):
    p = Pattern.parse(name)
    assert p.name == name and p.bpm == PRESETS[name]["bpm"] and p.steps == 16
    assert p.tracks["kick"].any() and p.tracks["snare"].any()


def test_steps_per_beat_overrides_the_default_for_grids_and_presets():
    assert Pattern.parse("kick=x.x.x.x.x.x.", steps_per_beat=3).steps_per_beat == 3.0
    assert Pattern.parse("house", steps_per_beat=2).steps_per_beat == 2.0
    assert Pattern.parse("kick=x.x.x.x.x.x.").steps_per_beat == 3.0  # 12 steps / 4 beats


def test_every_preset_parses():
    for name in PRESETS:
        assert Pattern.preset(name).steps >= 1


@pytest.mark.parametrize(
    "text, match",
    [
        ("kick=x..?", r"'\?'"),
        ("cowbell=x...", "'cowbell'"),
        ("salsa", "'salsa'"),
        ("kick=", "'kick'"),
        ("kick=x...,kick=x...", "'kick'"),
        ("kick=x...,bd=x...", "'bd'"),
        ("kick=x..,snare=x...", "3 steps"),
        ("kick==x...", "'kick==x...'"),
        ("=x...", "'=x...'"),
        (", ; ,=", "no instrument name"),
    ],
)
def test_bad_patterns_raise_patternerror_with_the_bad_value(text, match):
    with pytest.raises(PatternError, match=match):
        Pattern.parse(text)


def test_pattern_from_velocities_checks_them():
    with pytest.raises(PatternError, match="1.5"):
        Pattern({"kick": [1.5, 0.0]})
    with pytest.raises(PatternError, match="at least one"):
        Pattern({})
    assert canonical_instrument("Open_Hat") == "openhat"


# -- timing -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bpm, bars, grid, sr",
    [
        (120.0, 1, "kick=x...x...x...x...", 16000),
        (123.7, 3, "kick=x.......,snare=....x...", 22050),
        (90.0, 2, "kick=x..x..x..x..x..x..x..x..", 44100),  # 24 steps: triplet sixteenths
        (174.0, 5, "hihat=x.x.x.", 8000),
    ],
)
def test_beat_is_exactly_bars_times_steps_long_plus_the_last_tail(bpm, bars, grid, sr):
    p = Pattern.parse(grid)
    clip_len = 3001
    kit = Kit({k: np.ones((1, clip_len)) * 0.01 for k in p.tracks}, sr)
    grid_len = round(bars * p.steps * 60 / bpm / p.steps_per_beat * sr)
    assert beat_length(p, bpm=bpm, bars=bars, sr=sr) == grid_len
    last_step = (
        max(i for row in p.tracks.values() for i in np.flatnonzero(row)) + (bars - 1) * p.steps
    )
    last_onset = expected_onset(last_step, bpm=bpm, steps_per_beat=p.steps_per_beat, swing=0, sr=sr)
    tail = max(0, last_onset + clip_len - grid_len)
    y = render(p, kit, bpm=bpm, bars=bars, post=False)
    assert y.shape == (grid_len + tail,) and y.dtype == np.float32
    assert render(p, kit, bpm=bpm, bars=bars, post=False, tail=False).shape == (grid_len,)


@pytest.mark.parametrize("swing", [0.0, 0.1, 0.25, 1 / 3, 0.5])
@pytest.mark.parametrize("bpm", [120.0, 97.0])
def test_swing_moves_the_off_beats_by_the_right_number_of_samples(swing, bpm):
    kit = impulse_kit(["hihat"])
    y = render("hihat=xxxxxxxxxxxxxxxx", kit, bpm=bpm, bars=2, swing=swing, post=False)
    got = np.flatnonzero(y).tolist()
    want = [expected_onset(k, bpm=bpm, steps_per_beat=4, swing=swing, sr=SR) for k in range(32)]
    assert got == want
    step = 60 / bpm / 4 * SR
    for k in range(1, 32, 2):  # off-beats are late by swing * step, on-beats are on the grid
        assert abs(got[k] - k * step - swing * step) <= 0.5 + 1e-9
        assert abs(got[k - 1] - (k - 1) * step) <= 0.5 + 1e-9


def test_schedule_times_and_velocities():
    hits = schedule("kick=X.x.,snare=..o.", bpm=60.0, bars=2)
    assert hits == [
        Hit(0.0, "kick", 1.0),
        Hit(2.0, "kick", 0.7),
        Hit(2.0, "snare", 0.35),
        Hit(4.0, "kick", 1.0),
        Hit(6.0, "kick", 0.7),
        Hit(6.0, "snare", 0.35),
    ]


def test_humanise_is_seeded_bounded_and_off_by_default():
    p = Pattern.parse("hihat=xxxxxxxxxxxxxxxx")
    plain = schedule(p, bpm=120, bars=4)
    a = schedule(p, bpm=120, bars=4, humanize_time=0.005, humanize_velocity=0.2, seed=7)
    b = schedule(p, bpm=120, bars=4, humanize_time=0.005, humanize_velocity=0.2, seed=7)
    c = schedule(p, bpm=120, bars=4, humanize_time=0.005, humanize_velocity=0.2, seed=8)
    assert a == b and a != c
    grid_times = sorted(h.time for h in plain)
    offsets = np.array(sorted(h.time for h in a)) - grid_times
    assert 0.002 < offsets.std() < 0.008  # about the asked 5 ms
    assert all(0.05 <= h.velocity <= 1.0 for h in a) and all(h.time >= 0 for h in a)
    assert len({h.velocity for h in a}) > 10


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bpm=0), "bpm"),
        (dict(bpm=-120), "-120"),
        (dict(bpm=float("nan")), "nan"),
        (dict(bpm="fast"), "'fast'"),
        (dict(swing=1.0), "swing"),
        (dict(swing=-0.1), "-0.1"),
        (dict(bars=0), "bars"),
        (dict(bars=1.5), "1.5"),
        (dict(seed=-1), "-1"),
        (dict(humanize_time=-0.01), "-0.01"),
    ],
)
def test_bad_timing_arguments_raise_patternerror(kwargs, match):
    with pytest.raises(PatternError, match=match):
        render("house", impulse_kit(), **kwargs)


# -- clip choice --------------------------------------------------------------------------
def _played(y, onsets):
    """Clip index each hit played: the impulse's offset from the onset."""
    nz = set(np.flatnonzero(y).tolist())
    out = []
    for o in onsets:
        hits = [i - o for i in nz if 0 <= i - o < 32]
        assert len(hits) == 1
        out.append(hits[0])
    return out


def test_no_repeat_repeats_nothing():
    n_hits = 12
    kit = impulse_kit(["kick"], n=n_hits)
    onsets = [expected_onset(k, bpm=120, steps_per_beat=4, swing=0, sr=SR) for k in range(0, 16, 4)]
    for seed in range(5):
        y = render(
            "kick=x...x...x...x...", kit, bpm=120, bars=3, no_repeat=True, seed=seed, post=False
        )
        played = _played(y, [o + bar * 32000 for bar in range(3) for o in onsets])
        assert sorted(played) == sorted(set(played)) and len(played) == n_hits


def test_no_repeat_with_too_few_clips_is_an_error():
    kit = impulse_kit(["kick"], n=3)
    with pytest.raises(
        PatternError, match="no_repeat needs 4 different 'kick' clips, the kit has 3"
    ):
        render("kick=x...x...x...x...", kit, no_repeat=True)


def test_clips_are_picked_at_random_and_the_seed_repeats_the_choice():
    kit = impulse_kit(["kick"], n=8)
    onsets = [expected_onset(k, bpm=120, steps_per_beat=1, swing=0, sr=SR) for k in range(0, 64, 4)]
    a = render("kick=x...", kit, bpm=120, bars=16, seed=1, post=False)
    b = render("kick=x...", kit, bpm=120, bars=16, seed=1, post=False)
    c = render("kick=x...", kit, bpm=120, bars=16, seed=2, post=False)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    played = _played(a, onsets)
    assert len(set(played)) > 3  # 16 draws from 8 clips


def test_missing_instruments_borrow_from_fallbacks_or_fail():
    kit = impulse_kit(["kick", "hihat"])
    y = render("openhat=x...", kit, post=False, tail=False)
    assert y[0] == pytest.approx(DEFAULT_GAIN["openhat"] * 0.7)
    with pytest.raises(PatternError, match="no 'openhat' clips"):
        render("openhat=x...", kit, substitute=False)
    with pytest.raises(PatternError, match="'snare'"):
        render("snare=x...", kit)


# -- mixing -------------------------------------------------------------------------------
def test_mix_adds_clips_scaled_by_velocity_and_gain():
    kit = Kit({"kick": [np.array([0.5, 0.25])], "snare": [np.array([0.1])]}, sr=10)
    y = mix(
        [Hit(0.0, "kick", 1.0), Hit(0.1, "kick", 0.5), Hit(0.1, "snare", 1.0)],
        kit,
        length=4,
        post=False,
        gain={"kick": 1.0, "snare": 1.0},
    )
    np.testing.assert_allclose(y, [0.5, 0.25 + 0.25 + 0.1, 0.125, 0.0])


def test_mix_never_clips_and_post_masters_to_minus_1_db():
    kit = Kit({"kick": np.ones((1, 2000)) * 0.9}, sr=SR)
    raw = render("kick=XXXXXXXXXXXXXXXX", kit, bpm=200, post=False)
    assert 0.999 <= abs(raw).max() <= 1.0  # scaled down to 1, not clipped
    mastered = render("kick=XXXXXXXXXXXXXXXX", kit, bpm=200, post=True)
    assert abs(20 * math.log10(abs(mastered).max()) + 1.0) < 1e-4


def test_stereo_pans_with_constant_power():
    kit = impulse_kit(["kick", "hihat"])
    mono = render("kick=x...,hihat=..x.", kit, post=False)
    st = render("kick=x...,hihat=..x.", kit, post=False, stereo=True)
    assert st.shape == (2, mono.shape[0])
    np.testing.assert_allclose(st[0] ** 2 + st[1] ** 2, mono**2, rtol=1e-5, atol=1e-9)
    k, h = 0, expected_onset(2, bpm=120, steps_per_beat=1, swing=0, sr=SR)
    assert st[0, k] == pytest.approx(st[1, k])  # kick in the centre
    theta = (DEFAULT_PAN["hihat"] + 1) * math.pi / 4
    assert st[1, h] / st[0, h] == pytest.approx(math.tan(theta))  # hi-hat right of centre
    assert st[1, h] > st[0, h]


def test_gm_notes_are_the_documented_ones():
    assert INSTRUMENTS == {
        "kick": 36,
        "snare": 38,
        "hihat": 42,
        "openhat": 46,
        "clap": 39,
        "tom_low": 41,
        "tom_mid": 45,
        "tom_high": 48,
        "crash": 49,
        "ride": 51,
    }
