"""Figures of drum clips: waveforms and spectrograms, generated beside training primers.

Needs matplotlib, which fastdrum does not install by itself: ``pip install
'fastdrum[plot]'``. Figures are drawn with matplotlib's Agg canvas (no
display, no global pyplot state) and written as PNG through fastdrum's
atomic writer.

Examples
--------
>>> import numpy as np
>>> clips = np.zeros((2, 400), dtype=np.float32)
>>> fig = clips_figure([("kick", 16000, clips, None)])
>>> len(fig.axes)        # one row: generated waveform and spectrogram, primers' two
4
"""

import numpy as np

from . import _io
from .errors import MissingExtraError

__all__ = ["require_matplotlib", "clips_figure", "write_png"]

#: Clips shorter than this (samples) are drawn without a spectrogram.
MIN_SPECTROGRAM_SAMPLES = 256


def require_matplotlib():
    """matplotlib's Figure and Agg canvas; :class:`~fastdrum.MissingExtraError` if it is missing.

    Returns
    -------
    Figure, FigureCanvasAgg : type
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError("plotting needs matplotlib: pip install 'fastdrum[plot]'") from None
    return Figure, FigureCanvasAgg


def clips_figure(rows):
    """A figure with a row per instrument: its clips' waveforms and mean spectrogram, twice.

    Parameters
    ----------
    rows : sequence of (str, int, ndarray, ndarray or None)
        ``(instrument, sr, generated, primers)``: the generated clips ``(n, T)``
        and the training primers ``(m, P)`` (the first samples of training
        clips, as a model file holds them), or None if the model has none.

    Returns
    -------
    matplotlib.figure.Figure
        Four axes a row: generated waveforms, their spectrogram, primers'
        waveforms, their spectrogram.

    Raises
    ------
    MissingExtraError
        If matplotlib is not installed.
    """
    Figure, FigureCanvasAgg = require_matplotlib()
    fig = Figure(figsize=(14, 2.6 * len(rows)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 4, squeeze=False)
    for ax, (inst, sr, generated, primers) in zip(axes, rows):
        _draw(ax[0], ax[1], inst, sr, generated, "generated", steps=False)
        if primers is None:
            ax[2].set_title(f"{inst}: training primers", fontsize=9)
            ax[2].text(
                0.5,
                0.5,
                "the model has no primers",
                ha="center",
                va="center",
                transform=ax[2].transAxes,
            )
            ax[3].set_axis_off()
        else:
            _draw(ax[2], ax[3], inst, sr, primers, "training primers", steps=True)
    return fig


def _draw(ax_w, ax_s, inst, sr, clips, label, *, steps):
    """Waveforms of `clips` on `ax_w`, their mean spectrogram on `ax_s` (if long enough)."""
    t = np.arange(clips.shape[1]) / sr * 1000.0
    for c in clips:
        ax_w.plot(t, c, linewidth=0.6, alpha=0.7, drawstyle="steps-post" if steps else None)
    ax_w.set_xlabel("ms", fontsize=8)
    ax_w.set_ylim(-1.05, 1.05)
    ax_w.set_title(f"{inst}: {label}", fontsize=9)
    if steps:  # only the first P codes of each training clip are in a model file
        ax_w.set_title(
            f"{inst}: {label}, the first {clips.shape[1]} samples "
            f"({1000 * clips.shape[1] / sr:.1f} ms) of training clips",
            fontsize=9,
        )
        if clips.shape[1] < MIN_SPECTROGRAM_SAMPLES:
            ax_s.text(
                0.5,
                0.5,
                f"{clips.shape[1]} samples: too short for a spectrogram",
                ha="center",
                va="center",
                transform=ax_s.transAxes,
            )
            ax_s.set_axis_off()
            return
    _spectrogram(ax_s, clips, sr, t, label)


def _spectrogram(ax, clips, sr, t, label):
    """The clips' mean spectrogram in dB (80 dB of range) on `ax`."""
    from scipy import signal

    nper = int(min(256, max(8, clips.shape[1] // 8), clips.shape[1]))
    _, _, S = signal.spectrogram(
        clips.astype(np.float64), fs=sr, nperseg=nper, noverlap=nper * 3 // 4, axis=-1
    )
    S_db = 10 * np.log10(S.mean(axis=0) + 1e-12)
    ax.imshow(
        S_db,
        origin="lower",
        aspect="auto",
        vmin=S_db.max() - 80,
        vmax=S_db.max(),
        extent=(0.0, t[-1] if len(t) > 1 else 1000.0 / sr, 0.0, sr / 2),
    )
    ax.set_title(f"{label}: mean spectrogram, dB", fontsize=9)
    ax.set_xlabel("ms", fontsize=8)
    ax.set_ylabel("Hz", fontsize=8)


def write_png(fig, path, *, overwrite=False, dpi=100):
    """Write `fig` as a PNG file, atomically (:func:`fastdrum._io.atomic_file`).

    Raises
    ------
    OutputExistsError
        If `path` exists and `overwrite` is False.
    """
    with _io.atomic_file(path, overwrite=overwrite, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
