"""``fastdrum serve`` without a browser: the API, its errors, its guards, the flood, the exports, the command."""

import asyncio
import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import zipfile

import mido
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("starlette", reason="the serve extra is not installed")
httpx = pytest.importorskip("httpx", reason="httpx (test extra) is not installed")

from conftest import TINY_DRUMS  # noqa: E402

import fastdrum  # noqa: E402
from fastdrum import (  # noqa: E402
    GenerationError,
    RequestError,
    _io,  # noqa: E402
    load_model,
)
from fastdrum.cli import main  # noqa: E402
from fastdrum.instruments import INSTRUMENTS  # noqa: E402
from fastdrum.kit import Kit, generate_kit  # noqa: E402
from fastdrum.midi import to_midi  # noqa: E402
from fastdrum.post import process  # noqa: E402
from fastdrum.sequencer import Pattern, beat_length, render  # noqa: E402
from fastdrum.serve import engine as eng  # noqa: E402
from fastdrum.serve.app import MAX_BODY_BYTES  # noqa: E402
from fastdrum.serve.command import _hosts, _is_loopback  # noqa: E402

from serve_support import (  # noqa: E402
    GUIDED,
    HYDROGEN_XSD,
    guided_drums,
    guided_voices,
    live_server,
    recommending,
    require_xsd,
)


@pytest.fixture(scope="module")
def guided(tmp_path_factory):
    """The shipped drums.npz with GUIDED guided by default (serve_support.guided_drums)."""
    return guided_drums(tmp_path_factory.mktemp("guided") / "drums.npz")


@pytest.fixture(scope="module")
def engine(guided):
    """The shipped voices, GUIDED played by `guided`."""
    e = eng.Engine(guided_voices(guided), workers=1, queue=4)
    yield e
    e.close()


@pytest.fixture(scope="module")
def client(engine):
    """An HTTP client of a live server (uvicorn on a loopback port) over `engine`."""
    with live_server(engine) as url, httpx.Client(base_url=url, timeout=120) as c:
        c.host = url.split("//")[1]
        yield c


def _samples(clip_json):
    return np.frombuffer(base64.b64decode(clip_json["samples"]), dtype="<f4")


def _generate_kits_clip(voice, seed, model=None, **kwargs):
    """The definition of a served clip: fastdrum.generate's clip of `voice` (its shipped model, or
    `model`) with `kwargs`, drawn from the voice's own stream of `seed` and post-processed, as
    generate_kit draws and cleans it (written out here, not through generate_kit, so that its
    guidance is checked too)."""
    from fastdrum.kit import _seed_for

    model = load_model(voice) if model is None else model
    seed = _seed_for(np.random.SeedSequence(seed), voice)
    y = fastdrum.generate(model, 1, seed=seed, backend="c", **kwargs)
    return process(y, model.sample_rate, instrument=voice)[0]


def _pattern_body(**extra):
    body = {
        "steps": 16,
        "bpm": 120.0,
        "swing": 0.0,
        "bars": 2,
        "tracks": {
            "kick": [1.0, 0, 0, 0] * 4,
            "snare": [0, 0, 0, 0, 0.7, 0, 0, 0] * 2,
            "hihat": [0.35, 0, 0.7, 0] * 4,
        },
        "clips": {
            "kick": {"seed": 1},
            "snare": {"seed": 2, "temperature": 0.9},
            "hihat": {"seed": 3, "epsilon": 0.02},
        },
    }
    body.update(extra)
    return body


