#!/usr/bin/env python3
"""Import cycles between the runtime's top-level modules.

Reads every `crate::<module>` path in mqless-runtime/src (comments and doc comments
ignored), draws an edge from the top-level module of the file to the module it names,
and finds the cycles: the runtime's modules form layers (docs/design.md), and a cycle is
a layer that reaches up.

The cycles that existed when this check was written are listed, edge by edge, in
scripts/module-cycles.allowed, to be taken apart (issue #26). It exits 1 when a cycle
holds an edge that is not listed (a new one), or when a listed edge no longer closes a
cycle (remove it from the list, so it cannot come back unseen).

Usage: scripts/module_cycles.py [path/to/src]
"""
import os
import re
import sys

PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
# `use crate::{a, b::c}` groups name several modules at once.
GROUP = re.compile(r"\bcrate::\{([^}]*)\}", re.S)


def module_of(src, path):
    rel = os.path.relpath(path, src)
    top = rel.split(os.sep)[0]
    return top[:-3] if top.endswith(".rs") else top


def code_only(text):
    # Line comments (incl. doc comments), then block comments.
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def edges(src):
    graph = {}
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            here = module_of(src, path)
            if here == "lib":
                continue
            code = code_only(open(path, encoding="utf-8").read())
            named = set(PATH.findall(code))
            for group in GROUP.findall(code):
                for item in group.split(","):
                    item = item.strip()
                    if item:
                        named.add(re.split(r"[:\s{]", item)[0])
            for target in named:
                if target != here and target not in ("self", "super"):
                    graph.setdefault(here, {}).setdefault(target, set()).add(os.path.relpath(path, src))
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def allowed_edges(path):
    if not os.path.exists(path):
        return set()
    lines = (line.split("#")[0].strip() for line in open(path, encoding="utf-8"))
    return {tuple(part.strip() for part in line.split("->")) for line in lines if line}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "mqless-runtime", "src")
    graph = edges(src)
    in_cycles = {}
    for component in cycles(graph):
        for a in component:
            for b in component:
                if b in graph.get(a, {}):
                    in_cycles[(a, b)] = sorted(graph[a][b])
    allowed = allowed_edges(os.path.join(here, "module-cycles.allowed"))
    new = sorted(set(in_cycles) - allowed)
    gone = sorted(allowed - set(in_cycles))
    for (a, b) in sorted(in_cycles):
        mark = "new " if (a, b) in new else "    "
        print(f"{mark}{a} -> {b}: {', '.join(in_cycles[(a, b)])}")
    if new:
        print(f"\n{len(new)} new import edge(s) close a cycle between the runtime's modules: "
              "import from a lower layer only (docs/design.md, Layers), or move the item down")
    if gone:
        print("\nthese edges no longer close a cycle; remove them from scripts/module-cycles.allowed: "
              + ", ".join(f"{a} -> {b}" for a, b in gone))
    if new or gone:
        sys.exit(1)
    print(f"no new import cycle between the top-level modules ({len(in_cycles)} listed edges left to take apart)")


if __name__ == "__main__":
    main()
