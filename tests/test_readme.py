"""The README's shell commands run as written, in order, in a fresh folder (so the README cannot drift)."""

import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Commands this test does not run, and why. Each line of a ```bash block is split at `&&`, and a
#: part is skipped if it starts with one of these:
SKIPPED = (
    "python3 -m venv",  # setting up: the test runs in the environment it was started in,
    ". .venv/bin/activate",  # whose fastdrum is this checkout (PYTHONPATH) and which holds the
    "pip install",  # test extra (matplotlib for plot)
    "pytest",  # the test suite itself
    "sudo apt-get",  # system packages (the training data)
    "python -m training.",  # training: TensorFlow and the Hydrogen kits; a stand-in model is made
    "python -m bench.",  # minutes of benchmarks
    "fastdrum serve",  # a server that runs until Ctrl-C: tests/test_serve.py starts the same command
    "bash tools/wheel_check.sh",  # builds, repairs, installs a wheel: minutes, the release extra
)


def readme_commands():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip() if not line.lstrip().startswith("#") else ""
            commands += [part.strip() for part in line.split("&&") if part.strip()]
    return commands


def stand_in(command, folder):
    """A skipped training command's output, so that the lines after it can run: a small random
    model of the instrument, sample rate and clip length the command trains."""
    words = shlex.split(command)
    if command.startswith("python -m training.train") and "--out" in words and "..." not in words:
        from fastdrum.testing import random_model

        def option(name):
            return words[words.index(name) + 1]

        random_model(
            seed=0,
            instrument=option("--instrument"),
            sample_rate=int(option("--sample-rate")),
            clip_duration=float(option("--clip-duration")),
        ).save(os.path.join(folder, option("--out")))


def test_readme_has_the_commands_this_test_knows():
    commands = readme_commands()
    assert any(c.startswith("fastdrum beat") for c in commands)
    assert sum(c.startswith("fastdrum") for c in commands) >= 10


@pytest.mark.slow
def test_every_readme_command_runs_in_order_in_a_fresh_folder(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    ran = []
    for command in readme_commands():
        if command.startswith(SKIPPED):
            stand_in(command, tmp_path)
            continue
        argv = shlex.split(command)
        if argv[0] == "fastdrum":  # this checkout's command, whatever `fastdrum` is on the PATH
            argv = [sys.executable, "-m", "fastdrum", *argv[1:]]
        proc = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800
        )
        assert proc.returncode == 0, f"README command failed: {command}\n{proc.stderr}"
        ran.append(command)
    assert len(ran) >= 10
    for made in (
        "beat.wav",
        "my-kit",
        "breakbeat.wav",
        "grid.wav",
        "hip-hop.mid",
        "song.flac",
        "kicks",
        "clips.png",
        "my-kick.wav",
        "my-library/manifest.jsonl",
    ):
        assert os.path.exists(tmp_path / made), made


def test_readme_quality_table_is_the_shipped_models_evaluation():
    """README's quality table is training.evaluate's table of the JSON it links as the shipped model's
    results (raw output): regenerating one without the other fails here."""
    import json

    from training.evaluate import PITCHED_VOICES, pitch_line, table
    from training.voices import VOICES

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    path = "docs/evaluation-v2-shipped-s59-snare.json"
    assert f"Results: [{path}]({path})" in readme
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        rows = json.load(f)["rows"]
    # Every shipped voice once, from the file fastdrum.generate plays it with: hihat.npz,
    # openhat.npz, clap.npz, crash.npz, the low and mid toms' files, snare.npz and kick.npz for those
    # eight voices, drums.npz for the high tom and the ride.
    own = ("hihat", "openhat", "clap", "crash", "tom_mid", "tom_low", "snare", "kick")
    assert {r["voice"]: r["source"] for r in rows} == {
        v: v if v in own else "drums" for v in VOICES
    }
    rows.sort(key=lambda r: VOICES.index(r["voice"]))
    assert table(rows, readme=True) in readme
    # and the pitch line it prints below the table, of the kick and the toms
    assert all(f"{v} " in pitch_line(rows) for v in PITCHED_VOICES)
    assert f"\n{pitch_line(rows)}\n" in readme