# -- what the server offers ----------------------------------------------------------------
def test_voices_are_what_the_shipped_models_offer(client, guided):
    from fastdrum.instruments import INSTRUMENTS
    from fastdrum.model import _shipped_instruments

    voices = client.get("/api/state").json()["voices"]
    names = [v["name"] for v in voices]
    shipped = set(_shipped_instruments())  # a voice's name, not a conditioned file's (drums)
    assert names == [k for k in INSTRUMENTS if k in shipped]  # General MIDI order
    assert names == list(INSTRUMENTS)  # every voice of the drum machine ships
    for v in voices:  # each voice's own settings: what generate() uses for it by default
        model = guided if v["name"] == GUIDED else load_model(v["name"])
        assert v["sample_rate"] == model.sample_rate and v["duration"] == model.duration
        assert v["temperature"] == model.generation_defaults.get("temperature", 1.0)
        assert v["epsilon"] == model.generation_defaults.get("epsilon", 0.0)
        negative = model.generation_defaults.get("negative_voice")  # generate()'s default guidance
        assert v["negative_voice"] == negative
        assert v["guidance"] == (0.0 if negative is None else model.generation_defaults["guidance"])
    assert any(v["epsilon"] > 0 for v in voices)  # the shipped meta names cutoffs: a real check
    assert any(v["guidance"] > 0 for v in voices)  # and a guided voice (GUIDED)
    assert any(v["negative_voice"] is None and v["guidance"] == 0 for v in voices)


def test_state_lists_every_preset_as_the_sequencer_parses_it(client):
    presets = client.get("/api/state").json()["presets"]
    house = Pattern.preset("house")
    assert presets["house"]["bpm"] == house.bpm
    assert presets["house"]["tracks"] == {k: v.tolist() for k, v in house.tracks.items()}


