"""A unified diff of two line lists, in `diff -u`'s format, fast on schema dumps.

difflib's matcher searches the whole of both sides for each longest match: about 100 ms for two 15,000-line
dumps of a 200-table schema, most of a `diff`'s time. Lines found exactly once on each side (a table's
`CREATE TABLE public.t001 (`, its constraints) are anchors: the longest run of them in the same order on both
sides pairs up at once, and difflib then only matches the short stretches between two anchors (the
"patience" idea). Without such lines, difflib sees the whole, as before."""

from __future__ import annotations

import bisect
import difflib
from collections import Counter
from collections.abc import Iterator, Sequence

CONTEXT = 3  # lines around each change, as `diff -u`
Block = tuple[int, int, int]  # difflib's (i, j, size): a[i : i + size] == b[j : j + size]


def _anchors(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs (i, j) with a[i] == b[j] unique on both sides, increasing in both: the longest such run."""
    in_a, in_b = Counter(a), Counter(b)
    where_b = {line: j for j, line in enumerate(b) if in_b[line] == 1}
    pairs = [(i, where_b[line]) for i, line in enumerate(a) if in_a[line] == 1 and line in where_b]
    # Longest increasing subsequence of the j's (pairs are in i order): patience sorting with back links.
    tails: list[int] = []  # tails[k]: index into pairs of the smallest last j of a run of length k + 1
    tail_js: list[int] = []
    back: list[int] = []
    for n, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tail_js, j)
        back.append(tails[k - 1] if k else -1)
        if k == len(tails):
            tails.append(n)
            tail_js.append(j)
        else:
            tails[k], tail_js[k] = n, j
    run: list[tuple[int, int]] = []
    n = tails[-1] if tails else -1
    while n >= 0:
        run.append(pairs[n])
        n = back[n]
    return run[::-1]


def _gap(a: Sequence[str], b: Sequence[str], a1: int, a2: int, b1: int, b2: int) -> list[Block]:
    """Equal blocks between two anchors: most such stretches are equal or differ in a line or two, so the
    common head and tail are taken first and difflib matches only what lies between."""
    head = 0
    while a1 + head < a2 and b1 + head < b2 and a[a1 + head] == b[b1 + head]:
        head += 1
    tail = 0
    while a2 - tail > a1 + head and b2 - tail > b1 + head and a[a2 - tail - 1] == b[b2 - tail - 1]:
        tail += 1
    blocks = [(a1, b1, head)] if head else []
    if a2 - tail > a1 + head and b2 - tail > b1 + head:
        a1, b1 = a1 + head, b1 + head
        middle = difflib.SequenceMatcher(None, a[a1 : a2 - tail], b[b1 : b2 - tail], autojunk=False)
        blocks += [(a1 + x, b1 + y, n) for x, y, n in middle.get_matching_blocks() if n]
    if tail:
        blocks.append((a2 - tail, b2 - tail, tail))
    return blocks


def matching_blocks(a: Sequence[str], b: Sequence[str]) -> list[Block]:
    """The equal blocks, anchored as the module says, merged; the last is (len a, len b, 0), as difflib's."""
    blocks: list[Block] = []
    start_a = start_b = 0
    for i, j in [*_anchors(a, b), (len(a), len(b))]:
        blocks += _gap(a, b, start_a, i, start_b, j)
        if i < len(a):
            blocks.append((i, j, 1))
        start_a, start_b = i + 1, j + 1
    merged: list[Block] = []
    for i, j, size in blocks:
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + size)
        else:
            merged.append((i, j, size))
    return [*merged, (len(a), len(b), 0)]


Opcode = tuple[str, int, int, int, int]  # difflib's (tag, i1, i2, j1, j2)


def opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    """How `a` becomes `b`: equal, replace, delete and insert stretches, in order."""
    out: list[Opcode] = []
    i = j = 0
    for ai, bj, size in matching_blocks(a, b):
        if i < ai or j < bj:
            out.append(("replace" if i < ai and j < bj else "delete" if i < ai else "insert", i, ai, j, bj))
        if size:
            out.append(("equal", ai, ai + size, bj, bj + size))
        i, j = ai + size, bj + size
    return out


def _hunks(codes: list[Opcode]) -> Iterator[list[Opcode]]:
    """The changes with CONTEXT equal lines around them, split where more than twice that lies between."""
    group: list[Opcode] = []
    for n, (tag, i1, i2, j1, j2) in enumerate(codes):
        if tag == "equal":
            if n == 0:  # leading context: its last lines only
                i1, j1 = max(i1, i2 - CONTEXT), max(j1, j2 - CONTEXT)
            if n == len(codes) - 1:  # trailing context: its first lines only
                i2, j2 = min(i2, i1 + CONTEXT), min(j2, j1 + CONTEXT)
            elif i2 - i1 > 2 * CONTEXT:
                if group:
                    group.append((tag, i1, i1 + CONTEXT, j1, j1 + CONTEXT))
                    yield group
                group, i1, j1 = [], i2 - CONTEXT, j2 - CONTEXT
        group.append((tag, i1, i2, j1, j2))
    if any(code[0] != "equal" for code in group):
        yield group


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def unified_diff(a: Sequence[str], b: Sequence[str], fromfile: str, tofile: str) -> list[str]:
    """The lines of `diff -u`'s output (no line ends); none when the sides are equal."""
    out: list[str] = []
    for group in _hunks(opcodes(a, b)):
        if not out:
            out += [f"--- {fromfile}", f"+++ {tofile}"]
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in a[i1:i2]]
                continue
            out += ["-" + line for line in a[i1:i2]]
            out += ["+" + line for line in b[j1:j2]]
    return out
