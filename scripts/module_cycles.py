#!/usr/bin/env python3
"""Import cycles between the runtime's top-level modules.

Reads every `crate::<module>` path in mqless-runtime/src (comments and doc comments
ignored), draws an edge from the top-level module of the file to the module it names,
and prints each cycle. Exits 1 when there is one: the runtime's modules form layers
(docs/design.md), and a cycle is a layer that reaches up.

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


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "mqless-runtime", "src")
    graph = edges(src)
    found = cycles(graph)
    if not found:
        print(f"no import cycle between the top-level modules of {os.path.normpath(src)}")
        return
    for component in found:
        print("cycle between: " + ", ".join(component))
        for a in component:
            for b in component:
                if b in graph.get(a, {}):
                    print(f"  {a} -> {b}: {', '.join(sorted(graph[a][b]))}")
    sys.exit(1)


if __name__ == "__main__":
    main()