def test_page_and_modules_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script type="module" src="/static/main.js">' in page.text
    for name in ("main.js", "api.js", "audio.js", "scheduler.js", "style.css"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200, name
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"


# -- regenerate ----------------------------------------------------------------------------
def test_a_clip_is_generate_kits_clip_for_that_seed(client):
    r = client.post("/api/regenerate", json={"voice": "kick", "seed": 5})
    assert r.status_code == 200
    body = r.json()
    want = generate_kit({"kick": "kick"}, n=1, seed=5, backend="c")
    assert body["sample_rate"] == want.sr and body["seed"] == 5
    np.testing.assert_array_equal(_samples(body), want["kick"][0])
    assert body["negative_voice"] is None and body["guidance"] == 0.0  # the kick has no guidance
    off = client.post("/api/regenerate", json={"voice": "kick", "seed": 5, "guidance": 0}).json()
    np.testing.assert_array_equal(_samples(off), want["kick"][0])


def test_no_seed_draws_one_and_reports_it(client):
    a = client.post("/api/regenerate", json={"voice": "hihat"}).json()
    b = client.post("/api/regenerate", json={"voice": "hihat"}).json()
    assert a["seed"] != b["seed"]  # 1 chance in 2**32 of a false failure
    assert not np.array_equal(_samples(a), _samples(b))
    again = client.post("/api/regenerate", json={"voice": "hihat", "seed": a["seed"]}).json()
    np.testing.assert_array_equal(_samples(again), _samples(a))


def test_temperature_and_duration_are_used(client):
    r = client.post(
        "/api/regenerate", json={"voice": "snare", "seed": 1, "temperature": 0, "duration": 0.1}
    )
    body = r.json()
    assert r.status_code == 200 and body["temperature"] == 0.0
    want = generate_kit({"snare": "snare"}, n=1, seed=1, temperature=0, duration=0.1, backend="c")
    np.testing.assert_array_equal(_samples(body), want["snare"][0])


def test_epsilon_is_used_and_defaults_to_the_voices(client):
    # the first voice whose shipped model has a cutoff: epsilon 0 must sound different
    voice = next(v for v in INSTRUMENTS if load_model(v).generation_defaults["epsilon"] > 0)
    default = load_model(voice).generation_defaults["epsilon"]
    got = {}
    for eps in (None, 0, 0.05):
        request = {"voice": voice, "seed": 4, "duration": 0.2}
        if eps is not None:
            request["epsilon"] = eps
        r = client.post("/api/regenerate", json=request)
        assert r.status_code == 200
        body = r.json()
        assert body["epsilon"] == (default if eps is None else eps)
        want = generate_kit({voice: voice}, n=1, seed=4, epsilon=eps, duration=0.2, backend="c")[
            voice
        ][0]
        np.testing.assert_array_equal(_samples(body), want)
        got[eps] = _samples(body)
    assert not np.array_equal(got[None], got[0])
    assert not np.array_equal(got[0.05], got[None])


def test_guidance_is_used_and_defaults_to_the_voices(client, guided):
    defaults = guided.generation_defaults
    negative, default = defaults.get("negative_voice"), defaults.get("guidance")
    assert negative is not None and default > 0  # GUIDED is guided: 0 must differ
    got = {}
    for weight in (None, 0, 1.5):
        request = {"voice": GUIDED, "seed": 4, "duration": 0.2}
        if weight is not None:
            request["guidance"] = weight
        r = client.post("/api/regenerate", json=request)
        assert r.status_code == 200
        body = r.json()
        assert body["guidance"] == (default if weight is None else weight)
        assert body["negative_voice"] == (None if weight == 0 else negative)  # 0: none used
        want = _generate_kits_clip(GUIDED, 4, guided, duration=0.2, guidance=weight)
        np.testing.assert_array_equal(_samples(body), want)
        got[weight] = _samples(body)
    # the default is generate_kit's clip (`fastdrum kit` plays each voice's default guidance)
    kit = generate_kit({GUIDED: guided}, n=1, seed=4, duration=0.2, backend="c")
    np.testing.assert_array_equal(got[None], kit[GUIDED][0])
    assert not np.array_equal(got[None], got[0])
    assert not np.array_equal(got[1.5], got[None])


def _tiny_drums_recommending(path, **kick):
    """tests/data/tiny_drums.npz with `kick` added to the kick's ``meta["voices"]`` entry."""
    return recommending(TINY_DRUMS, path, "kick", **kick)


def test_a_voices_guidance_is_its_models_default_and_a_weight_is_that_default(tmp_path, tiny_drums):
    """The served clip at weight w is generate_kit's clip from a model that recommends w for the
    voice; weight 0 is the clip of a model that recommends no guidance at all."""
    guided = _tiny_drums_recommending(tmp_path / "a.npz", negative_voice="snare", guidance=0.7)
    other = _tiny_drums_recommending(tmp_path / "b.npz", negative_voice="snare", guidance=0.3)
    engine = eng.Engine([eng.Voice(v, guided.with_voice(v)) for v in ("kick", "snare")])
    try:
        kick, snare = engine.describe()["voices"]
        assert (kick["negative_voice"], kick["guidance"]) == ("snare", 0.7)
        assert (snare["negative_voice"], snare["guidance"]) == (None, 0.0)
        for weight, model in ((None, guided), (0, tiny_drums), (0.3, other)):
            request = {"voice": "kick", "seed": 3}
            if weight is not None:
                request["guidance"] = weight
            clip = engine.clip(request)
            kit = generate_kit({"kick": model.with_voice("kick")}, n=1, seed=3, backend="c")
            np.testing.assert_array_equal(clip.y, kit["kick"][0])
            assert clip.guidance == (0.7 if weight is None else weight)
        with pytest.raises(RequestError, match="voice 'snare' has no negative voice"):
            engine.clip({"voice": "snare", "seed": 3, "guidance": 0.7})
    finally:
        engine.close()


# -- bad requests --------------------------------------------------------------------------
BAD = [
    ({"seed": 1}, "missing field 'voice'"),
    ({"voice": "tuba"}, "unknown voice 'tuba'"),
    ({"voice": 3}, "voice must be a str"),
    ({"voice": "kick", "seed": -1}, "seed must be in"),
    ({"voice": "kick", "seed": 2**40}, "seed must be in"),
    ({"voice": "kick", "seed": "7"}, "seed must be an integer"),
    ({"voice": "kick", "seed": True}, "seed must be an integer"),
    ({"voice": "kick", "seed": 1.5}, "seed must be an integer"),
    ({"voice": "kick", "temperature": -1}, "temperature must be 0 (argmax) or a finite number in"),
    ({"voice": "kick", "temperature": 1e-9}, "temperature must be 0"),
    ({"voice": "kick", "temperature": 10.5}, "in [0.001, 10.0], got 10.5"),
    ({"voice": "kick", "temperature": 1e308 * 10}, "temperature must be a finite number"),
    ({"voice": "kick", "epsilon": -0.1}, "epsilon must be a finite number in [0, 1)"),
    ({"voice": "kick", "epsilon": 1.0}, "epsilon must be a finite number in [0, 1)"),
    ({"voice": "kick", "epsilon": "x"}, "epsilon must be a finite number"),
    ({"voice": "kick", "epsilon": True}, "epsilon must be a finite number"),
    ({"voice": "kick", "epsilon": float("nan")}, "epsilon must be a finite number"),
    (
        {"voice": "kick", "guidance": 0.5},
        "guidance must be 0 (voice 'kick' has no negative voice to steer away from), got 0.5",
    ),
    ({"voice": GUIDED, "guidance": -0.5}, "guidance must be a finite number in [0.0, 1000.0]"),
    ({"voice": GUIDED, "guidance": 1000.5}, "in [0.0, 1000.0], got 1000.5"),
    ({"voice": GUIDED, "guidance": "x"}, "guidance must be a finite number, got 'x'"),
    ({"voice": GUIDED, "guidance": True}, "guidance must be a finite number"),
    ({"voice": GUIDED, "guidance": float("nan")}, "guidance must be a finite number"),
    ({"voice": "kick", "duration": 0}, "duration must be in"),
    ({"voice": "kick", "duration": 1e9}, "duration must be in"),
    ([1, 2], "expected a JSON object"),
]


@pytest.mark.parametrize("body, message", BAD)
def test_a_bad_regenerate_gets_400_and_one_json_error(client, body, message):
    r = client.post(
        "/api/regenerate", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert message in r.json()["error"]
    assert "Traceback" not in r.text


@pytest.mark.parametrize(
    "content, kind, status",
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"[" * 60000, "application/json", 400),
        (b'{"voice": "kick"}', "text/plain", 415),
        (b'{"voice": "kick"}', "", 415),
    ],
)
def test_a_body_that_is_not_json_is_refused(client, content, kind, status):
    r = client.post(
        "/api/regenerate", content=content, headers={"content-type": kind} if kind else {}
    )
    assert r.status_code == status and "error" in r.json()


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/api/regenerate", 405),
        ("GET", "/nowhere", 404),
        ("GET", "/static/../engine.py", 404),
        ("POST", "/api/state", 405),
        ("DELETE", "/api/pattern", 405),
    ],
)
def test_wrong_routes_and_methods_get_json_errors(client, method, path, status):
    r = client.request(method, path)
    assert r.status_code == status and "error" in r.json()


