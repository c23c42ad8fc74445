"""The rules of docs/architecture.md, checked on the source: which part may import which, and which
private names a part may touch.

Every import of a mimocorb module is collected with ``ast`` — absolute and relative, at module level,
inside functions and under ``TYPE_CHECKING`` — together with ``importlib.import_module`` and
``find_spec`` calls that name a mimocorb module in a string. The table of allowed imports is read from
docs/architecture.md itself, so the document and this test cannot drift apart.

A part's private names (``_name``) are its own: another part reaches an object only through public
names, so the part can change its inside without breaking its users. Without types, the check goes by
name: ``x._name`` inside a part is an error when ``_name`` is defined somewhere in the package but not
in that part.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "mimocorb"
DOC = REPO / "docs" / "architecture.md"
TABLE_HEADING = "## Which part may import which"

CORE_PARTS = ("ring", "workers", "io", "run", "display", "config", "net", "web")
COMPATIBILITY_MODULES = (
    "activity_logger",
    "bufferinfoGUI",
    "buffer_control",
    "mimo_buffer",
    "plot_buffer",
    "histogram_buffer",
    "parquetReader",
    "pulseSimulator",
)
# ``mimocorb.io`` is the public name of the recording part (setups name ``mimocorb.io.replay``); it is only
# ever reached as ``mimocorb.io``, so it cannot be mistaken for the standard ``io``.
STDLIB_NAMES_ALLOWED = {"io"}
DYNAMIC_IMPORTERS = {"import_module", "find_spec", "__import__"}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. mimocorb.run.controller
    target: str  # the imported mimocorb module, e.g. mimocorb.ring
    line: int

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of the package at ``root``; symlinked folders (the examples,
    which are user code) are not part of it."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not (Path(folder) / d).is_symlink() and d != "__pycache__")
        for name in files:
            if name.endswith(".py"):
                path = Path(folder) / name
                parts = [root.name, *path.relative_to(root).with_suffix("").parts]
                if parts[-1] == "__init__":
                    parts.pop()
                found[".".join(parts)] = path
    return found


def imports(root: Path) -> list[Import]:
    known = modules(root)
    found = []
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in _targets(node, package, known):
                if target == root.name or target.startswith(root.name + "."):
                    found.append(Import(module, target, node.lineno))  # type: ignore[attr-defined]
    return found


def _targets(node: ast.AST, package: str, known: dict[str, Path]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            base = f"{base}.{node.module}" if node.module else base
        else:
            base = node.module or ""
        for alias in node.names:  # a submodule if there is one of that name, else a name in ``base``
            yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
    elif isinstance(node, ast.Call) and node.args:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0]
        if name in DYNAMIC_IMPORTERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value


def part(module: str) -> str:
    """``mimocorb`` for the package itself, else the first name below it (``mimocorb.run.gui`` -> ``run``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def part_imports(root: Path) -> dict[str, dict[str, Import]]:
    """part -> other part -> one import that shows it."""
    edges: dict[str, dict[str, Import]] = {part(m): {} for m in modules(root)}
    for imp in imports(root):
        source, target = part(imp.module), part(imp.target)
        if source != target:
            edges[source].setdefault(target, imp)
    return edges


def table_of(doc: Path) -> dict[str, set[str]]:
    """The rows of the table under ``TABLE_HEADING``: part(s) in backticks | parts it may import, or —."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    start = lines.index(TABLE_HEADING)
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    table: dict[str, set[str]] = {}
    for cells in rows[2:]:  # after the header and the |---| line
        allowed = set(re.findall(r"`([^`]+)`", cells[1]))
        for name in re.findall(r"`([^`]+)`", cells[0]):
            assert name not in table, f"{doc.name}: part {name} has two rows"
            table[name] = allowed
    return table


def violations(root: Path, table: dict[str, set[str]]) -> list[str]:
    """Everything in which the code and the table disagree, in words."""
    edges = part_imports(root)
    problems = [f"part {r} is not in the table of {DOC.name}" for r in sorted(set(edges) - set(table))]
    problems += [f"the table names part {r}, which does not exist" for r in sorted(set(table) - set(edges))]
    for source, targets in sorted(edges.items()):
        allowed = table.get(source, set())
        problems += [
            f"not allowed: {imp}" for target, imp in sorted(targets.items()) if target not in allowed
        ]
        problems += [
            f"the table allows {source} -> {target}, but nothing there imports {target}: remove it"
            for target in sorted(allowed - set(targets))
        ]
    return problems


def is_private(name: str) -> bool:
    """``_name`` and ``__name``, not ``__dunder__``."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@dataclass
class Names:
    """The private names defined in one part: of its objects (methods, class attributes, attributes of
    ``self``/``cls``, ``__slots__``) and of its modules (module-level names, the modules themselves)."""

    members: set[str]
    globals: set[str]


def _top_level(tree: ast.Module) -> Iterator[ast.AST]:
    """The statements of a module outside any function or class (inside ``if`` and ``try`` too)."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            todo.extend(n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt))


def _bound(node: ast.AST) -> Iterator[str]:
    """The names a statement binds: a function, a class, assignment targets, imports."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        yield from (n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        yield from (alias.asname or alias.name.partition(".")[0] for alias in node.names)


def _members(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                yield from _bound(statement)
                if "__slots__" in _bound(statement):
                    value = statement.value  # type: ignore[attr-defined]
                    yield from (c.value for c in ast.walk(value) if isinstance(c, ast.Constant))
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _is_self(node.value):
            yield node.attr


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _used(node: ast.AST) -> tuple[ast.expr, str] | None:
    """The object and the attribute name of ``obj.name`` or ``getattr(obj, "name")`` and its kin."""
    if isinstance(node, ast.Attribute):
        return node.value, node.attr
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("getattr", "setattr", "hasattr"):
        name = node.args[1] if len(node.args) > 1 else None
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            return node.args[0], name.value
    return None


def _made_elsewhere(tree: ast.Module, module: str, root: Path) -> dict[str, str]:
    """``name`` or ``self.name`` -> the other part whose class made it (``self.sink = Writer(setup)``):
    whatever the name, such an object's private names are not this part's."""
    known = modules(root)
    package = module if known[module].name == "__init__.py" else module.rpartition(".")[0]
    classes = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                one = ast.ImportFrom(module=node.module, names=[alias], level=node.level)
                target = next(_targets(one, package, known))
                if target.startswith(root.name + ".") and part(target) != part(module):
                    classes[alias.asname or alias.name] = part(target)
    made = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            owner = classes.get(getattr(node.value.func, "id", ""))
            if owner is not None:
                made.update((ast.unparse(target), owner) for target in node.targets)
    return made


def _parsed(root: Path) -> Iterator[tuple[str, ast.Module]]:
    for module, path in modules(root).items():
        yield module, ast.parse(path.read_text(encoding="utf-8"), str(path))


def private_definitions(root: Path) -> dict[str, Names]:
    """part -> the private names defined in it."""
    defined: dict[str, Names] = defaultdict(lambda: Names(set(), set()))
    for module, tree in _parsed(root):
        names = defined[part(module)]
        names.members.update(n for n in _members(tree) if is_private(n))
        names.globals.update(n for n in module.split(".") if is_private(n))
        names.globals.update(n for s in _top_level(tree) for n in _bound(s) if is_private(n))
    return defined


def private_accesses(root: Path) -> list[str]:
    """Every use of a private name that is defined in other parts only, or of an object another part's
    class made, in words. ``module._name`` is looked up among the names of modules, ``obj._name`` among
    those of objects."""
    defined = private_definitions(root)
    problems = []
    for module, tree in _parsed(root):
        imported = {
            n for s in ast.walk(tree) if isinstance(s, (ast.Import, ast.ImportFrom)) for n in _bound(s)
        }
        made = _made_elsewhere(tree, module, root)
        for node in ast.walk(tree):
            used = _used(node)
            if used is None or not is_private(used[1]):
                continue
            obj, name = used
            line = node.lineno  # type: ignore[attr-defined]
            if ast.unparse(obj) in made:
                problems.append(
                    f"{module} (line {line}) uses {name} of an object of {made[ast.unparse(obj)]}"
                )
                continue
            kind = "globals" if isinstance(obj, ast.Name) and obj.id in imported else "members"
            if name in getattr(defined[part(module)], kind):
                continue
            owners = sorted(p for p, names in defined.items() if name in getattr(names, kind))
            if owners:
                problems.append(f"{module} (line {line}) uses {name}, private to {', '.join(owners)}")
    return sorted(problems)


# ------------------------------------------------------------------------------------------ the rules ----
def test_core_parts_never_import_the_compatibility_modules():
    bad = [
        str(i)
        for i in imports(PACKAGE)
        if part(i.target) in COMPATIBILITY_MODULES and part(i.module) not in COMPATIBILITY_MODULES
    ]
    assert not bad, "only compatibility modules may import compatibility modules:\n" + "\n".join(bad)
    core = {part(m) for m in modules(PACKAGE)} & set(CORE_PARTS)
    assert {"ring", "workers", "io", "run", "display", "config"} <= core


def test_ring_imports_nothing_outside_ring():
    bad = [str(i) for i in imports(PACKAGE) if part(i.module) == "ring" and part(i.target) != "ring"]
    assert not bad, "\n".join(bad)


def test_part_imports_match_the_table_in_the_architecture_document():
    problems = violations(PACKAGE, table_of(DOC))
    assert not problems, f"code and {DOC.relative_to(REPO)} disagree:\n" + "\n".join(problems)


def test_the_parts_of_the_run_do_not_know_the_controller():
    """The controller builds the end sequence, the summary, the supervisor...; none of them imports it back
    (not even for type hints), so each can be read and tested on its own."""
    users = {"mimocorb.run", "mimocorb.run.launch"}  # the package's lazy names, and the way to a controller
    bad = [
        str(i)
        for i in imports(PACKAGE)
        if i.target == "mimocorb.run.controller" and part(i.module) == "run" and i.module not in users
    ]
    assert not bad, "\n".join(bad)


def test_no_module_shadows_the_standard_library():
    names = {name.rpartition(".")[2]: name for name in modules(PACKAGE)}
    bad = sorted(full for short, full in names.items() if short in sys.stdlib_module_names)
    bad = [full for full in bad if full.rpartition(".")[2] not in STDLIB_NAMES_ALLOWED]
    assert not bad, f"named like a standard-library module: {bad}"


def test_inside_the_package_the_ring_class_has_its_own_name():
    """``NewBuffer`` is the name of mimoCoRB 1.0.2; only the compatibility modules serving that API say it."""
    bad = [
        f"{name} (line {n})"
        for name, path in modules(PACKAGE).items()
        if part(name) not in COMPATIBILITY_MODULES
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bimport\b.*\bNewBuffer\b|\bNewBuffer\(", line)
    ]
    assert not bad, bad


def test_no_part_touches_the_private_names_of_another():
    """A ring object, a worker slot...: from another part only through their public names."""
    problems = private_accesses(PACKAGE)
    assert not problems, "private names used outside their part:\n" + "\n".join(problems)


# ------------------------------------------------------------- the checker finds what it is meant to ----
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "mimocorb"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    "statement",
    [
        "from ..buffer_control import rbImport",  # relative, module level
        "import mimocorb.buffer_control",  # absolute
        "def f():\n    from mimocorb import buffer_control",  # inside a function, from the package
        "if TYPE_CHECKING:\n    from ..buffer_control import run_mimoDAQ",
        "import importlib\nimportlib.import_module('mimocorb.buffer_control')",
    ],
)
def test_the_checker_sees_every_form_of_import(tmp_path, statement):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "buffer_control.py": "from .ring import Ring\n",
            "ring/__init__.py": "from ._core import Ring\n",
            "ring/_core.py": "class Ring: ...\n",
            "run/__init__.py": "",
            "run/controller.py": f"from ..ring import Ring\n{statement}\n",
        },
    )
    table = {"mimocorb": set(), "ring": set(), "run": {"ring"}, "buffer_control": {"ring"}}
    [problem] = violations(root, table)
    assert re.fullmatch(
        r"not allowed: mimocorb\.run\.controller \(line \d\) imports mimocorb\.buffer_control", problem
    )
    table["run"].add("buffer_control")
    assert violations(root, table) == []
    table["ring"].add("run")
    assert violations(root, table) == [
        "the table allows ring -> run, but nothing there imports run: remove it"
    ]


