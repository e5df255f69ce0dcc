"""The ``fastdrum serve`` subcommand: its options here, the server started by :func:`run`.

This module imports only the standard library at import time, so ``fastdrum
--help`` works without the ``serve`` extra; :func:`run` says how to install it
if Starlette or uvicorn is missing.
"""

import ipaddress
import os
import socket
import sys

from .._checks import integer_arg
from ..errors import ServeError

__all__ = ["add_parser", "run"]

PROG = "fastdrum serve"


def add_parser(subs):
    """Add ``serve`` to the ``fastdrum`` command's subparsers."""
    p = subs.add_parser(
        "serve",
        help="the drum machine in the browser (needs fastdrum[serve])",
        description="Start the drum machine as a local web app: a step sequencer that plays "
        "in the browser, with new clips generated on demand by the CPU kernel. "
        "Listens on 127.0.0.1 unless --host says otherwise.",
    )
    p.add_argument(
        "--port",
        type=integer_arg(0, 65535),
        default=0,
        help="port to listen on (default: a free one, printed)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; anything but loopback prints a warning)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept requests addressed to NAME (with --host, e.g. the machine's name); repeatable",
    )
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument(
        "--workers",
        type=integer_arg(1, 64),
        default=min(2, os.cpu_count() or 1),
        metavar="N",
        help="generation threads (default: 2, or 1 on one core)",
    )
    p.add_argument(
        "--queue",
        type=integer_arg(0, 1024),
        default=8,
        metavar="N",
        help="regenerate/export requests that may wait for a worker; more get HTTP 429 (default 8)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print only the address")
    p.set_defaults(func=run)
    return p


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(host, port):
    """A listening socket on (host, port); ServeError with one line if it cannot be had."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise ServeError(f"cannot listen on {host!r}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _hosts(host, port, extra):
    hosts = set()
    for name in ["127.0.0.1", "localhost", "[::1]", host] + list(extra):
        name = f"[{name}]" if ":" in name and not name.startswith("[") else name
        hosts.add(f"{name.lower()}:{port}")
    return hosts


def run(args):
    """Serve until Ctrl-C (or SIGTERM); returns the exit status."""
    try:
        import uvicorn

        from .app import MAX_CONNECTIONS, create_app
    except ImportError as exc:
        raise ServeError(
            f"fastdrum serve needs the serve extra ({exc.name} is missing): "
            "pip install 'fastdrum[serve]'"
        ) from None
    from .engine import Engine

    if not _is_loopback(args.host):
        print(
            f"{PROG}: warning: listening on {args.host}, not loopback: anyone who can reach this machine "
            "can use the drum machine (and its CPU)",
            file=sys.stderr,
        )
    engine = Engine(workers=args.workers, queue=args.queue)
    sock = None
    try:
        sock = _listen(args.host, args.port)
        port = sock.getsockname()[1]
        app = create_app(engine, hosts=_hosts(args.host, port, args.allow_host))
        shown = "127.0.0.1" if _is_loopback(args.host) else args.host
        url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/"
        print(
            f"{PROG}: {url}"
            + ("" if args.quiet else f"  ({', '.join(engine.voices)}; Ctrl-C stops)"),
            flush=True,
        )
        config = uvicorn.Config(
            app,
            log_level="warning" if not args.quiet else "error",
            access_log=False,
            limit_concurrency=MAX_CONNECTIONS,
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        if args.open:
            import webbrowser

            webbrowser.open(url)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled, once it has shut down
            pass
    finally:
        engine.close()
        if sock is not None:
            sock.close()
    if not args.quiet:
        print(f"{PROG}: stopped")
    return 0
