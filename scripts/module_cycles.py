#!/usr/bin/env python3
"""Import cycles between the runtime's top-level modules.

Reads every `crate::<module>` path in mqless-runtime/src (comments and doc comments
ignored), draws an edge from the top-level module of the file to the module it names,
and finds the cycles: the runtime's modules form layers (docs/design.md), and a cycle is
a layer that reaches up.

It exits 1 on any cycle, naming the files that hold each edge of it; otherwise it prints
the layers the imports imply, bottom up (docs/design.md names the same).

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


def layers(graph):
    """The modules by height: a module sits one above the highest module it imports."""
    height = {}

    def visit(v):
        if v not in height:
            height[v] = 0
            height[v] = 1 + max((visit(w) for w in graph.get(v, {})), default=-1)
        return height[v]

    for v in list(graph):
        visit(v)
    by_height = {}
    for v, h in height.items():
        by_height.setdefault(h, []).append(v)
    return [sorted(by_height[h]) for h in sorted(by_height)]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "mqless-runtime", "src")
    graph = edges(src)
    found = cycles(graph)
    for component in found:
        print("import cycle between " + ", ".join(component) + ":")
        for a in component:
            for b in component:
                if b in graph.get(a, {}):
                    print(f"    {a} -> {b}: {', '.join(sorted(graph[a][b]))}")
    if found:
        print("\nimport from a lower layer only (docs/design.md, Layers), or move the item down")
        sys.exit(1)
    print("no import cycle between the runtime's top-level modules; layers, bottom up:")
    for level, modules in enumerate(layers(graph)):
        print(f"  {level}: {', '.join(modules)}")


if __name__ == "__main__":
    main()
