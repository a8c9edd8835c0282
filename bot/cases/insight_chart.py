"""The insight chart: a period's figures on one PNG a phone shows well (1080 px wide, large type, labels in the
reader's language, a CJK font loaded by path so Chinese never shows as empty boxes)."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

from bot.cases.insight import (
    BUCKET_NAMES,
    BUCKETS,
    CLOSED,
    NOT_OURS,
    OPEN,
    RESOLVED,
    Stats,
    category_label,
    percent,
    period_text,
)
from bot.platform.i18n import Lang

CHART_WIDTH_PX = 1080
CHART_DPI = 100
BUCKET_COLOURS = {OPEN: "#e4572e", RESOLVED: "#f3a712", CLOSED: "#29a36a", NOT_OURS: "#9e9e9e"}

# Fonts with Chinese glyphs, first the one the bot depends on (a PyPI package), then common Debian packages.
_SYSTEM_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


class ChartFontMissing(RuntimeError):
    """No font with Chinese glyphs was found; charts would show empty boxes instead of words."""


@cache
def cjk_font_path() -> Any:
    """The font file (and face) the chart's words are drawn with; ChartFontMissing when there is none."""
    from matplotlib.font_manager import FontPath
    from matplotlib.ft2font import FT2Font

    candidates: list[str] = []
    try:
        import noto_cjk_sans_otc

        candidates.append(str(noto_cjk_sans_otc.FONT_PATH))
    except ImportError:
        pass
    candidates.extend(path for path in _SYSTEM_CJK_FONTS if Path(path).is_file())
    for path in candidates:
        faces = FT2Font(path).num_faces
        # A collection holds the font in several regional styles: prefer the Simplified Chinese one.
        ranked = sorted(range(faces), key=lambda i: "SC" not in FT2Font(path, face_index=i).family_name)
        for index in ranked:
            face = FT2Font(path, face_index=index)
            if all(face.get_char_index(ord(char)) for char in "结案率满意"):
                return FontPath(path, index)
    raise ChartFontMissing(
        "no font with Chinese glyphs: install the noto-cjk-sans-otc package (a dependency of the bot) "
        "or Debian's fonts-noto-cjk"
    )


def render_chart(t: Lang, stats: Stats) -> bytes:
    """The period on one PNG, 1080 px wide: key figures, cases per category by state, time to close."""
    output = io.BytesIO()
    chart_figure(t, stats).savefig(output, format="png", dpi=CHART_DPI)
    return output.getvalue()


