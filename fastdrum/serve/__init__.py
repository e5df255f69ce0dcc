"""``fastdrum serve``: the drum machine as a local web app.

The page (plain ES modules and CSS in ``static/``, no build step) is a step
sequencer that plays in the browser with the Web Audio API; the server
(Starlette on uvicorn, the ``serve`` extra: ``pip install 'fastdrum[serve]'``)
generates new clips on the compiled kernel and writes the exports with the
package's own writers. ``import fastdrum`` never imports this package.

Modules
-------
engine
    What the server does, without any web framework: the voices, the bounded
    generation pool, request validation, the exports.
app
    The Starlette application over the engine (needs the ``serve`` extra).
command
    The ``fastdrum serve`` subcommand.
"""
