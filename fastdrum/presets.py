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

# fmt: off
#: One bar of each preset: tempo (bpm), swing, and the kick, snare and hi-hat steps.
_BARS = {
    "house":     (124.0, 0.0,  "X...|X...|X...|X...", "....|x...|....|x...", "o.x.|o.x.|o.x.|o.x."),
    "techno":    (130.0, 0.0,  "X...|X...|X...|X...", "....|o...|....|o...", "oox.|oox.|oox.|ooxo"),
    "hip-hop":   (90.0,  0.15, "X...|....|..x.|X...", "....|X...|....|X...", "x.x.|x.x.|x.x.|x.xo"),
    "boom-bap":  (92.0,  0.2,  "X..x|....|..X.|....", "....|X...|....|X..o", "x.x.|x.x.|x.x.|x.x."),
    "breakbeat": (136.0, 0.0,  "X.x.|....|..xX|....", "....|X..o|.o..|X..o", "x.x.|x.x.|x.x.|x.x."),
    "rock":      (110.0, 0.0,  "X...|....|X.x.|....", "....|X...|....|X...", "x.x.|x.x.|x.x.|x.x."),
    "disco":     (118.0, 0.0,  "X...|X...|X...|X...", "....|X...|....|X...", "x.o.|x.o.|x.o.|x.o."),
}
# fmt: on

PRESETS = {
    name: dict(grid=f"kick={kick},snare={snare},hihat={hihat}", bpm=bpm, swing=swing)
    for name, (bpm, swing, kick, snare, hihat) in _BARS.items()
}
