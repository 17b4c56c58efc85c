"""The module layering of docs/ARCHITECTURE.md is what the code does: every module imports only
modules of lower layers, and Package.swift declares exactly the project modules each one imports.
The layer table is read from ARCHITECTURE.md itself, so the document and the code cannot drift
apart without this test failing."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"


def documented_layers() -> dict[str, int]:
    """Module name -> layer number, from the `| layer | modules |` table of ARCHITECTURE.md."""
    layers: dict[str, int] = {}
    for line in ARCHITECTURE.read_text().splitlines():
        match = re.fullmatch(r"\|\s*(\d+)\s*\|([^|]+)\|.*", line.strip())
        if match:
            for module in re.findall(r"`(\w+)`", match.group(2)):
                layers[module] = int(match.group(1))
    assert layers, "ARCHITECTURE.md has no layer table"
    return layers


def source_modules() -> dict[str, Path]:
    return {path.name: path for path in sorted((REPO / "Sources").iterdir()) if path.is_dir()}


def imports(module_dir: Path, project: set[str]) -> set[str]:
    found: set[str] = set()
    for path in module_dir.rglob("*"):
        if path.suffix not in (".swift", ".c", ".h", ".modulemap"):
            continue
        text = path.read_text()
        found |= set(re.findall(r"^\s*(?:@testable\s+|@_exported\s+)?import\s+(\w+)", text, re.M))
    return found & project


def target_blocks(text: str):
    """(kind, body) of every `.target(…)`-like call in Package.swift, parentheses balanced."""
    for match in re.finditer(r"\.(target|executableTarget|systemLibrary|testTarget)\(", text):
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        yield match.group(1), text[match.end():end - 1]


def declared_dependencies(tests: bool = False) -> dict[str, set[str]]:
    """Each Sources target's dependencies (or each test target's, with `tests`) as Package.swift
    declares them: every quoted name in its `dependencies:`; products of other packages are
    filtered out by the caller."""
    declared: dict[str, set[str]] = {}
    for kind, body in target_blocks((REPO / "Package.swift").read_text()):
        name = re.search(r"name:\s*\"(\w+)\"", body).group(1)
        if (kind == "testTarget") != tests or (not tests and "path:" in body):  # fuzz, test support
            continue
        deps = re.search(r"dependencies:\s*\[(.*)\]", body, re.S)
        declared[name] = set(re.findall(r"\"(\w+)\"", deps.group(1))) if deps else set()
    return declared


def test_every_module_is_in_the_documented_layers():
    layers = documented_layers()
    modules = set(source_modules())
    assert modules == set(layers), (
        f"modules missing from ARCHITECTURE.md: {sorted(modules - set(layers))}; "
        f"documented but absent: {sorted(set(layers) - modules)}")


def test_no_module_imports_one_at_its_layer_or_above():
    layers = documented_layers()
    project = set(source_modules())
    wrong = []
    for module, path in source_modules().items():
        for imported in sorted(imports(path, project) - {module}):
            if layers[imported] >= layers[module]:
                wrong.append(f"{module} (layer {layers[module]}) imports {imported} (layer {layers[imported]})")
    assert not wrong, "imports against the documented layering:\n" + "\n".join(wrong)


def test_package_swift_declares_exactly_what_each_module_imports():
    project = set(source_modules())
    declared = declared_dependencies()
    problems = []
    for module, path in source_modules().items():
        if module not in declared:
            problems.append(f"{module} is not a target in Package.swift")
            continue
        used = imports(path, project) - {module}
        deps = declared[module] & project
        if used - deps:
            problems.append(f"{module} imports {sorted(used - deps)} without declaring them")
        if deps - used:
            problems.append(f"{module} declares {sorted(deps - used)} but never imports them")
    assert not problems, "\n".join(problems)


def test_test_targets_declare_what_they_import():
    """A test that imports a module its target does not declare builds only when something else
    happened to build that module first: a clean build fails."""
    project = set(source_modules()) | {"TestSupport"}
    problems = []
    for target, deps in declared_dependencies(tests=True).items():
        path = REPO / "Tests" / target
        if not path.is_dir():
            continue
        used = imports(path, project)
        if used - deps:
            problems.append(f"{target} imports {sorted(used - deps)} without declaring them")
    assert not problems, "\n".join(problems)
