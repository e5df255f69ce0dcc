"""Helpers of the ``fastdrum serve`` tests: a live server in a thread, a headless Chromium."""

import contextlib
import os
import shutil
import tempfile
import threading
import time

import pytest

#: Chromium's flags for the tests: headless, offline, no first-run work, a fresh profile each time.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
]
CHROMIUM = os.environ.get("FASTDRUM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FASTDRUM_CHROMEDRIVER", "/usr/bin/chromedriver")


#: The voice the serve tests play with negative-voice guidance by default, from a copy of the shipped
#: drums.npz (:func:`guided_drums`): no shipped voice is guided by default since the tuner keeps
#: guidance only where it wins on fresh seeds too (training/tune.py --guidance-seeds).
GUIDED = "tom_high"


def recommending(src, path, voice, **defaults):
    """The model file `src` copied to `path` with `defaults` added to `voice`'s ``meta["voices"]``
    entry, written with NumPy as another program would write a model file, then loaded."""
    import json

    import numpy as np

    from fastdrum import load_model

    with np.load(src) as f:
        arrays = dict(f)
    meta = json.loads(str(arrays["meta"]))
    meta["voices"][voice].update(defaults)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    return load_model(path)


def guided_drums(path):
    """The shipped drums.npz, copied to `path` with GUIDED recommending guidance away from 'any' at
    0.5 (the default the model shipped on 2026-12-04 had for it), loaded with GUIDED as its voice."""
    from fastdrum import load_model

    drums = load_model("drums").path
    return recommending(drums, path, GUIDED, negative_voice="any", guidance=0.5).with_voice(GUIDED)


def guided_voices(guided):
    """The shipped voices (fastdrum.serve.engine.discover_voices), GUIDED played by `guided`."""
    from fastdrum.serve.engine import Voice, discover_voices

    return [Voice(GUIDED, guided) if v.name == GUIDED else v for v in discover_voices()]


def in_ci():
    """True under CI (CI=true), where a browser that cannot start is a failure, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason):
    """Skip the test here; fail it in CI, loudly."""
    if in_ci():
        pytest.fail(
            f"{reason} (CI=true: the browser tests must run; see tools/ci_deps.sh)", pytrace=False
        )
    pytest.skip(reason)


@contextlib.contextmanager
def live_server(engine, *, host="127.0.0.1"):
    """Serve `engine` with uvicorn on a free loopback port in a thread; yields the base URL."""
    import uvicorn

    from fastdrum.serve.app import MAX_CONNECTIONS, create_app, loopback_hosts
    from fastdrum.serve.command import _listen

    sock = _listen(host, 0)
    port = sock.getsockname()[1]
    app = create_app(engine, hosts=loopback_hosts(port))
    config = uvicorn.Config(
        app, log_level="error", access_log=False, lifespan="off", limit_concurrency=MAX_CONNECTIONS
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextlib.contextmanager
def chromium(download_dir):
    """A selenium driver of Debian's headless Chromium, downloads going to `download_dir`."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[test]')")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.isfile(path):
            unavailable(f"{path} is missing (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="fastdrum-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}", "--window-size=1280,800"]:
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(download_dir), "download.prompt_for_download": False},
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = None
    try:
        try:
            driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        except WebDriverException as exc:
            unavailable(f"Chromium did not start: {exc.msg or exc}")
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)}
        )
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(fn, *, timeout=30.0, what="a condition"):
    """Poll `fn` until it returns something truthy; that value, or an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


#: Hydrogen's schema of drumkit.xml (Debian's hydrogen-data).
HYDROGEN_XSD = "/usr/share/hydrogen/data/xsd/drumkit.xsd"


def require_xsd():
    """Hydrogen's drumkit.xsd and xmlschema, or skip (fail under CI)."""
    if not os.path.isfile(HYDROGEN_XSD):
        unavailable(f"{HYDROGEN_XSD} is missing (apt-get install hydrogen-data)")
    try:
        import xmlschema  # noqa: F401
    except ImportError:
        unavailable("xmlschema is not installed (pip install -e '.[test]')")
