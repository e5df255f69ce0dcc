"""Nothing lost: --force replaces only fastdrum's own outputs, publishing never races, signals clean up."""

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from fastdrum import OutputExistsError, _io, cli
from fastdrum._io import MANIFEST
from fastdrum.cli import main
from fastdrum.kit import Kit
from fastdrum.testing import random_model

SR = 16000


@pytest.fixture
def models(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    opts = ["--backend", "numpy", "--quiet"]
    for i, name in enumerate(["kick", "snare", "hihat"]):
        path = d / f"{name}.npz"
        random_model(seed=i, instrument=name, clip_duration=0.01, primers=2).save(path)
        opts += ["--model", f"{name}={path}"]
    return opts


def leftovers(folder):
    """fastdrum's temporary names anywhere under `folder`."""
    found = []
    for root, dirs, files in os.walk(folder):
        found += [
            os.path.join(root, n)
            for n in dirs + files
            if n.startswith(".fastdrum-") and n != MANIFEST
        ]
    return found


# -- --force ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["kit", "-n", "1"], ["generate", "kick", "-n", "1"]])
def test_force_never_replaces_a_folder_fastdrum_did_not_write(
    command, models, tmp_path, capsys, monkeypatch
):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thesis.txt").write_text("thesis")
    assert main([*command, "-o", str(docs), "--force", *models]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not write" in err and "Traceback" not in err
    assert os.listdir(docs) == ["thesis.txt"]
    # the working folder (with a manifest forged into it) and its parents: never
    work = tmp_path / "work"
    work.mkdir()
    (work / MANIFEST).write_text('{"written_by": "fastdrum", "files": []}')
    monkeypatch.chdir(work)
    for target in (".", str(work), str(tmp_path)):
        assert main([*command, "-o", target, "--force", *models]) == 2
        assert "working folder" in capsys.readouterr().err
    assert os.listdir(work) == [MANIFEST] and (tmp_path / "docs" / "thesis.txt").exists()
    # a file is never replaced by a folder
    f = tmp_path / "file.txt"
    f.write_text("mine")
    assert main([*command, "-o", str(f), "--force", *models]) == 2
    assert "not a folder" in capsys.readouterr().err and f.read_text() == "mine"
    # fastdrum's own output is replaced, and a file put into it later stops that
    out = tmp_path / "out"
    assert main([*command, "-o", str(out), *models]) == 0
    first = sorted(os.listdir(out))
    assert MANIFEST in first
    assert main([*command, "-o", str(out), "--force", "--seed", "3", *models]) == 0
    assert sorted(os.listdir(out)) == first
    (out / "notes.txt").write_text("mine")
    assert main([*command, "-o", str(out), "--force", *models]) == 2
    assert "notes.txt" in capsys.readouterr().err and (out / "notes.txt").read_text() == "mine"
    assert leftovers(tmp_path) == []


def test_a_file_output_never_replaces_a_folder(models, tmp_path, capsys):
    d = tmp_path / "b.wav"
    d.mkdir()
    (d / "x").write_text("x")
    assert main(["beat", "-o", str(d), "--force", "--bars", "1", *models]) == 2
    assert "is a folder" in capsys.readouterr().err and os.listdir(d) == ["x"]


def test_a_forged_or_damaged_manifest_does_not_unlock_a_folder(tmp_path):
    kit = Kit({"kick": [np.ones(10)]}, SR)
    d = tmp_path / "k"
    for text in [
        "",
        "{",
        "[]",
        '{"written_by": "someone", "files": []}',
        '{"written_by": "fastdrum"}',
        '{"written_by": "fastdrum", "files": [1]}',
        "x" * (2**20 + 1),
    ]:
        d.mkdir()
        (d / MANIFEST).write_text(text)
        with pytest.raises(OutputExistsError):
            kit.export(d, overwrite=True)
        assert os.listdir(d) == [MANIFEST]
        os.remove(d / MANIFEST)
        os.rmdir(d)


# -- no-overwrite publishing ----------------------------------------------------------------
def _race_file(args):
    path, barrier, value = args
    barrier.wait()
    try:
        with _io.atomic_file(path) as tmp:
            with open(tmp, "w") as f:
                f.write(value)
        return "won"
    except OutputExistsError:
        return "exists"


def _race_dir(args):
    path, barrier, value = args
    barrier.wait()
    try:
        with _io.atomic_dir(path) as tmp:
            with open(os.path.join(tmp, "v"), "w") as f:
                f.write(value)
        return "won"
    except OutputExistsError:
        return "exists"


@pytest.mark.parametrize("race", [_race_file, _race_dir])
def test_of_two_concurrent_writers_exactly_one_wins(race, tmp_path):
    """The publish step itself raced, 40 times, by two processes released together by a barrier."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        for i in range(40):
            path = str(tmp_path / f"out{i}")
            barrier = manager.Barrier(2)
            results = pool.map(race, [(path, barrier, "a"), (path, barrier, "b")])
            assert sorted(results) == ["exists", "won"]
            with open(path if race is _race_file else os.path.join(path, "v")) as f:
                written = f.read()
            assert written == ("a" if results[0] == "won" else "b")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("renameat2", [True, False])
def test_folder_publishing_without_renameat2_keeps_the_same_rules(renameat2, tmp_path, monkeypatch):
    if not renameat2:
        monkeypatch.setattr(_io, "_renameat2", lambda src, dst, flags: False)
    kit = Kit({"kick": [np.ones(10)]}, SR)
    d = tmp_path / "k"
    kit.export(d)
    with pytest.raises(OutputExistsError):
        kit.export(d)
    Kit({"kick": [np.ones(10)] * 2}, SR).export(d, overwrite=True)
    assert sorted(os.listdir(d)) == [
        MANIFEST,
        "drumkit.xml",
        "k.sfz",
        "kick_000.wav",
        "kick_001.wav",
    ]
    assert os.listdir(tmp_path) == ["k"]


def test_file_publishing_without_hard_links(tmp_path, monkeypatch):
    def no_link(*args, **kwargs):
        raise PermissionError("no hard links on this file system")

    monkeypatch.setattr(os, "link", no_link)
    for renameat2 in (True, False):
        if not renameat2:
            monkeypatch.setattr(_io, "_renameat2", lambda src, dst, flags: False)
        p = tmp_path / f"a{renameat2}.wav"
        _io.write_audio(p, np.zeros(10, np.float32), SR)
        with pytest.raises(OutputExistsError):
            _io.write_audio(p, np.zeros(10, np.float32), SR)
        assert sf.info(p).frames == 10
    assert sorted(os.listdir(tmp_path)) == ["aFalse.wav", "aTrue.wav"]


# -- signals --------------------------------------------------------------------------------
def test_a_signal_while_publishing_is_held_back_until_the_output_is_in_place(tmp_path, monkeypatch):
    target = Kit({"kick": [np.ones(10)]}, SR).export(tmp_path / "k")
    real = _io._remove

    def remove_after_a_signal(path):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives in the middle of the swap
        return real(path)

    monkeypatch.setattr(_io, "_remove", remove_after_a_signal)
    with _io.handle_signals(), pytest.raises(_io.Interrupted) as info:
        Kit({"kick": [np.ones(10)] * 3}, SR).export(target, overwrite=True)
    assert info.value.signum == signal.SIGTERM
    assert "kick_002.wav" in os.listdir(target) and os.listdir(tmp_path) == ["k"]


def _delivered(heard, timeout=5.0):
    """`heard` once a signal has been handled, waiting up to `timeout` seconds for it.

    A signal that the kernel gives to another thread (one the main thread held it back from) is
    handled once that thread is scheduled, which on a loaded machine can be after the block ends:
    the property is that it arrives once, at the right handler, not how soon.
    """
    deadline = time.monotonic() + timeout
    while not heard and time.monotonic() < deadline:
        time.sleep(0.01)  # a sleep is where Python runs a pending handler
    time.sleep(0.05)  # and room for a second, wrong, delivery to show
    return heard


def test_a_signal_while_the_old_handlers_go_back_reaches_the_old_handler(monkeypatch):
    """CI once caught SIGHUP between the restoring of SIGINT's handler and SIGHUP's: ours raised."""
    heard = []
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: heard.append(signum))
    real = signal.signal

    def kill_while_restoring(signum, handler):
        if signum == signal.SIGINT and not heard:
            os.kill(os.getpid(), signal.SIGHUP)  # SIGHUP's handler is still ours at this point
        return real(signum, handler)

    try:
        with _io.handle_signals():
            monkeypatch.setattr(signal, "signal", kill_while_restoring)
        monkeypatch.setattr(signal, "signal", real)
        # delivered once, to the handler the block found
        assert _delivered(heard) == [signal.SIGHUP]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert not _io._STOPPING
    finally:
        real(signal.SIGHUP, previous)


def test_a_signal_another_thread_takes_while_the_handlers_go_back_reaches_the_old_handler(
    monkeypatch,
):
    """CI again: with the signals held back in this thread, the kernel gave SIGHUP to another one
    (a thread of an earlier test), and Python ran our handler here, inside the held-back block,
    where it was dropped: neither raised nor passed on."""
    heard = []
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: heard.append(signum))
    real = signal.signal
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # started unmasked: it can take the signal
    other.start()

    def kill_while_restoring(signum, handler):
        if signum == signal.SIGINT and not heard:
            os.kill(os.getpid(), signal.SIGHUP)  # held back here, so the other thread takes it
            time.sleep(0.2)  # and Python runs the handler at this thread's next instruction
        return real(signum, handler)

    try:
        with _io.handle_signals():
            monkeypatch.setattr(signal, "signal", kill_while_restoring)
        monkeypatch.setattr(signal, "signal", real)
        # passed on once, to the handler the block found
        assert _delivered(heard) == [signal.SIGHUP]
        assert not _io._STOPPING and not _io._DEFERRED
    finally:
        stop.set()
        other.join()
        real(signal.SIGHUP, previous)


def test_a_signal_just_before_the_handlers_go_back_is_raised_after_they_are_back(monkeypatch):
    real = _io._uninterrupted
    calls = []

    def signal_first(*args):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # our handler raises here, before the mask
        return real(*args)

    with pytest.raises(_io.Interrupted) as info:
        with _io.handle_signals():
            monkeypatch.setattr(_io, "_uninterrupted", signal_first)
    assert info.value.signum == signal.SIGTERM and len(calls) == 2  # restored on the second try
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and not _io._STOPPING


class _SignalledWhenDropped:
    """An object whose ``__del__`` sends SIGTERM: the handler runs, and raises, inside ``__del__``,
    where Python swallows exceptions (as it does in a weakref callback of an import's module lock,
    where CI once caught a SIGHUP)."""

    def __del__(self):
        signal.raise_signal(signal.SIGTERM)


def test_a_signal_python_swallows_ends_the_block_when_it_ends_silently(capfd):
    hook = sys.unraisablehook
    ran = []
    with pytest.raises(_io.Interrupted) as info:
        with _io.handle_signals():
            _SignalledWhenDropped()  # dropped at once
            ran.append("on")  # the block goes on to its end
    assert ran == ["on"] and info.value.signum == signal.SIGTERM
    assert "Exception ignored" not in capfd.readouterr().err  # no traceback on stderr
    assert sys.unraisablehook is hook and not _io._STOPPING and not _io._SWALLOWED
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_after_a_swallowed_signal_the_next_one_raises_where_it_lands():
    ran = []
    with pytest.raises(_io.Interrupted) as info:
        with _io.handle_signals():
            _SignalledWhenDropped()
            signal.raise_signal(signal.SIGHUP)
            ran.append("not reached")
    assert ran == [] and info.value.signum == signal.SIGHUP
    assert not _io._STOPPING and not _io._SWALLOWED


def test_a_signal_c_code_turns_into_an_import_error_without_a_cause_still_stops_cleanly(
    monkeypatch, capsys
):
    """NumPy's extension, importing ``datetime`` as the signal lands, reports "PyCapsule_Import could
    not import module" and drops the Interrupted (a test run beside training saw the traceback): main
    still reports the signal it was stopped by."""

    def parser_whose_import_is_interrupted():
        try:
            signal.raise_signal(signal.SIGTERM)
        except _io.Interrupted:
            pass  # dropped: neither cause nor context of the ImportError
        raise ImportError('PyCapsule_Import could not import module "datetime"')

    monkeypatch.setattr(cli, "build_parser", parser_whose_import_is_interrupted)
    assert cli.main(["info", "kick"]) == 128 + signal.SIGTERM
    assert capsys.readouterr().err == "fastdrum: stopped by SIGTERM\n"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_an_import_error_without_a_signal_is_not_taken_for_one(monkeypatch):
    def broken_parser():
        raise ImportError("no module named 'scipy'")

    monkeypatch.setattr(cli, "build_parser", broken_parser)
    with pytest.raises(ImportError, match="scipy"):
        cli.main(["info", "kick"])


def test_other_unraisable_exceptions_still_reach_the_hook_before(monkeypatch):
    heard = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: heard.append(u.exc_value))

    class Broken:
        def __del__(self):
            raise ValueError("from __del__")

    with _io.handle_signals():
        Broken()
    assert [str(e) for e in heard] == ["from __del__"]


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SCRIPT = """
import sys
import threading
from fastdrum.cli import main
print("ready", file=sys.stderr, flush=True)
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_signals_at_random_moments_leave_nothing_behind(models, tmp_path):
    """kit, beat and generate (replacing an earlier output with --force) stopped at random moments.

    The moments start once `fastdrum.cli` is imported (the script says "ready"), plus 10 ms for the
    call to main(): before that, Python's own start-up handles signals (SIGINT ends it with a
    traceback, SIGTERM kills it) and nothing has been written. From then on (NumPy's import
    included) fastdrum handles them.
    """
    rng = random.Random(13)
    work = tmp_path / "work"
    work.mkdir()
    commands = {
        "kit": ["kit", "-n", "6", "-o", str(work / "kit")],
        "generate": ["generate", "snare", "-n", "6", "-o", str(work / "gen")],
        "beat": ["beat", "--bars", "16", "-o", str(work / "beat.wav")],
    }
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    outcomes = []
    for name, argv in commands.items():
        assert main([*argv, *models]) == 0  # an earlier output, which --force replaces
        output = argv[argv.index("-o") + 1]
        t0 = time.monotonic()
        assert (
            subprocess.run(
                [sys.executable, "-c", SCRIPT, *argv, "--force", *models], env=env
            ).returncode
            == 0
        )
        full = time.monotonic() - t0
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, rng.choice(SIGNALS)):
            before = _snapshot(output)
            proc = subprocess.Popen(
                [sys.executable, "-c", SCRIPT, *argv, "--force", *models],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert proc.stderr.readline() == "ready\n"
            time.sleep(rng.uniform(0.01, full * 1.1))
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=120)
            outcomes.append((name, proc.returncode))
            assert "Traceback" not in err, err
            assert leftovers(tmp_path) == [], (name, proc.returncode)
            after = _snapshot(output)
            if proc.returncode == 0:
                assert after is not None
            else:
                assert proc.returncode in (128 + sig, -sig), err
                # the old output, or (a signal held back while the new one was put in place) the new one
                assert after == before or after is not None and _complete(output)
    assert any(rc != 0 for _, rc in outcomes)  # some signals did land mid-run


def _snapshot(path):
    if not os.path.exists(path):
        return None
    if os.path.isdir(path):
        return {n: _read(os.path.join(path, n)) for n in sorted(os.listdir(path))}
    return _read(path)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _complete(path):
    if os.path.isdir(path):
        names = set(os.listdir(path))
        listed = _io._read_manifest(path)
        return listed is not None and names == listed | {MANIFEST}
    return sf.info(path).frames > 0
