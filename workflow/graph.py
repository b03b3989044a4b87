"""Mermaid state diagrams of a workflow definition (for documents and the web page)."""

from workflow.spec import WorkflowSpec


def mermaid(spec: WorkflowSpec, current: str | None = None) -> str:
    """A ``stateDiagram-v2`` with Chinese state labels; ``current`` is highlighted."""
    lines = ["stateDiagram-v2", f"    %% {spec.name} ({spec.type}) version {spec.version[:12]}"]
    for name, state in spec.states.items():
        lines.append(f"    {name}: {state.label}")
    lines.append(f"    [*] --> {spec.initial}")
    drawn: set[tuple[str, str, str]] = set()
    for t in spec.transitions:
        for source in t.sources:
            edge = (source, t.dest or source, t.trigger)  # an internal transition is a self-loop
            if edge in drawn:
                continue
            drawn.add(edge)
            lines.append(f"    {source} --> {edge[1]}: {t.trigger}")
    for name, state in spec.states.items():
        if state.terminal:
            lines.append(f"    {name} --> [*]")
    if current is not None:
        lines.append("    classDef current fill:#fde68a,stroke:#b45309,stroke-width:2px")
        lines.append(f"    class {current} current")
    return "\n".join(lines) + "\n"