def test_an_oversized_body_gets_413(client):
    big = json.dumps({"voice": "kick", "pad": "x" * MAX_BODY_BYTES}).encode()
    r = client.post("/api/regenerate", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["error"]


def test_an_oversized_streamed_body_without_length_gets_413(client):
    def chunks():  # no content-length: the server counts as it reads
        yield b'{"voice": "kick", "pad": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    r = client.post(
        "/api/regenerate", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "body, message",
    [
        (_pattern_body(steps=7), "steps must be in"),
        (_pattern_body(steps=40), "steps must be in"),
        (_pattern_body(bpm=1000), "bpm must be in"),
        (_pattern_body(bars=17), "bars must be in"),
        (_pattern_body(swing=1), "swing must be in"),
        (_pattern_body(tracks={}), "tracks is empty"),
        (_pattern_body(tracks={"kick": [1] * 8}), "list of 16 velocities"),
        (
            _pattern_body(tracks={"kick": [2] + [0] * 15}),
            "velocity of 'kick' must be a finite number in",
        ),
        (_pattern_body(tracks={"kick": ["x"] * 16}), "must be a grid string or numbers"),
        (_pattern_body(tracks={"kick": [None] * 16}), "must be a grid string or numbers"),
        (_pattern_body(tracks={"tuba": [1] * 16}), "unknown voice 'tuba'"),
        (_pattern_body(voices={"kick": {"volume": 9}}), "kick.volume must be in"),
        (_pattern_body(voices={"kick": {"epsilon": 1}}), "kick.epsilon must be a finite number in"),
        (_pattern_body(voices={"kick": {"epsilon": "x"}}), "epsilon must be a finite number, got"),
        (
            _pattern_body(voices={"kick": {"epsilon": -0.1}}),
            "kick.epsilon must be a finite number in",
        ),
        (
            _pattern_body(voices={"kick": {"guidance": 0.5}}),
            "kick.guidance must be 0 (voice 'kick' has no negative voice to steer away from)",
        ),
        (
            _pattern_body(voices={GUIDED: {"guidance": 1001}}),
            f"{GUIDED}.guidance must be a finite number in [0.0, 1000.0], got 1001.0",
        ),
        (_pattern_body(voices={"kick": {"mute": "yes"}}), "mute must be a bool"),
        (  # a temperature no regenerate request may ask for: refused as a request's is
            _pattern_body(voices={"kick": {"temperature": 0.0005}}),
            "kick.temperature must be 0 (argmax) or a finite number in [0.001, 10.0], got 0.0005",
        ),
        (_pattern_body(voices={"kick": {"temperature": 11}}), "kick.temperature must be 0"),
        (_pattern_body(format="something-else"), "not a fastdrum pattern"),
    ],
)
def test_a_bad_pattern_gets_400(client, body, message):
    for path in ("/api/pattern", "/api/export/wav", "/api/export/midi"):
        r = client.post(path, json=body)
        assert r.status_code == 400, path
        assert message in r.json()["error"], path


