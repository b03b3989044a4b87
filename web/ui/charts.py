"""Charts of the dashboard as server-side SVG: horizontal bars (optionally stacked by supervision
level) and weekly columns with a rate line. Every bar, column and point is a link to the list of
cases behind it; colours come from CSS classes so that the page and its print look alike."""

from dataclasses import dataclass, field

from markupsafe import Markup, escape

from web.ui.diagram import text_width

WIDTH = 460


@dataclass
class Segment:
    value: int
    css: str
    title: str
    href: str


@dataclass
class Bar:
    label: str
    href: str
    segments: list[Segment] = field(default_factory=list)
    note: str = ""

    @property
    def total(self) -> int:
        return sum(s.value for s in self.segments)


def bars(rows: list[Bar], *, label_width: int = 150, empty: str = "暂无数据") -> Markup:
    """Horizontal bars, one row each: the label and the figure are HTML text (readable at any
    width), the bar an SVG whose segments link to their lists; ``note`` follows the figure."""
    if not rows:
        return Markup(f'<p class="muted">{escape(empty)}</p>')
    peak = max((r.total for r in rows), default=0) or 1
    label_em = min(max(len(r.label) for r in rows), label_width // 13) + 0.5
    out = [f'<div class="bars" style="--label: {label_em:.1f}em">']
    for row in rows:
        out.append(f'<div class="bar-row"><a class="bar-label" href="{escape(row.href)}" title="{escape(row.label)}">{escape(row.label)}</a>')
        out.append('<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" '
                   f'aria-label="{escape(row.label)}：{row.total}" xmlns="http://www.w3.org/2000/svg">')  # fmt: skip
        x = 0.0
        for seg in row.segments:
            if seg.value <= 0:
                continue
            w = max(100 * seg.value / peak, 0.6)
            out.append(f'<a href="{escape(seg.href)}"><title>{escape(row.label)} · {escape(seg.title)}：{seg.value}</title>'
                       f'<rect class="{escape(seg.css)}" x="{x:.2f}" y="0" width="{w:.2f}" height="10"/></a>')  # fmt: skip
            x += w
        out.append(f'</svg><span class="bar-value">{row.total}<span class="muted">{escape(row.note)}</span></span></div>')
    out.append("</div>")
    return Markup("".join(out))


@dataclass
class Series:
    name: str
    css: str
    values: list[int]
    hrefs: list[str]


def columns(labels: list[str], series: list[Series], rate: list[float | None] | None = None, rate_name: str = "") -> Markup:
    """Grouped weekly columns, and an optional rate line (0–100 %) on the right-hand scale."""
    height, left, right, top, bottom = 250, 34, 38, 12, 44
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    peak = max((v for s in series for v in s.values), default=0) or 1
    step = plot_w / max(len(labels), 1)
    bar_w = min(14.0, (step - 4) / max(len(series), 1))
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" xmlns="http://www.w3.org/2000/svg">']
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        out.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}"/>')
        out.append(f'<text class="axis-label" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{round(peak * frac)}</text>')
        if rate is not None:
            out.append(f'<text class="axis-label" x="{WIDTH - right + 4}" y="{y + 4:.1f}">{int(frac * 100)}%</text>')
    every = 1 if len(labels) <= 8 else 2  # room for every other label only
    for i, label in enumerate(labels):
        x0 = left + i * step + (step - bar_w * len(series)) / 2
        for k, s in enumerate(series):
            v = s.values[i]
            h = plot_h * v / peak
            out.append(
                f'<a href="{escape(s.hrefs[i])}"><title>{escape(label)} {escape(s.name)}：{v}</title>'
                f'<rect class="{escape(s.css)}" x="{x0 + k * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                f'height="{max(h, 0.5):.1f}"/></a>'
            )
        if (len(labels) - 1 - i) % every == 0:
            out.append(f'<text class="axis-label" x="{left + i * step + step / 2:.1f}" y="{height - bottom + 16}" '
                       f'text-anchor="middle">{escape(label)}</text>')  # fmt: skip
    if rate is not None:
        points = [(left + i * step + step / 2, top + plot_h * (1 - r)) for i, r in enumerate(rate) if r is not None]
        if points:
            path = " ".join(f"{'M' if n == 0 else 'L'}{x:.1f},{y:.1f}" for n, (x, y) in enumerate(points))
            out.append(f'<path class="rate-line" d="{path}"/>')
            for i, r in enumerate(rate):
                if r is not None:
                    x, y = left + i * step + step / 2, top + plot_h * (1 - r)
                    out.append(f'<circle class="rate-dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5"><title>{escape(labels[i])} '
                               f'{escape(rate_name)}：{r * 100:.1f}%</title></circle>')  # fmt: skip
    legend_x = left
    for s in series:
        out.append(f'<rect class="{escape(s.css)}" x="{legend_x}" y="{height - 14}" width="10" height="10"/>'
                   f'<text class="axis-label" x="{legend_x + 14}" y="{height - 5}">{escape(s.name)}</text>')  # fmt: skip
        legend_x += text_width(s.name, 12) + 34
    if rate is not None:
        out.append(f'<line class="rate-line" x1="{legend_x}" y1="{height - 9}" x2="{legend_x + 14}" y2="{height - 9}"/>'
                   f'<text class="axis-label" x="{legend_x + 18}" y="{height - 5}">{escape(rate_name)}（右轴）</text>')  # fmt: skip
    out.append("</svg>")
    return Markup("".join(out))
