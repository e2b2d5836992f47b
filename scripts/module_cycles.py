#!/usr/bin/env python3
"""Module cycles in one crate: which top-level modules use which (`crate::x`
paths, test code left out), and the groups that use each other.

    python3 scripts/module_cycles.py shared/platforms/src [--graph]

A top-level module is a file or folder beside lib.rs; its files are all
under it. `crate::Name` for a name the crate root re-exports counts as a
use of the module it comes from. Items under `#[cfg(test)]` (a test module
or a test-only item) are skipped. Exits 1 when there is a cycle.
"""

import re
import sys
from pathlib import Path

# Matched in place (pattern.match(text, pos)): slicing the text at every
# position made a crate's scan quadratic.
RAW = re.compile(r'b?r(#*)"')
CHAR = re.compile(r"'(\\.|\\u\{[0-9a-fA-F]+\}|\\x..|[^\\'])'")
WORD = re.compile(r"\w+")
NEST = re.compile(r"/\*|\*/")
NEXT = re.compile(r'/[/*]|"|\'|\bb?r#*"')


def strip(src):
    """The source with comments, strings and chars blanked (braces and
    `crate::` inside them no longer count), lines kept."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while depth and (m := NEST.search(src, j)):
                depth, j = depth + (1 if m.group() == "/*" else -1), m.end()
            if depth:
                j = n
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c in "br" and (m := RAW.match(src, i)) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = '"' + m.group(1)
            j = src.find(end, m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            text = src[i : j + 1]
            # A path in an attribute (`deserialize_with = "crate::x::f"`) is a use.
            kept = text[1:-1] if re.fullmatch(r'"crate::[\w:]+"', text) else ""
            out.append(kept + re.sub(r"[^\n]", " ", text[len(kept) :]))
            i = j + 1
        elif c == "'" and (m := CHAR.match(src, i)):
            out.append(" " * (m.end() - i))
            i = m.end()
        else:
            # Straight to the next place a comment, string or char may start.
            m = NEXT.search(src, i + 1)
            j = m.start() if m else n
            out.append(src[i:j])
            i = j
    return "".join(out)


def drop_test_items(code):
    """`code` without the items under `#[cfg(test)]`, and the names of the
    file modules declared test-only (`#[cfg(test)] mod x;`)."""
    test_mods = set()
    out = []
    i = 0
    pat = re.compile(r"#\[cfg\((?:test|all\(test\b[^\]]*\))\)\]")
    while True:
        m = pat.search(code, i)
        if not m:
            out.append(code[i:])
            break
        out.append(code[i : m.start()])
        j = m.end()
        semi = code.find(";", j)
        brace = code.find("{", j)
        if semi >= 0 and (brace < 0 or semi < brace):
            decl = re.match(r"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code[j : semi + 1])
            if decl:
                test_mods.add(decl.group(1))
            end = semi + 1
        else:
            depth, k = 0, brace
            while k < len(code):
                if code[k] == "{":
                    depth += 1
                elif code[k] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            end = k + 1
        out.append(re.sub(r"[^\n]", " ", code[m.start() : end]))
        i = end
    return "".join(out), test_mods


def crate_paths(code):
    """Every path that starts at `crate::`, grouped imports expanded."""
    paths = []
    for m in re.finditer(r"\bcrate::", code):
        j = m.end()
        if code.startswith("{", j):
            depth, k = 0, j
            while k < len(code):
                depth += {"{": 1, "}": -1}.get(code[k], 0)
                if depth == 0:
                    break
                k += 1
            inner = code[j + 1 : k]
            # Top-level entries of the group: split on commas at depth 0.
            depth, start = 0, 0
            for k2, ch in enumerate(inner + ","):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                elif ch == "," and depth == 0:
                    entry = inner[start:k2].strip()
                    if entry:
                        paths.append(re.match(r"[\w]+", entry).group(0) if re.match(r"\w", entry) else entry)
                    start = k2 + 1
        else:
            w = WORD.match(code, j)
            if w:
                paths.append(w.group(0))
    return paths


def root_reexports(lib_code, modules):
    """Names the crate root re-exports, mapped to the module they come
    from (None: from another crate)."""
    names = {}
    for m in re.finditer(r"pub\s+use\s+([^;]+);", lib_code):
        body = re.sub(r"\s+", " ", m.group(1)).strip()
        g = re.match(r"(?:crate::|self::)?(\w+)(.*)$", body)
        head, rest = g.group(1), g.group(2)
        source = head if head in modules else None
        group = re.search(r"\{(.*)\}", rest)
        items = group.group(1).split(",") if group else [body]
        for item in items:
            item = item.strip()
            if not item:
                continue
            alias = re.search(r"\bas\s+(\w+)$", item)
            name = alias.group(1) if alias else re.findall(r"\w+", item)[-1]
            names[name] = source
    return names


def module_of(path, src):
    rel = path.relative_to(src)
    return rel.parts[0].removesuffix(".rs")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show = "--graph" in sys.argv
    src = Path(args[0] if args else "shared/platforms/src")
    lib = src / "lib.rs"
    lib_code, _ = drop_test_items(strip(lib.read_text()))
    modules = set(re.findall(r"^[ \t]*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", lib_code, re.M))
    reexports = root_reexports(lib_code, modules)
    root_items = re.findall(r"^[ \t]*(?:pub(?:\([^)]*\))?\s+)?(?:fn|struct|enum|const|static|trait|type)\s+(\w+)", lib_code, re.M)
    edges = {m: set() for m in modules}
    unknown = set()
    test_files = set()
    files = sorted(p for p in src.rglob("*.rs") if p != lib)
    parsed = {}
    for f in files:
        code, test_mods = drop_test_items(strip(f.read_text()))
        parsed[f] = code
        base = f.parent if f.name == "mod.rs" else f.with_suffix("")
        for t in test_mods:
            test_files.update({base / f"{t}.rs", base / t / "mod.rs"})
    # Names reached through a glob re-export (`pub use model::*`) or an
    # exported macro (`crate::name!`): the module that defines them.
    globs = set(re.findall(r"pub\s+use\s+(?:crate::|self::)?(\w+)::\*\s*;", lib_code)) & modules
    defined = {}
    for f in files:
        m = module_of(f, src)
        for name in re.findall(r"^[ \t]*(?:pub(?:\([^)]*\))?\s+)?(?:fn|struct|enum|const|static|trait|type)\s+(\w+)", parsed[f], re.M):
            if m in globs:
                defined.setdefault(name, m)
        for name in re.findall(r"macro_rules!\s*(\w+)", parsed[f]):
            defined.setdefault(name, m)
    for f in files:
        if f in test_files or any(t.parent / t.stem in f.parents for t in test_files if t.name != "mod.rs"):
            continue
        a = module_of(f, src)
        for name in crate_paths(parsed[f]):
            b = name if name in modules else reexports.get(name, "?")
            if b == "?":
                if name in root_items:
                    b = "<root>"
                elif name in defined:
                    b = defined[name]
                else:
                    unknown.add((str(f), name))
                    continue
            if b and b != a:
                edges.setdefault(a, set()).add(b)
    if root_items:
        print(f"note: the crate root defines items ({', '.join(root_items)}); it counts as module <root>")
        edges.setdefault("<root>", set()).update(v for v in reexports.values() if v)
    for f, name in sorted(unknown):
        print(f"unresolved: crate::{name} in {f}")

    # Tarjan's strongly connected components.
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
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
            sccs.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    if show:
        for a in sorted(edges):
            print(f"{a} -> {', '.join(sorted(edges[a])) or '-'}")
    cycles = [c for c in sccs if len(c) > 1]
    for c in cycles:
        print("cycle:", " <-> ".join(c))
        for a in c:
            print(f"  {a} uses {', '.join(sorted(b for b in edges[a] if b in c))}")
    if not cycles:
        print(f"no module cycle among {len(edges)} modules")
    sys.exit(1 if cycles or unknown else 0)


if __name__ == "__main__":
    main()
