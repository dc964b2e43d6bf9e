"""Small server-rendered SVG charts (no chart library, no script): a line and a bar chart.

Values are plain numbers (already in the unit shown); every label is escaped. Each chart carries a
``<title>``/``<desc>`` for screen readers, and the page shows the same numbers as a table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _frame(title: str, desc: str, maximum: float, fmt: Callable[[float], str], body: list[str],
           labels: Sequence[str], xs: Sequence[float]) -> Markup:
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>",
    ]
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="chart-label" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{escape(fmt(maximum * i / 4))}</text>")
    parts.append(f'<line class="chart-axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}"/>')
    parts.append(f'<line class="chart-axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    every = max(1, -(-len(labels) // 6))  # at most about six labels, so they never overlap
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(f'<text class="chart-label" x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
                         f"{escape(label)}</text>")
    parts.extend(body)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(points: Sequence[tuple[str, float]], *, title: str, desc: str,
               fmt: Callable[[float], str] = lambda v: f"{v:,.0f}") -> Markup:
    if not points:
        return Markup("")
    maximum = _nice_max(max(v for _, v in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(points)
    xs = [LEFT + (plot_w * (i + 0.5) / n) for i in range(n)]
    ys = [TOP + plot_h - plot_h * (v / maximum) for _, v in points]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(zip(xs, ys, strict=True)))
    body = [f'<path class="chart-line" d="{path}"/>']
    body += [f'<circle class="chart-dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5"><title>{escape(label)}: '
             f"{escape(fmt(v))}</title></circle>" for (label, v), x, y in zip(points, xs, ys, strict=True)]
    return _frame(title, desc, maximum, fmt, body, [p[0] for p in points], xs)


def bar_chart(points: Sequence[tuple[str, float]], *, title: str, desc: str,
              fmt: Callable[[float], str] = lambda v: f"{v:,.0f}") -> Markup:
    if not points:
        return Markup("")
    maximum = _nice_max(max(v for _, v in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(points)
    slot = plot_w / n
    bar = min(48.0, slot * 0.7)
    xs = [LEFT + slot * (i + 0.5) for i in range(n)]
    body = []
    for (label, v), x in zip(points, xs, strict=True):
        h = plot_h * (v / maximum)
        body.append(f'<rect class="chart-bar" x="{x - bar / 2:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                    f'height="{h:.1f}"><title>{escape(label)}: {escape(fmt(v))}</title></rect>')
    return _frame(title, desc, maximum, fmt, body, [p[0] for p in points], xs)