def test_the_temperature_limits_of_state_are_what_requests_and_pattern_files_accept(client, engine):
    lo, hi = client.get("/api/state").json()["limits"]["temperature"]  # and 0, argmax
    for t in (0.0, lo, 1.0, hi):
        assert engine.clip_spec({"voice": "kick", "seed": 1, "temperature": t})[2] == t
        r = client.post("/api/pattern", json=_pattern_body(voices={"kick": {"temperature": t}}))
        assert r.status_code == 200 and r.json()["voices"]["kick"]["temperature"] == t
    for t in (-1.0, 1e-300, np.nextafter(lo, 0.0), np.nextafter(hi, np.inf)):
        r = client.post("/api/regenerate", json={"voice": "kick", "temperature": float(t)})
        assert r.status_code == 400
        request_error = r.json()["error"]
        r = client.post(
            "/api/pattern", json=_pattern_body(voices={"kick": {"temperature": float(t)}})
        )
        assert r.status_code == 400
        assert r.json()["error"] == "kick." + request_error  # the same check, naming the field


def test_the_epsilon_limits_of_state_are_what_requests_and_pattern_files_accept(client, engine):
    lo, hi = client.get("/api/state").json()["limits"]["epsilon"]  # hi itself excluded
    for e in (lo, 0.01, float(np.nextafter(hi, 0.0))):
        assert engine.clip_spec({"voice": "kick", "seed": 1, "epsilon": e})[3] == e
        r = client.post("/api/pattern", json=_pattern_body(voices={"kick": {"epsilon": e}}))
        assert r.status_code == 200 and r.json()["voices"]["kick"]["epsilon"] == e
    for e in (-1e-300, hi):
        r = client.post("/api/regenerate", json={"voice": "kick", "epsilon": e})
        assert r.status_code == 400 and "epsilon" in r.json()["error"]
        r = client.post("/api/pattern", json=_pattern_body(voices={"kick": {"epsilon": e}}))
        assert r.status_code == 400 and "kick.epsilon" in r.json()["error"]


