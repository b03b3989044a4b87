"""The state diagram of a workflow as a small SVG drawn on the server (no JavaScript library):
states in rows by their distance from the initial state, the current state highlighted, the
states a case has passed through shaded, and every transition as an arrow whose tooltip names
its triggers. Forward steps go down; returns and loops are dashed curves at the sides."""

from collections import deque
from dataclasses import dataclass

from markupsafe import Markup, escape

from workflow.spec import WorkflowSpec

ROW_GAP = 74
NODE_H = 34
GAP_X = 22
MARGIN = 56


def text_width(text: str, size: int = 13) -> int:
    return sum(size if ord(ch) > 0x2E7F else int(size * 0.6) for ch in text)


@dataclass
class _Node:
    name: str
    label: str
    layer: int
    x: float = 0
    y: float = 0
    w: float = 0


def _layers(spec: WorkflowSpec) -> dict[str, int]:
    edges: dict[str, list[str]] = {s: [] for s in spec.states}
    for t in spec.transitions:
        if t.dest is not None:
            for source in t.sources:
                edges[source].append(t.dest)
    layer = {spec.initial: 0}
    queue = deque([spec.initial])
    while queue:
        state = queue.popleft()
        for dest in edges[state]:
            if dest not in layer:
                layer[dest] = layer[state] + 1
                queue.append(dest)
    deepest = max(layer.values(), default=0)
    for state in spec.states:  # unreachable states (validated away, but never crash a page)
        layer.setdefault(state, deepest + 1)
    return layer


def state_diagram(spec: WorkflowSpec, current: str | None = None, visited: set[str] | frozenset[str] = frozenset()) -> Markup:
    layer = _layers(spec)
    nodes = {name: _Node(name, s.label, layer[name]) for name, s in spec.states.items()}
    rows: dict[int, list[_Node]] = {}
    for node in nodes.values():
        node.w = max(84, text_width(node.label) + 26)
        rows.setdefault(node.layer, []).append(node)
    width = max(sum(n.w for n in row) + GAP_X * (len(row) - 1) for row in rows.values()) + 2 * MARGIN
    for index, row in sorted(rows.items()):
        total = sum(n.w for n in row) + GAP_X * (len(row) - 1)
        x = (width - total) / 2
        for node in row:
            node.x, node.y = x, 24 + index * ROW_GAP
            x += node.w + GAP_X
    height = 24 + (max(rows) + 1) * ROW_GAP - ROW_GAP + NODE_H + 16
    edges: dict[tuple[str, str], list[str]] = {}
    for t in spec.transitions:
        if t.dest is None:
            continue
        for source in t.sources:
            labels = edges.setdefault((source, t.dest), [])
            if t.label not in labels:
                labels.append(t.label)
    parts = [
        f'<svg class="diagram" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{escape(spec.name)}流程图" xmlns="http://www.w3.org/2000/svg">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>',
    ]
    side = {"left": 0, "right": 0}
    for (source, dest), labels in edges.items():
        a, b = nodes[source], nodes[dest]
        title = f"<title>{escape(a.label)} → {escape(b.label)}：{escape('、'.join(labels))}</title>"
        parts.append(f'<g class="edge">{title}{_path(a, b, side)}</g>')
    initial = nodes[spec.initial]
    parts.append(f'<circle class="start" cx="{initial.x + initial.w / 2:.0f}" cy="8" r="5"/>')
    parts.append(f'<line class="edge-line" x1="{initial.x + initial.w / 2:.0f}" y1="13" x2="{initial.x + initial.w / 2:.0f}" '
                 f'y2="{initial.y:.0f}" marker-end="url(#arrow)"/>')  # fmt: skip
    for node in nodes.values():
        classes = ["state"]
        if spec.states[node.name].terminal:
            classes.append("terminal")
        if node.name in visited:
            classes.append("visited")
        if node.name == current:
            classes.append("current")
        mark = "（当前）" if node.name == current else ""
        parts.append(
            f'<g class="{" ".join(classes)}"><title>{escape(node.label)}（{escape(node.name)}）{mark}</title>'
            f'<rect x="{node.x:.0f}" y="{node.y:.0f}" width="{node.w:.0f}" height="{NODE_H}" rx="8"/>'
            f'<text x="{node.x + node.w / 2:.0f}" y="{node.y + NODE_H / 2 + 5:.0f}" text-anchor="middle">{escape(node.label)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _path(a: _Node, b: _Node, side: dict[str, int]) -> str:
    ax, bx = a.x + a.w / 2, b.x + b.w / 2
    if a is b:  # a loop (the state stays, e.g. a deadline extended)
        x, y = a.x + a.w, a.y + NODE_H / 2
        return (f'<path class="edge-line back" d="M{x:.0f},{y - 8:.0f} C{x + 34:.0f},{y - 26:.0f} {x + 34:.0f},{y + 26:.0f} '
                f'{x:.0f},{y + 8:.0f}" marker-end="url(#arrow)"/>')  # fmt: skip
    if b.layer == a.layer:  # a step sideways (整改不到位转取缔)
        y = a.y + NODE_H / 2
        x1, x2 = (a.x, b.x + b.w) if b.x < a.x else (a.x + a.w, b.x)
        return f'<line class="edge-line" x1="{x1:.0f}" y1="{y:.0f}" x2="{x2:.0f}" y2="{y:.0f}" marker-end="url(#arrow)"/>'
    if b.layer == a.layer + 1:
        return (f'<line class="edge-line" x1="{ax:.0f}" y1="{a.y + NODE_H:.0f}" x2="{bx:.0f}" y2="{b.y:.0f}" '
                f'marker-end="url(#arrow)"/>')  # fmt: skip
    forward = b.layer > a.layer
    where = "right" if forward else "left"
    side[where] += 1
    bend = 26 + 12 * side[where]
    if forward:
        x1, x2 = a.x + a.w, b.x + b.w
        cx = max(x1, x2) + bend
    else:
        x1, x2 = a.x, b.x
        cx = min(x1, x2) - bend
    y1, y2 = a.y + NODE_H / 2, b.y + NODE_H / 2
    css = "edge-line" if forward else "edge-line back"
    return f'<path class="{css}" d="M{x1:.0f},{y1:.0f} C{cx:.0f},{y1:.0f} {cx:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" marker-end="url(#arrow)"/>'


def state_steps(spec: WorkflowSpec, current: str | None = None, visited: set[str] | frozenset[str] = frozenset()) -> list[dict[str, object]]:
    """The same diagram as an ordered list (for narrow screens): each state in diagram order,
    marked current or passed, with the steps that lead on from it."""
    layer = _layers(spec)
    order = sorted(spec.states, key=lambda name: (layer[name], list(spec.states).index(name)))
    result = []
    for name in order:
        steps: dict[str, list[str]] = {}
        for t in spec.transitions:
            if t.dest is not None and name in t.sources and t.dest != name:
                steps.setdefault(spec.states[t.dest].label, []).append(t.label)
        result.append({
            "name": name, "label": spec.states[name].label, "current": name == current, "visited": name in visited,
            "terminal": spec.states[name].terminal, "next": [(dest, "、".join(dict.fromkeys(labels))) for dest, labels in steps.items()],
        })  # fmt: skip
    return result
