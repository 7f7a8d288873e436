#!/usr/bin/env python3
"""Fails when the files of a crate import each other in a circle.

A file is a module (`src/a/b.rs` or `src/a/b/mod.rs` is `a::b`). An import is a path in a `use` item or an inline
`crate::…`/`super::…` path, resolved to the deepest module file it names; the modules a file declares (`mod x;`)
are not imports, nor are the crate root's uses (it wires every room), nor anything under `#[cfg(test)]` (tests
may look at every room). A circle means a
reader cannot understand one room without the other, and that a change in one can ripple back into itself.

    scripts/check-import-cycles.py [CRATE_SRC_DIR ...]   (default: every crates/*/src)
"""

import glob
import os
import re
import sys

USE_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M | re.S)
INLINE_RE = re.compile(r"\b((?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("lib", "main", "mod"):
        rel = rel[:-1]
    return tuple(rel)


def strip_tests(text):
    """The file without `#[cfg(test)]` items (a `mod tests { … }` block, a `mod tests;` line)."""
    out, i = [], 0
    while True:
        j = text.find("#[cfg(test)]", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = j + len("#[cfg(test)]")
        semi, brace = text.find(";", k), text.find("{", k)
        if brace < 0 or (0 <= semi < brace):
            i = semi + 1
            continue
        depth, k = 0, brace
        while k < len(text):
            depth += {"{": 1, "}": -1}.get(text[k], 0)
            k += 1
            if depth == 0:
                break
        i = k


def expand(tree):
    """`a::{b, c::{d, e}}` → ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    depth, head = 0, None
    for i, ch in enumerate(tree):
        if ch == "{" and depth == 0:
            head = i
            break
        depth += {"{": 1, "}": -1}.get(ch, 0)
    if head is None:
        return [re.sub(r"\bas\w+$", "", tree)]
    prefix, inner = tree[:head], tree[head + 1 : tree.rindex("}")]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return [p for part in parts if part for p in expand(prefix + part)]


def resolve(segments, here, modules):
    """The deepest module a path names, or None for a path outside the crate."""
    if segments[0] == "crate":
        base, rest = (), segments[1:]
    elif segments[0] in ("self", "super"):
        base = here
        rest = list(segments)
        while rest and rest[0] in ("self", "super"):
            if rest.pop(0) == "super":
                base = base[:-1]
    elif here + (segments[0],) in modules:
        base, rest = here, segments
    else:
        return None
    target = base
    for seg in rest:
        if target + (seg,) in modules:
            target = target + (seg,)
        else:
            break
    return target


def cycles(src):
    files = {module_of(src, p): p for p in glob.glob(os.path.join(src, "**", "*.rs"), recursive=True)}
    modules = set(files)
    edges = {m: set() for m in modules}
    for mod, path in files.items():
        if mod and mod[-1] == "tests":
            continue
        with open(path, encoding="utf-8") as f:
            text = strip_tests(f.read())
        text = re.sub(r"//[^\n]*", "", text)
        paths = [p for tree in USE_RE.findall(text) for p in expand(tree)]
        paths += INLINE_RE.findall(text)
        for p in paths:
            target = resolve(p.split("::"), mod, modules)
            # the crate root declares and wires every room; its uses of them are not imports between rooms
            if target is not None and target != mod and mod != ():
                edges[mod].add(target)
    # Tarjan's strongly connected components
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(os.path.relpath(files[m]) for m in comp))

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    return out


def main():
    srcs = sys.argv[1:] or sorted(glob.glob("crates/*/src"))
    status = 0
    for src in srcs:
        found = cycles(src)
        for comp in found:
            print(f"import-cycles: {len(comp)} files import each other in a circle: {' '.join(comp)}", file=sys.stderr)
            status = 1
        if not found:
            print(f"import-cycles: {src} has no import circle")
    return status


if __name__ == "__main__":
    sys.exit(main())