def test_the_guidance_limits_of_state_are_generates_and_what_requests_and_files_accept(
    client, engine, tiny_drums
):
    lo, hi = client.get("/api/state").json()["limits"]["guidance"]
    assert (lo, hi) == (0.0, 1000.0)
    kw = dict(voice="kick", negative_voice="snare", seed=0, duration=0.004)
    for g in (lo, 0.5, hi):
        fastdrum.generate(tiny_drums, guidance=g, **kw)  # generate()'s range
        assert engine.clip_spec({"voice": GUIDED, "seed": 1, "guidance": g})[4] == g
        r = client.post("/api/pattern", json=_pattern_body(voices={GUIDED: {"guidance": g}}))
        assert r.status_code == 200 and r.json()["voices"][GUIDED]["guidance"] == g
    for g in (-1e-300, float(np.nextafter(hi, np.inf))):
        with pytest.raises(GenerationError) as refused:
            fastdrum.generate(tiny_drums, guidance=g, **kw)
        r = client.post("/api/regenerate", json={"voice": GUIDED, "guidance": g})
        assert r.status_code == 400
        assert r.json()["error"] == str(refused.value)  # generate()'s check, word for word
        r = client.post("/api/pattern", json=_pattern_body(voices={GUIDED: {"guidance": g}}))
        assert r.status_code == 400
        assert r.json()["error"] == f"{GUIDED}.{refused.value}"


def test_an_export_needs_the_clips_it_plays(client):
    body = _pattern_body(clips={"kick": {"seed": 1}})
    r = client.post("/api/export/wav", json=body)
    assert r.status_code == 400 and "no clip for voice 'snare'" in r.json()["error"]
    body = _pattern_body(clips={"kick": {}, "snare": {"seed": 2}, "hihat": {"seed": 3}})
    assert "missing field 'seed'" in client.post("/api/export/wav", json=body).json()["error"]
    clips = {"kick": {"seed": 1, "epsilon": 1}, "snare": {"seed": 2}, "hihat": {"seed": 3}}
    r = client.post("/api/export/wav", json=_pattern_body(clips=clips))
    assert r.status_code == 400 and "epsilon must be a finite number in [0, 1)" in r.json()["error"]
    clips = {"kick": {"seed": 1, "guidance": 0.5}, "snare": {"seed": 2}, "hihat": {"seed": 3}}
    r = client.post("/api/export/wav", json=_pattern_body(clips=clips))
    assert r.status_code == 400 and "guidance must be 0 (voice 'kick'" in r.json()["error"]
    r = client.post("/api/export/zip", json=_pattern_body())
    assert r.status_code == 400 and "unknown export 'zip'" in r.json()["error"]


# -- Host and Origin ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"host": "evil.example:8000"},
        {"host": "127.0.0.1.nip.io"},
        {"host": ""},
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"origin": "https://127.0.0.1"},
    ],
)
def test_a_foreign_host_or_origin_is_refused(client, headers):
    for method, path in (("GET", "/api/state"), ("GET", "/"), ("POST", "/api/regenerate")):
        r = client.request(method, path, headers=headers, json={"voice": "kick", "seed": 1})
        assert r.status_code == 403, (method, path)
        assert "is not this server's" in r.json()["error"]


def test_the_servers_own_origin_is_accepted(client):
    r = client.post(
        "/api/regenerate",
        json={"voice": "kick", "seed": 1},
        headers={"origin": f"http://{client.host}"},
    )
    assert r.status_code == 200


def test_accepted_hosts_of_the_command():
    assert _hosts("127.0.0.1", 8000, []) == {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}
    assert "myhost.lan:80" in _hosts("0.0.0.0", 80, ["MyHost.lan"])
    assert "[::1]:80" in _hosts("::1", 80, [])
    assert _is_loopback("127.0.0.2") and _is_loopback("::1") and _is_loopback("localhost")
    assert (
        not _is_loopback("0.0.0.0")
        and not _is_loopback("192.0.2.1")
        and not _is_loopback("example.org")
    )