def test_the_private_name_check_tells_a_part_s_own_names_from_another_s(tmp_path):
    ring = """
class Ring:
    __slots__ = ("_held", "_count")

    def __init__(self):
        self._count = 0

    def _claim(self):
        return self._count

    def _commit(self):
        return 1


def _helper(ring):
    return ring._claim(), ring._held
"""
    link = """
import os

from ..ring._core import Ring


class Link:
    def __init__(self, ring):
        self._ring = ring
        self._count = self._own = 1
        self._made = Ring()
        self._made._own

    def poll(self, other):
        os._exit(other._count + len(self._ring.__dict__))
        return self._ring._claim(), getattr(other, "_held"), _commit(other)


def _commit(ring):
    return ring._commit()
"""
    root = _package(
        tmp_path, {"__init__.py": "", "ring/__init__.py": "", "ring/_core.py": ring, "net/link.py": link}
    )
    # ``_count`` is also an attribute in net: by name alone it cannot be told apart, so it passes; net's
    # function ``_commit`` is no attribute, so ring's method ``_commit`` stays ring's
    # ``_own`` is net's name too, but ``self._made`` is an object of ring: net has no business there
    assert private_accesses(root) == [
        "mimocorb.net.link (line 12) uses _own of an object of ring",
        "mimocorb.net.link (line 16) uses _claim, private to ring",
        "mimocorb.net.link (line 16) uses _held, private to ring",
        "mimocorb.net.link (line 20) uses _commit, private to ring",
    ]
