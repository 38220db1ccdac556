"""Where each checkpoint and restore of an app is drawn in the timeline picture (pure geometry).

Events sit left to right in time order. Checkpoints are on one axis (circles; squares when a schedule made
them), lineage arcs run above it from parent to child, restores sit below it as diamonds with an arrow that
jumps back to the checkpoint they restored (an undo's arrow, dashed, goes to where production was before the
undone restore; a preview's is dotted: it leaves production alone). The template turns this into SVG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from neon_checkpoints.ui.model import AppView

STEP = 112  # between two events
PAD = 48
AXIS = 96  # y of the checkpoints
RESTORE_Y = AXIS + 78
HEIGHT = RESTORE_Y + 62
LABEL_CHARS = 14  # longer names are cut in the picture (the title and the lists below carry them whole)
NODE_R = 11

PHASE_CLASSES = {
    "Ready": "ok",
    "Succeeded": "ok",
    "Failed": "failed",
    "Deleting": "gone",
}


def phase_class(phase: str) -> str:
    """The colour of a phase: ok, failed, gone, or busy (Pending, Queued, Creating, Restoring)."""
    return PHASE_CLASSES.get(phase, "busy")


@dataclass(frozen=True)
class Node:
    kind: Literal["checkpoint", "restore"]
    name: str
    x: int
    y: int
    shape: Literal["circle", "square", "diamond"]
    css: str
    label: str
    title: str  # the accessible name and tooltip
    production: bool = False
    label_y: int = 0


@dataclass(frozen=True)
class Edge:
    kind: Literal["lineage", "restore", "preview", "undo"]
    d: str  # the SVG path
    css: str


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    description: str  # the text alternative of the whole picture
    axis: int = AXIS


def layout(app: AppView) -> Picture:
    xs = {(e.kind, e.name): PAD + i * STEP for i, e in enumerate(app.events)}
    nodes: list[Node] = []
    edges: list[Edge] = []
    for c in app.checkpoints:
        x = xs[("checkpoint", c.name)]
        made = f", made by schedule {c.schedule}" if c.schedule else ""
        prod = ", production is here" if c.name == app.production else ""
        nodes.append(
            Node(
                "checkpoint",
                c.name,
                x,
                AXIS,
                "square" if c.schedule else "circle",
                phase_class(c.phase),
                _cut(c.name),
                f"checkpoint {c.name}: {c.phase}{made}{prod}",
                production=c.name == app.production,
                label_y=AXIS + 5,
            )
        )
        if c.parent and ("checkpoint", c.parent) in xs:
            x0 = xs[("checkpoint", c.parent)]
            lift = 22 + (x - x0) // 5
            top = AXIS - NODE_R + 3
            edges.append(
                Edge(
                    "lineage", f"M{x0 + 8},{top} Q{(x0 + x) // 2},{top - lift} {x - 8},{top}", "edge-lineage"
                ),
            )
    for i, r in enumerate(app.restores):
        x = xs[("restore", r.name)]
        target = app.undo_targets.get(r.name) if r.mode == "Undo" else r.checkpoint
        what = f"undo of {r.undo_of}" if r.mode == "Undo" else f"{r.mode} of {r.checkpoint or '?'}"
        nodes.append(
            Node(
                "restore",
                r.name,
                x,
                RESTORE_Y,
                "diamond",
                phase_class(r.phase),
                _cut(r.name),
                f"restore {r.name}: {what}, {r.phase}",
                label_y=RESTORE_Y + (30 if i % 2 == 0 else 48),  # alternate rows: neighbours never overlap
            )
        )
        if target and ("checkpoint", target) in xs:
            xt = xs[("checkpoint", target)]
            kind: Literal["restore", "preview", "undo"] = (
                "undo" if r.mode == "Undo" else "preview" if r.mode == "Preview" else "restore"
            )
            edges.append(
                Edge(
                    kind,
                    f"M{x},{RESTORE_Y - NODE_R} C{x},{AXIS + 40} {xt},{AXIS + 52} {xt},{AXIS + NODE_R + 4}",
                    f"edge-{kind}",
                )
            )
    width = max(320, PAD * 2 + max(0, len(app.events) - 1) * STEP)
    return Picture(width, HEIGHT, tuple(nodes), tuple(edges), describe(app))


def _cut(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"


def describe(app: AppView) -> str:
    """One sentence per event, oldest first: what the picture shows, in words."""
    parts: list[str] = []
    for event in app.events:
        if event.kind == "checkpoint":
            c = app.checkpoint(event.name)
            assert c is not None
            parent = f", child of {c.parent}" if c.parent else ""
            made = f", made by schedule {c.schedule}" if c.schedule else ""
            parts.append(f"Checkpoint {c.name} ({c.phase}{parent}{made}).")
        else:
            r = app.restore(event.name)
            assert r is not None
            if r.mode == "Undo":
                to = app.undo_targets.get(r.name)
                parts.append(f"Undo {r.name} of restore {r.undo_of}, back to {to or 'unknown'} ({r.phase}).")
            else:
                parts.append(f"{r.mode} restore {r.name} back to {r.checkpoint or 'unknown'} ({r.phase}).")
    parts.append(
        f"Production is at {app.production}." if app.production else "Production has no checkpoint yet."
    )
    return " ".join(parts)