# -- the flood ---------------------------------------------------------------------------------
def test_a_flood_of_regenerates_is_answered_with_bounded_work():
    """100 concurrent regenerates against a real server: each gets 200, 429 or 503; at most
    workers + queue are ever admitted at once, so memory does not grow with the flood."""
    flood = eng.Engine(workers=1, queue=2)
    lock = threading.Lock()
    inside = {"now": 0, "max": 0}
    original = flood.clip

    def counting(body, **kwargs):
        with lock:
            inside["now"] += 1
            inside["max"] = max(inside["max"], inside["now"])
        try:
            return original(body, **kwargs)
        finally:
            with lock:
                inside["now"] -= 1

    flood.clip = counting
    admitted = {"now": 0, "max": 0}
    submit = flood.submit

    def tracking_submit(fn, *args):
        def job(*a):  # ends before the job's slot is released: the count never runs ahead
            try:
                return fn(*a)
            finally:
                with lock:
                    admitted["now"] -= 1

        future = submit(job, *args)  # BusyError past the bound: then nothing was admitted
        with lock:
            admitted["now"] += 1
            admitted["max"] = max(admitted["max"], admitted["now"])
        return future

    flood.submit = tracking_submit

    async def one(c, i):
        r = await c.post("/api/regenerate", json={"voice": "hihat", "seed": i})
        return (
            r.status_code,
            r.headers.get("retry-after"),
            r.json() if r.status_code == 429 else None,
        )

    async def storm(url):
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as c:
            return await asyncio.gather(*(one(c, i) for i in range(100)))

    try:
        with live_server(flood) as url:
            results = asyncio.run(storm(url))
    finally:
        flood.close()
    codes = [code for code, _, _ in results]
    assert set(codes) <= {200, 429, 503}, sorted(set(codes))
    assert codes.count(200) >= 1 and codes.count(429) >= 1
    assert all(retry == "1" for code, retry, _ in results if code == 429)
    assert all("busy" in body["error"] for code, _, body in results if code == 429)
    assert admitted["max"] <= flood.workers + flood.queue
    assert inside["max"] <= flood.workers


def test_a_closed_engine_answers_503():
    e = eng.Engine(workers=1, queue=1)
    e.close()
    with live_server(e) as url:
        r = httpx.post(url + "/api/regenerate", json={"voice": "kick", "seed": 1})
    assert r.status_code == 503 and "shutting down" in r.json()["error"]


# -- exports -------------------------------------------------------------------------------
def _kit_of(body):
    kits = [
        generate_kit(
            {v: v},
            n=1,
            seed=s["seed"],
            temperature=s.get("temperature"),
            epsilon=s.get("epsilon"),
            backend="c",
        )
        for v, s in body["clips"].items()
    ]
    return Kit({k: c for kit in kits for k, c in kit.items()}, kits[0].sr)


@pytest.mark.parametrize("kind", ["wav", "flac"])
def test_beat_export_is_the_sequencers_render_of_those_clips(client, tmp_path, kind):
    body = _pattern_body(voices={"snare": {"mute": True}, "hihat": {"volume": 0.3, "pan": 0.5}})
    r = client.post(f"/api/export/{kind}", json=body)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="fastdrum-beat.{kind}"'
    y, sr = sf.read(io.BytesIO(r.content), dtype="float32", always_2d=True)
    kit = _kit_of(body)
    pattern = Pattern({k: v for k, v in body["tracks"].items()}, steps_per_beat=4, bpm=120, swing=0)
    want = render(
        pattern,
        kit,
        bpm=120,
        bars=2,
        swing=0,
        seed=0,
        stereo=True,
        substitute=False,
        gain={"kick": 1.0, "snare": 0.0, "hihat": 0.3},
        pan={"kick": 0.0, "snare": -0.1, "hihat": 0.5},
    )
    path = tmp_path / f"want.{kind}"
    from fastdrum._io import write_audio

    write_audio(path, want, kit.sr)
    expected, _ = sf.read(path, dtype="float32", always_2d=True)
    assert sr == kit.sr and y.shape[1] == 2
    assert y.shape[0] >= beat_length(pattern, bpm=120, bars=2, sr=sr)
    np.testing.assert_array_equal(y, expected)


