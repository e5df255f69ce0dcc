"""Named drum patterns: one bar each, in the grid syntax of :class:`fastdrum.sequencer.Pattern`.

Each preset is ``dict(grid=..., bpm=..., swing=...)``; ``bpm`` and ``swing``
are the defaults :func:`fastdrum.sequencer.render` uses when not given.
Grid characters: ``X`` accent, ``x`` normal, ``o`` ghost, ``1``-``9``
velocity in ninths, ``.`` rest; ``|`` and spaces are ignored.

Examples
--------
>>> sorted(PRESETS)[:4]
['boom-bap', 'breakbeat', 'disco', 'hip-hop']
"""

__all__ = ["PRESETS"]

PRESETS = {
    "house": dict(
        grid="kick=X...|X...|X...|X...,snare=....|x...|....|x...,hihat=o.x.|o.x.|o.x.|o.x.",
        bpm=124.0,
        swing=0.0,
    ),
    "techno": dict(
        grid="kick=X...|X...|X...|X...,snare=....|o...|....|o...,hihat=oox.|oox.|oox.|ooxo",
        bpm=130.0,
        swing=0.0,
    ),
    "hip-hop": dict(
        grid="kick=X...|....|..x.|X...,snare=....|X...|....|X...,hihat=x.x.|x.x.|x.x.|x.xo",
        bpm=90.0,
        swing=0.15,
    ),
    "boom-bap": dict(
        grid="kick=X..x|....|..X.|....,snare=....|X...|....|X..o,hihat=x.x.|x.x.|x.x.|x.x.",
        bpm=92.0,
        swing=0.2,
    ),
    "breakbeat": dict(
        grid="kick=X.x.|....|..xX|....,snare=....|X..o|.o..|X..o,hihat=x.x.|x.x.|x.x.|x.x.",
        bpm=136.0,
        swing=0.0,
    ),
    "rock": dict(
        grid="kick=X...|....|X.x.|....,snare=....|X...|....|X...,hihat=x.x.|x.x.|x.x.|x.x.",
        bpm=110.0,
        swing=0.0,
    ),
    "disco": dict(
        grid="kick=X...|X...|X...|X...,snare=....|X...|....|X...,hihat=x.o.|x.o.|x.o.|x.o.",
        bpm=118.0,
        swing=0.0,
    ),
}
