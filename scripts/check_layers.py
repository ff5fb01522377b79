#!/usr/bin/env python3
"""Checks that bigint-x86's modules import only downward (bigint-x86/README.md, "Layers").

Each source file belongs to a layer (LAYERS, bottom first); every `crate::` path in its
code (comments and `#[cfg(test)]` items excluded: tests may compare across layers) must
name a module of its own layer or a lower one. Exits 1 and names each upward reference.
Run from the repository root: `python3 scripts/check_layers.py`.
"""
import pathlib
import re
import sys

# Bottom first. A module path's first component (or, for backends, the file) decides.
LAYERS = ["word", "ct", "uint", "monty", "oakley_prime", "form", "backends", "paths",
          "pow", "multi", "oakley"]
# The crate root's re-exports, by the module that defines them.
ROOT_NAMES = {"Word": "word", "LIMBS": "word", "LANES": "word", "U768": "uint",
              "BYTES": "uint", "MontyParams": "monty", "SecretExponent": "monty",
              "Backend": "paths", "OnThisCpu": "paths", "Paths": "word",
              "MultiBackend": "multi"}
SRC = pathlib.Path("bigint-x86/src")


def layer_of_file(path):
    top = path.relative_to(SRC).parts[0].removesuffix(".rs")
    return None if top == "lib" else top


def code_lines(text):
    """The lines outside comments and outside `#[cfg(test)]` items."""
    skip_depth = None
    depth = 0
    pending_test = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        if stripped.startswith("#[cfg(") and "test" in stripped and "not(test" not in stripped:
            pending_test = True
            continue
        opens, closes = line.count("{"), line.count("}")
        if pending_test and skip_depth is None and (opens or stripped.endswith(";")):
            pending_test = False
            if opens > closes:
                skip_depth = depth
            depth += opens - closes
            continue
        depth += opens - closes
        if skip_depth is not None:
            if depth <= skip_depth:
                skip_depth = None
            continue
        yield line


def main():
    bad = []
    for path in sorted(SRC.rglob("*.rs")):
        own = layer_of_file(path)
        if own is None or path.name.endswith("_tests.rs"):
            continue
        for line in code_lines(path.read_text()):
            for m in re.finditer(r"crate::(\{[^}]*\}|[A-Za-z_0-9]+)", line):
                names = re.findall(r"[A-Za-z_0-9]+", m.group(1))
                for name in names[:1] if not m.group(1).startswith("{") else names:
                    target = ROOT_NAMES.get(name, name)
                    if target in ("self", "super"):
                        continue
                    if target not in LAYERS:
                        bad.append(f"{path}: crate::{name}: not a known layer")
                    elif LAYERS.index(target) > LAYERS.index(own):
                        bad.append(f"{path}: imports {target} (above {own}): {line.strip()}")
    for b in bad:
        print(b)
    if bad:
        sys.exit(1)
    print(f"bigint-x86 layers: every import points down ({' < '.join(LAYERS)})")


main()