def test_midi_export_is_to_midis_file(client):
    body = _pattern_body(swing=0.2)
    r = client.post("/api/export/midi", json=body)
    assert r.status_code == 200
    got = mido.MidiFile(file=io.BytesIO(r.content))
    pattern = Pattern(body["tracks"], steps_per_beat=4)
    want = to_midi(pattern, bpm=120, bars=2, swing=0.2)
    assert [(m.type, getattr(m, "note", None), m.time) for m in got.tracks[0]] == [
        (m.type, getattr(m, "note", None), m.time) for m in want.tracks[0]
    ]


def test_kit_export_is_a_zip_of_kit_export(client, tmp_path):
    body = _pattern_body()
    r = client.post("/api/export/kit", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = sorted(z.namelist())
        z.extractall(tmp_path / "got")
    _kit_of(body).export(tmp_path / "fastdrum-kit")
    # Kit.export's folder, less fastdrum's output marker (the zip is for samplers).
    want = sorted(
        f"fastdrum-kit/{n}" for n in os.listdir(tmp_path / "fastdrum-kit") if n != _io.MANIFEST
    )
    assert [n for n in names if not n.endswith("/")] == want
    for n in want:
        assert (tmp_path / "got" / n).read_bytes() == (tmp_path / n).read_bytes(), n
    require_xsd()
    import xmlschema

    xmlschema.XMLSchema(HYDROGEN_XSD).validate(
        str(tmp_path / "got" / "fastdrum-kit" / "drumkit.xml")
    )


def test_pattern_json_round_trips(client):
    kick = {
        "volume": 0.5,
        "mute": True,
        "seed": 9,
        "lock": True,
        "temperature": 0.7,
        "epsilon": 0.02,
    }
    snare = {"seed": 4, "temperature": 0.8}  # as saved before the page had epsilon: still loads
    guided = {"seed": 2, "guidance": 0.8, "epsilon": 0.0}
    body = _pattern_body(voices={"kick": dict(kick, guidance=0.0), "snare": snare, GUIDED: guided})
    r = client.post("/api/export/json", json=body)
    doc = json.loads(r.content)
    assert doc["format"] == "fastdrum-pattern" and doc["steps"] == 16 and doc["bars"] == 2
    assert doc["grid"] == Pattern(body["tracks"]).to_grid()
    assert doc["voices"] == {"kick": dict(kick, guidance=0.0), "snare": snare, GUIDED: guided}
    assert client.post("/api/pattern", json=doc).json() == doc


def test_exports_leave_no_files_behind(client, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for kind in ("wav", "midi", "kit", "json"):
        assert client.post(f"/api/export/{kind}", json=_pattern_body()).status_code == 200
    assert client.post("/api/export/wav", json=_pattern_body(bpm=-1)).status_code == 400
    assert os.listdir(tmp_path) == []


# -- the command ---------------------------------------------------------------------------
def test_serve_refuses_a_taken_port(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert main(["serve", "--port", str(port), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


def test_serve_without_the_extra_says_how_to_install_it(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve", "-q"]) == 2
    assert "pip install 'fastdrum[serve]'" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_command_serves_and_stops_cleanly_on_ctrl_c():
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastdrum", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("fastdrum serve: http://127.0.0.1:"), line
        url = line.split()[2]
        assert httpx.get(url + "api/state", timeout=30).status_code == 200
        assert (
            httpx.get(
                url + "api/state", headers={"host": "attacker.example"}, timeout=30
            ).status_code
            == 403
        )
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_serve_warns_before_listening_beyond_loopback(capsys):
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails, nothing is sent anywhere.
    assert main(["serve", "--host", "192.0.2.1", "--port", "0", "-q"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].startswith("fastdrum serve: warning: listening on 192.0.2.1, not loopback")
    assert err[1].startswith("fastdrum serve: error: cannot listen on 192.0.2.1:0")
