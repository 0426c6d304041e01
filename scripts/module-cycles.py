#!/usr/bin/env python3
"""Lists import cycles between the top-level modules of a crate (`crate::a` used in module b and
`crate::b` in module a, or longer loops). ARCHITECTURE.md promises none in the server; CI runs this
on crates/server/src and fails on any cycle. Usage: scripts/module-cycles.py crates/server/src"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "crates/server/src")
mods = {}
for f in root.rglob("*.rs"):
    rel = f.relative_to(root)
    top = rel.parts[0].removesuffix(".rs")
    if top in ("lib", "main"):
        continue
    text = re.sub(r"//[^\n]*", "", f.read_text())
    deps = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text))
    mods.setdefault(top, set()).update(d for d in deps if d != top)
edges = {m: {d for d in ds if d in mods} for m, ds in mods.items()}

# strongly connected components (Tarjan)
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in sorted(edges[v]):
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1:
            sccs.append(sorted(comp))
for v in sorted(edges):
    if v not in index:
        visit(v)
for m in sorted(edges):
    print(f"{m} -> {' '.join(sorted(edges[m])) or '(nothing)'}")
if sccs:
    for c in sccs:
        print("cycle among:", ", ".join(c), file=sys.stderr)
    sys.exit(1)
print("no cycles")