def chart_figure(t: Lang, stats: Stats) -> Any:
    """The chart as a matplotlib Figure (tests read its words and ticks; render_chart draws it)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    font = cjk_font_path()

    def fp(size: float) -> FontProperties:
        return FontProperties(fname=font, size=size)

    # Laid out in inches from the top; each category gets a line for its name and a bar under it, so long names
    # never squeeze the bars on a narrow phone screen.
    categories = list(stats.categories)
    row_in = 1.0
    rows_in = max(1, len(categories)) * row_in
    heights = {"title": 1.0, "figures": 1.7, "heading": 0.7, "legend": 0.9, "axis": 0.55, "gap": 0.35}
    panel_in = heights["heading"] + heights["legend"] + rows_in + heights["axis"]
    height_in = heights["title"] + heights["figures"] + 2 * panel_in + heights["gap"] + 0.3
    figure = Figure(figsize=(CHART_WIDTH_PX / CHART_DPI, height_in), dpi=CHART_DPI, facecolor="white")
    FigureCanvasAgg(figure)

    def y(inches_from_top: float) -> float:
        return 1 - inches_from_top / height_in

    title = t._("Cases filed {period}", period=period_text(t, stats.period))
    figure.text(0.04, y(0.75), title, fontproperties=fp(30))
    figures = [
        (t._("cases"), t.number(stats.total), "#1f2d3d"),
        (
            t._("closure rate"),
            percent(t, stats.closure_rate) if stats.closure_rate is not None else "–",
            "#1f2d3d",
        ),
        (t._("overdue now"), t.number(stats.overdue), BUCKET_COLOURS[OPEN] if stats.overdue else "#1f2d3d"),
        (
            t._("satisfaction"),
            t._("{average} / 5", average=t.number(round(stats.average_satisfaction, 1)))
            if stats.average_satisfaction is not None
            else "–",
            "#1f2d3d",
        ),
    ]
    for index, (name, value, colour) in enumerate(figures):
        x = 0.04 + index * 0.24
        figure.text(x, y(1.0 + 0.95), value, fontproperties=fp(40), color=colour)
        figure.text(x, y(1.0 + 1.45), name, fontproperties=fp(19), color="#555555")

    def panel(top_in: float, heading: str) -> Any:
        figure.text(0.04, y(top_in + 0.55), heading, fontproperties=fp(24))
        bottom_in = top_in + heights["heading"] + heights["legend"] + rows_in
        axes = figure.add_axes((0.04, y(bottom_in), 0.86, rows_in / height_in))
        axes.set_ylim(len(categories) - 0.4 if categories else 1, -0.6)
        axes.set_yticks([])
        axes.spines[["top", "right", "left"]].set_visible(False)
        axes.grid(axis="x", color="#e6e6e6")
        axes.set_axisbelow(True)
        for label in axes.get_xticklabels():
            label.set_fontproperties(fp(15))
        for position, category in enumerate(categories):
            axes.text(0, position - 0.1, category_label(t, category.code), fontproperties=fp(20), va="bottom")
        return axes

    first_top = heights["title"] + heights["figures"]
    counts_axes = panel(first_top, t._("Cases per category, by state"))
    positions = [position + 0.17 for position in range(len(categories))]
    left = [0] * len(categories)
    for bucket in BUCKETS:
        values = [category.counts[bucket] for category in categories]
        counts_axes.barh(positions, values, left=left, color=BUCKET_COLOURS[bucket], height=0.36)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for position, total in zip(positions, left, strict=True):
        counts_axes.text(total, position, f" {t.number(total)}", va="center", fontproperties=fp(18))
    counts_axes.set_xlim(0, max(left, default=0) * 1.12 + 1)
    counts_axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # cases come whole: no 0.25 ticks
    for label in counts_axes.get_xticklabels():
        label.set_fontproperties(fp(15))
    figure.legend(
        handles=[Patch(color=BUCKET_COLOURS[b], label=t._(BUCKET_NAMES[b])) for b in BUCKETS],
        prop=fp(16),
        ncols=2,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(0.03, y(first_top + heights["heading"] - 0.05)),
    )

    second_top = first_top + panel_in + heights["gap"]
    hours_axes = panel(second_top, t._("Median time to close, against the time limit (hours)"))
    medians = [category.median_hours_to_close for category in categories]
    late = [m is not None and m > c.limit_hours for m, c in zip(medians, categories, strict=True)]
    hours_axes.barh(
        positions, [m or 0 for m in medians], height=0.36, color=["#e4572e" if x else "#2e86de" for x in late]
    )
    hours_axes.scatter(
        [category.limit_hours for category in categories],
        positions,
        marker="|",
        s=1100,
        linewidths=4,
        color="#1f2d3d",
        zorder=3,
    )
    for position, median, category in zip(positions, medians, categories, strict=True):
        text = t.number(round(median, 1)) if median is not None else t._("none closed yet")
        hours_axes.text(
            max(median or 0, category.limit_hours), position, f"  {text}", va="center", fontproperties=fp(18)
        )
    longest = max([*(m or 0 for m in medians), *(c.limit_hours for c in categories)], default=1)
    hours_axes.set_xlim(0, longest * 1.35)
    for label in hours_axes.get_xticklabels():
        label.set_fontproperties(fp(15))
    figure.legend(
        handles=[
            Patch(color="#2e86de", label=t._("median time to close")),
            Patch(color="#e4572e", label=t._("median over the time limit")),
            Line2D(
                [],
                [],
                color="#1f2d3d",
                marker="|",
                linestyle="",
                markersize=22,
                markeredgewidth=4,
                label=t._("time limit"),
            ),
        ],
        prop=fp(16),
        ncols=2,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(0.03, y(second_top + heights["heading"] - 0.05)),
    )
    if not categories:
        for axes in (counts_axes, hours_axes):
            axes.text(
                0.5,
                0.5,
                t._("No cases were filed in this period."),
                transform=axes.transAxes,
                ha="center",
                va="center",
                fontproperties=fp(22),
                color="#555555",
            )
            axes.set_xticks([])
    return figure
