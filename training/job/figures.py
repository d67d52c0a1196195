"""Figures for MLflow runs: drawn headless, in fonts that write Japanese.

Why matplotlib-fontja: Japanese exports name their features 流入元 or 作成日時, and
matplotlib's own font, DejaVu Sans, has no kana or kanji, so every such label drew as boxes,
with one warning per missing glyph on every run. The package ships IPAexGothic and registers
it with matplotlib; it is set after DejaVu Sans as the fallback for the glyphs DejaVu Sans
lacks, so figures of English exports look as they did.
"""

from __future__ import annotations

from types import ModuleType

FONTS = ["DejaVu Sans", "IPAexGothic"]


def pyplot() -> ModuleType:
    """matplotlib's pyplot, headless, with the fonts set; called where a figure is drawn, so
    that importing the training code changes no one's matplotlib (a notebook's included)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server or in CI
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (registers IPAexGothic; sets it alone as the font)

    plt.rcParams["font.family"] = FONTS
    return plt
