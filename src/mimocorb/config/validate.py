"""Every check a setup must pass before any buffer is created or any process is started.

A DAQ run that fails after its workers started leaves half-filled buffers and processes to clean up, and
a mistake found only then costs the user a run.  So everything that can be known up front is checked
here, all problems are collected, and they are reported together with file, line and key path.

Relative paths (``file_name``, ``config_file``, ``output_directory``) resolve against the current working
directory as in mimoCoRB; when nothing exists there, the setup file's directory is tried.  The base that
was used is kept in every ``ResolvedPath``.
"""

from __future__ import annotations

import errno
import inspect
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from ..alarms import AlarmSpec
from ..history.settings import HistorySettings
from ..web.access import parse_address
from .alarms import setup_alarms
from .diagnostics import KeysAt, describe, schema_issues, suggest
from .errors import ConfigError, Issue, Severity
from .links import links_of, loopback_test
from .loader import load_yaml, locate, to_plain
from .memory import memory_issues
from .resolved import (
    BufferLayout,
    ConfigOrigin,
    ConnectLink,
    Dtype,
    ResolvedPath,
    ServeLink,
    ValidatedSetup,
    WorkerFunction,
    display_path,
)
from .schema import (
    BUFFER_NAME_PATTERN,
    FUNCTION_NAME_PATTERN,
    MAIN_KEY,
    RB_ROLES,
    CommonConfigFile,
    FunctionBlock,
    MainBlock,
    SetupFile,
    setup_keys_at,
)
from .userfuncs import (
    UserModuleError,
    exception_text,
    find_function,
    import_named_module,
    import_user_module,
    is_module_name,
    module_file,
    signature_problem,
)

Loc = tuple[Any, ...]
Edit = Callable[[Path, Any], Any]


def validate_setup(
    path: str | os.PathLike[str],
    cwd: str | os.PathLike[str] | None = None,
    edit: Edit | None = None,
) -> ValidatedSetup:
    """Check the setup file ``path`` and everything it refers to; return the resolved setup.

    ``cwd`` is the directory relative paths resolve against (default: the current one).  User modules
    are imported (their module-level code runs) and stay importable by their bare name.  Raises
    ``FileNotFoundError`` if the setup file does not exist and ``ConfigError`` listing every error (and
    warning) otherwise; warnings of a valid setup are in ``ValidatedSetup.warnings``.

    Args:
        path: the setup YAML file.
        cwd: the directory relative paths of the setup resolve against first (then the setup's own).
        edit: called as ``edit(path, data)`` with every file loaded (the setup and its config files, by
            absolute path) and returning the data to check instead; a run series changes a step's keys
            this way, so that the step is checked, and run, exactly as the files would read with them.

    Returns:
        The ``ValidatedSetup``: buffer layouts, functions with their callables and configs, run limits.

    Raises:
        FileNotFoundError: the setup file does not exist.
        ConfigError: the setup cannot be run; ``str(error)`` is the report, ``error.issues`` the list.

    Example:
        ::

            from mimocorb.config import ConfigError, validate_setup
            try:
                setup = validate_setup("simulsource_setup.yaml")
            except ConfigError as error:
                print(error)                  # every problem, with file, line and key
            else:
                print([b.name for b in setup.buffers], [f.fkt_name for f in setup.functions])
    """
    return _SetupCheck(Path(path), Path.cwd() if cwd is None else Path(cwd), edit).run()


@dataclass(frozen=True)
class _Doc:
    """A loaded YAML file and how to name it in messages."""

    data: Any
    file: str


@dataclass(frozen=True)
class _RawFunction:
    """One ``Fkt_<i>`` item as written, before its values are known to be valid."""

    position: int
    key: str
    body: dict[Any, Any]

    @property
    def loc(self) -> Loc:
        return ("Functions", self.position, self.key)

    def text(self, key: str) -> str | None:
        value = self.body.get(key)
        return value if isinstance(value, str) and value else None

    def rb_assign(self) -> dict[str, str]:
        """The RB_assign entries that are well-formed enough to reason about."""
        value = self.body.get("RB_assign")
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


@dataclass(frozen=True)
class _Common:
    """The common config file (Fkt_main.config_file)."""

    path: ResolvedPath
    doc: _Doc


@dataclass(frozen=True)
class _Resolved:
    """What was found for one function: module, callable and config."""

    module: ResolvedPath
    function: Callable[..., Any]
    config_dict: dict[Any, Any]
    config_origin: ConfigOrigin
    config_path: Path | None


class _SetupCheck:
    """Runs the checks in order, collecting issues; each step tolerates what earlier steps rejected."""

    def __init__(self, path: Path, cwd: Path, edit: Edit | None = None) -> None:
        self.cwd = Path(os.path.abspath(cwd))
        self.edit: Edit = edit or (lambda _path, data: data)
        self.setup_file = Path(os.path.abspath(self.cwd / path))
        self.setup_dir = self.setup_file.parent
        self.issues: list[Issue] = []
        self.setup = _Doc(None, display_path(self.setup_file, self.cwd))
        self.modules: dict[Path, ModuleType | UserModuleError] = {}
        self.config_docs: dict[Path, _Doc | None] = {}

    # -- reporting ---------------------------------------------------------------------------------

    def report(self, severity: Severity, loc: Loc, message: str, doc: _Doc | None = None) -> None:
        doc = doc or self.setup
        key_path, line = locate(doc.data, loc)
        self.issues.append(Issue(severity, doc.file, key_path, message, line))

    def sorted_issues(self) -> list[Issue]:
        """By file (in order of first mention) and line, so a report reads top to bottom."""
        files = list(dict.fromkeys(issue.file for issue in self.issues))
        return sorted(self.issues, key=lambda issue: (files.index(issue.file), issue.line or 0))

    def has_errors(self) -> bool:
        return any(issue.severity == "error" for issue in self.issues)

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> ValidatedSetup:
        if not self.setup_file.is_file():
            raise FileNotFoundError(errno.ENOENT, "setup file does not exist", self.setup.file)
        data = self.edit(self.setup_file, load_yaml(self.setup_file, self.setup.file))
        self.setup = _Doc(data, self.setup.file)
        if not isinstance(data, dict):
            found = describe(data)
            self.report("error", (), f"expected a mapping with RingBuffer and Functions, found {found}")
            raise ConfigError(self.issues)
        model = self.validate_model(SetupFile, self.setup, setup_keys_at)
        dtypes = self.check_buffers()
        for issue in memory_issues(self.setup.data.get("RingBuffer"), dtypes):
            self.report(issue.severity, issue.loc, issue.message)
        main, functions = self.split_functions()
        self.check_rb_assign(functions, list(dtypes))
        self.check_data_flow(functions)
        links = self.check_links(model)
        common = self.common_config(main)
        resolved = {
            f.key: r for f in functions if (r := self.resolve_function(f, common, dtypes)) is not None
        }
        self.check_function_configs(functions)
        alarms = self.check_alarms(model, list(dtypes), [f.key for f in functions])
        output = self.output_directory()
        if self.has_errors() or model is None:
            raise ConfigError(self.sorted_issues())
        return self.result(model, dtypes, resolved, common, output, links, alarms)

    def validate_model(self, model: type[BaseModel], doc: _Doc, keys_at: KeysAt, part: Any = None) -> Any:
        """Validate ``doc`` (or only ``part`` of it), reporting errors located in ``doc``."""
        try:
            return model.model_validate(doc.data if part is None else part)
        except ValidationError as exc:
            self.issues += schema_issues(exc, doc.data, doc.file, keys_at)
            return None

    # -- buffers -----------------------------------------------------------------------------------

    def check_buffers(self) -> dict[str, Dtype | None]:
        """Names must be RB_1, RB_2, ... in list order; returns each defined name with its dtype."""
        items = self.setup.data.get("RingBuffer")
        dtypes: dict[str, Dtype | None] = {}
        if not isinstance(items, list):
            return dtypes
        for position, item in enumerate(items):
            if isinstance(item, dict) and len(item) == 1:
                name, body = next(iter(item.items()))
                if isinstance(name, str) and name not in dtypes:
                    dtypes[name] = self.buffer_dtype(("RingBuffer", position, name), body)
        names = list(enumerate(_single_key(item) for item in items))
        self.check_numbering("RingBuffer", names, "RB_", BUFFER_NAME_PATTERN)
        return dtypes

    def check_numbering(self, section: str, names: list[tuple[int, Any]], prefix: str, pattern: str) -> None:
        """One issue at the first (position, name) out of sequence; later ones would only repeat it."""
        for number, (position, name) in enumerate(names, start=1):
            expected = f"{prefix}{number}"
            if isinstance(name, str) and re.match(pattern, name) and name != expected:
                order = ", ".join(str(n) for _, n in names)
                self.report(
                    "error",
                    (section, position),
                    f"expected '{expected}', found '{name}': {section} entries must be numbered "
                    f"{prefix}1, {prefix}2, ... in list order (found {order})",
                )
                return

    def buffer_dtype(self, loc: Loc, body: Any) -> Dtype | None:
        data_type = body.get("data_type") if isinstance(body, dict) else None
        if isinstance(data_type, str):
            return self.numpy_dtype((*loc, "data_type"), data_type)
        if not isinstance(data_type, dict):
            return None
        fields: list[tuple[str, np.dtype]] = []
        for label, spec in data_type.items():
            if not (isinstance(spec, list) and len(spec) == 2 and all(isinstance(s, str) for s in spec)):
                continue  # reported by the schema
            field_loc = (*loc, "data_type", label)
            if spec[0] in (name for name, _ in fields) or not spec[0]:
                self.report("error", field_loc, f"expected a unique, non-empty field name, found '{spec[0]}'")
            dtype = self.numpy_dtype(field_loc, spec[1])
            if dtype is not None:
                fields.append((spec[0], dtype))
        return fields

    def numpy_dtype(self, loc: Loc, text: str) -> np.dtype | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", DeprecationWarning)
                dtype = np.dtype(text)
        except (TypeError, ValueError, DeprecationWarning) as exc:
            self.report(
                "error", loc, f"expected a numpy type such as 'float64' or 'int32', found '{text}' ({exc})"
            )
            return None
        if dtype.hasobject:
            self.report("error", loc, f"expected a numpy type of fixed size, found '{text}' (Python objects)")
            return None
        return dtype

    def check_links(self, model: SetupFile | None) -> dict[str, tuple[ServeLink | None, ConnectLink | None]]:
        """``serve`` and ``connect`` of every buffer; pyzmq is imported only if a buffer has one."""
        if model is None:
            return {}
        blocks = [
            (pos, name, block) for pos, item in enumerate(model.RingBuffer) for name, block in item.items()
        ]
        if not any(b.serve is not None or b.connect is not None for _, _, b in blocks):
            return {}
        is_loopback = loopback_test()
        links = {}
        for position, name, block in blocks:
            serve, connect, problems = links_of(block, self.setup_dir, is_loopback)
            for key, message in problems:
                self.report("error", ("RingBuffer", position, name, *key), message)
            links[name] = (serve, connect)
        return links

    def check_alarms(
        self, model: SetupFile | None, buffers: list[str], functions: list[str]
    ) -> tuple[AlarmSpec, ...]:
        """The run's alarms: the setup's ``Alarms`` (conditions, names, keys) and the built-in ones."""
        if model is None:
            return ()
        alarms, problems = setup_alarms(model.Alarms, buffers, functions)
        for loc, message in problems:
            self.report("error", loc, message)
        return alarms

    # -- functions ---------------------------------------------------------------------------------

    def split_functions(self) -> tuple[dict[Any, Any], list[_RawFunction]]:
        """The Fkt_main body (empty if absent) and the Fkt_<i> items, after checking their order."""
        items = self.setup.data.get("Functions")
        if not isinstance(items, list) or not items:
            return {}, []
        names = [_single_key(item) for item in items]
        main: dict[Any, Any] = {}
        if names[0] == MAIN_KEY:
            main = items[0][MAIN_KEY] if isinstance(items[0][MAIN_KEY], dict) else {}
        else:
            self.report(
                "error", ("Functions", 0), f"expected '{MAIN_KEY}' as first item, found {describe(names[0])}"
            )
        for position, name in enumerate(names[1:], start=1):
            if name == MAIN_KEY:
                self.report("error", ("Functions", position), f"expected '{MAIN_KEY}' only as the first item")
        workers = [(position, name) for position, name in enumerate(names) if name != MAIN_KEY]
        self.check_numbering("Functions", workers, "Fkt_", FUNCTION_NAME_PATTERN)
        functions = [
            _RawFunction(
                position, name, items[position][name] if isinstance(items[position][name], dict) else {}
            )
            for position, name in enumerate(names)
            if isinstance(name, str) and re.match(FUNCTION_NAME_PATTERN, name)
        ]
        return main, functions

    def check_rb_assign(self, functions: list[_RawFunction], buffers: list[str]) -> None:
        defined = ", ".join(buffers) or "none"
        for function in functions:
            for name, role in function.rb_assign().items():
                loc = (*function.loc, "RB_assign", name)
                if re.match(BUFFER_NAME_PATTERN, name) and name not in buffers:
                    self.report(
                        "error", loc, f"expected one of the defined buffers ({defined}), found '{name}'"
                    )
                if role not in RB_ROLES:
                    self.report("warning", loc, _role_message(role))

    def check_data_flow(self, functions: list[_RawFunction]) -> None:
        """A written buffer nobody reads fills up and blocks the run; an unwritten one starves its readers."""
        items = self.setup.data.get("RingBuffer")
        names = [_single_key(item) for item in items] if isinstance(items, list) else []
        for position, name in enumerate(names):
            if not isinstance(name, str):
                continue
            roles = {
                role: [_who(f) for f in functions if f.rb_assign().get(name) == role] for role in RB_ROLES
            }
            loc = ("RingBuffer", position, name)
            body = items[position].get(name) if isinstance(items[position], dict) else None
            served, connected = (
                isinstance(body, dict) and body.get(k) is not None for k in ("serve", "connect")
            )
            if connected and roles["write"]:
                self.report(
                    "error",
                    (*loc, "connect"),
                    f"a connected buffer is written by its link alone, but {', '.join(roles['write'])} "
                    "writes it too; expected no function with 'write' for this buffer",
                )
            roles["read"] += ["its network readers"] if served else []
            roles["write"] += ["its link"] if connected else []
            if roles["write"] and not roles["read"]:
                self.report("error", loc, _unread_message(roles))
            elif roles["read"] and not roles["write"]:
                self.report(
                    "warning",
                    loc,
                    f"read by {', '.join(roles['read'])} but written by no function; "
                    "its readers would wait for ever",
                )
            elif not roles["read"] and not roles["write"]:
                self.report("warning", loc, "neither written nor read by any function")

    def resolve_function(
        self, function: _RawFunction, common: _Common | None, dtypes: dict[str, Dtype | None]
    ) -> _Resolved | None:
        found = self.find_user_function(function)
        config = self.function_config(function, common)
        if found is None or config is None:
            return None
        resolved = _Resolved(found[0], found[1], *config)
        self.check_function_config(function, resolved, dtypes)
        return resolved

    def check_function_config(
        self, function: _RawFunction, resolved: _Resolved, dtypes: dict[str, Dtype | None]
    ) -> None:
        """Worker functions may check their config_dict up front (library ones and the example's do).

        A function may carry a ``check_config(config_dict)``, ``check_config(config_dict, buffers)`` or
        ``check_config(config_dict, buffers, values_per_slot)`` attribute that raises ValueError or
        OSError for a config it cannot run with; a mistake there then stops the run before anything
        starts. ``buffers`` maps each role to the numpy dtypes of the function's buffers, in the order of
        its source_list / sink_list / observe_list, and ``values_per_slot`` to their sizes.
        """
        check = getattr(resolved.function, "check_config", None)
        if not callable(check):
            return
        arguments = (resolved.config_dict, _role_dtypes(function, dtypes), _role_sizes(function, self.setup))
        try:
            check(*arguments[: _arity(check)])
        except (ValueError, OSError) as exc:
            where = display_path(resolved.config_path, self.cwd) if resolved.config_path else "no config"
            name = function.text("fkt_name")
            self.report("error", (*function.loc, "fkt_name"), f"config of '{name}' ({where}): {exc}")
        except Exception as exc:  # a defect of the check itself must not hide the setup's other issues
            message = f"check_config of '{function.text('fkt_name')}' failed: {exception_text(exc)}"
            self.report("error", (*function.loc, "fkt_name"), message)

    def find_user_function(self, function: _RawFunction) -> tuple[ResolvedPath, Callable[..., Any]] | None:
        file_name, fkt_name = function.text("file_name"), function.text("fkt_name")
        if file_name is None:
            return None
        loc = (*function.loc, "file_name")
        if file_name.endswith(".py"):
            self.report("error", loc, f"expected a module path without '.py', found '{file_name}'")
            return None
        module_path = self.resolve(file_name, lambda p: module_file(p) is not None)
        file = module_file(module_path.path)
        if file is not None:
            module = self.import_module(Path(file_name).name, file, loc)
        elif is_module_name(file_name):
            module, module_path = self.import_by_name(file_name, module_path, loc)
        else:
            self.report("error", loc, self.missing_module(file_name, module_path))
            return None
        if module is None or fkt_name is None:
            return None
        try:
            callable_ = find_function(module, fkt_name)
        except UserModuleError as exc:
            self.report("error", (*function.loc, "fkt_name"), str(exc))
            return None
        self.check_signature(function, fkt_name, callable_)
        if file is not None:
            module_path = ResolvedPath(module_path.given, file, module_path.base)
        return module_path, callable_

    def import_by_name(
        self, file_name: str, module_path: ResolvedPath, loc: Loc
    ) -> tuple[ModuleType | None, ResolvedPath]:
        """No file of that name: an importable module (``mimocorb.devices``) serves as well.

        A file wins, so that a setup keeps meaning the same thing when a package of the same name is
        installed later.
        """
        try:
            module = import_named_module(file_name)
        except UserModuleError as exc:
            self.report("error", loc, str(exc))
            return None, module_path
        if module is None:
            self.report("error", loc, self.missing_module(file_name, module_path))
            return None, module_path
        return module, ResolvedPath(file_name, Path(module.__file__ or file_name), "import")

    def missing_module(self, file_name: str, module_path: ResolvedPath) -> str:
        where = f"{self.looked_in(file_name)}{_nearby_module(module_path.path, file_name)}"
        also = f", and no importable module '{file_name}'" if is_module_name(file_name) else ""
        return f"module file '{file_name}.py' not found ({where}){also}"

    def import_module(self, name: str, file: Path, loc: Loc) -> ModuleType | None:
        """Import once per file; a failure is remembered and reported for every block using the file."""
        if file not in self.modules:
            try:
                self.modules[file] = import_user_module(name, file)
            except UserModuleError as exc:
                self.modules[file] = exc
        outcome = self.modules[file]
        if isinstance(outcome, UserModuleError):
            self.report("error", loc, str(outcome))
            return None
        return outcome

    def check_signature(self, function: _RawFunction, fkt_name: str, callable_: Callable[..., Any]) -> None:
        assign = function.body.get("RB_assign")
        if assign is not None and not isinstance(assign, dict):
            return  # reported by the schema
        problem = signature_problem(callable_, fkt_name, function.rb_assign())
        if problem is not None:
            self.report("error", (*function.loc, "fkt_name"), problem)

    # -- configs -----------------------------------------------------------------------------------

    def common_config(self, main: dict[Any, Any]) -> _Common | None:
        """The common config file if Fkt_main names one and it is usable (else reported)."""
        given = main.get("config_file")
        if not isinstance(given, str):
            return None
        path, doc = self.config_doc(given, ("Functions", 0, MAIN_KEY, "config_file"))
        if doc is None:
            return None
        self.validate_model(CommonConfigFile, doc, lambda _: None, _limits_view(doc.data))
        return _Common(path, doc)

    def config_doc(self, given: str, loc: Loc) -> tuple[ResolvedPath, _Doc | None]:
        """Resolve and load a config file; None (reported) if it is missing, unreadable or no mapping."""
        path = self.resolve(given, Path.is_file)
        if not path.path.is_file():
            self.report("error", loc, f"config file '{given}' not found ({self.looked_in(given)})")
            return path, None
        if path.path not in self.config_docs:
            self.config_docs[path.path] = self.load_config(path.path)
        doc = self.config_docs[path.path]
        if doc is not None and not isinstance(doc.data, dict):
            self.report(
                "error", loc, f"{doc.file}: expected a mapping at the top level, found {describe(doc.data)}"
            )
            return path, None
        return path, doc

    def load_config(self, path: Path) -> _Doc | None:
        shown = display_path(path, self.cwd)
        try:
            data = self.edit(path, load_yaml(path, shown))
        except ConfigError as exc:
            self.issues += exc.issues
            return None
        return _Doc({} if data is None else data, shown)

    def function_config(
        self, function: _RawFunction, common: _Common | None
    ) -> tuple[dict[Any, Any], ConfigOrigin, Path | None] | None:
        """config_dict as in mimoCoRB 1.0.2: own file, else common section, else FunctionConfigs, else {}."""
        own = function.text("config_file")
        if own is not None:
            path, doc = self.config_doc(own, (*function.loc, "config_file"))
            return None if doc is None else (to_plain(doc.data), "config_file", path.path)
        name = function.text("fkt_name")
        if name is None:
            return None
        if common is not None and name in common.doc.data:
            section = self.config_section(common.doc, name)
            return None if section is None else (section, "common", common.path.path)
        entries = self.setup.data.get("FunctionConfigs")
        if isinstance(entries, dict) and name in entries:
            entry = entries[name]
            return (
                (to_plain(entry or {}), "FunctionConfigs", self.setup_file)
                if isinstance(entry, dict | None)
                else None
            )
        self.report(
            "warning",
            function.loc,
            f"no configuration found for function '{name}'; "
            "it gets an empty config_dict (expected a config_file, a section in the common config "
            "file or a FunctionConfigs entry)",
        )
        return {}, "none", None

    def config_section(self, common: _Doc, name: str) -> dict[Any, Any] | None:
        section = common.data[name]
        if section is not None and not isinstance(section, dict):
            self.report(
                "error",
                (name,),
                f"expected a mapping (the config_dict of '{name}'), found {describe(section)}",
                common,
            )
            return None
        return to_plain(section or {})

    def check_function_configs(self, functions: list[_RawFunction]) -> None:
        """An entry no function uses is most likely a misspelt fkt_name."""
        entries = self.setup.data.get("FunctionConfigs")
        names = {name for f in functions if (name := f.text("fkt_name")) is not None}
        if not isinstance(entries, dict):
            return
        for entry in entries:
            if entry not in names:
                guess = suggest(str(entry), names)
                hint = f"; did you mean '{guess}'?" if guess else ""
                self.report("warning", ("FunctionConfigs", entry), f"no function is named '{entry}'{hint}")

    # -- paths -------------------------------------------------------------------------------------

    def resolve(self, given: str, exists: Callable[[Path], bool]) -> ResolvedPath:
        """CWD first (as mimoCoRB), then the setup file's directory; CWD if found in neither."""
        path = Path(given).expanduser()
        if path.is_absolute():
            return ResolvedPath(given, Path(os.path.abspath(path)), "absolute")
        in_cwd = Path(os.path.abspath(self.cwd / path))
        in_setup_dir = Path(os.path.abspath(self.setup_dir / path))
        if not exists(in_cwd) and exists(in_setup_dir):
            return ResolvedPath(given, in_setup_dir, "setup_dir")
        return ResolvedPath(given, in_cwd, "cwd")

    def looked_in(self, given: str) -> str:
        if Path(given).expanduser().is_absolute():
            return "absolute path"
        places = dict.fromkeys([str(self.cwd), str(self.setup_dir)])
        return "looked in " + " and ".join(places)

    def output_directory(self) -> ResolvedPath:
        given = self.setup.data.get("output_directory", "target")
        output = self.resolve(given if isinstance(given, str) else "target", Path.is_dir)
        if output.path.exists() and not output.path.is_dir():
            self.report("error", ("output_directory",), f"expected a directory, found the file {output.path}")
        elif (problem := _unwritable(output.path)) is not None:
            self.report("error", ("output_directory",), problem)
        return output

    # -- result ------------------------------------------------------------------------------------

    def result(
        self,
        model: SetupFile,
        dtypes: dict[str, Any],
        resolved: dict[str, _Resolved],
        common: _Common | None,
        output: ResolvedPath,
        links: dict[str, tuple[ServeLink | None, ConnectLink | None]],
        alarms: tuple[AlarmSpec, ...],
    ) -> ValidatedSetup:
        main = next((block for key, block in _blocks(model) if key == MAIN_KEY), None)
        runtime, runevents = _limits(main, common)
        workers = tuple(
            _worker(key, block, resolved[key])
            for key, block in _blocks(model)
            if isinstance(block, FunctionBlock)
        )
        buffers = tuple(
            BufferLayout(
                name,
                block.number_of_slots,
                block.channel_per_slot,
                dtypes[name],
                *links.get(name, (None, None)),
            )
            for item in model.RingBuffer
            for name, block in item.items()
        )
        own_files = [w.config_path for w in workers if w.config_origin == "config_file" and w.config_path]
        config_files = tuple(dict.fromkeys([common.path.path] if common else []) | dict.fromkeys(own_files))
        self.check_copy_names(config_files)
        return ValidatedSetup(
            setup_file=self.setup_file,
            cwd=self.cwd,
            setup_dict=to_plain(self.setup.data),
            output_directory=output,
            gui_control=model.GUI_control,
            kbd_control=model.KBD_control,
            buffers=buffers,
            functions=workers,
            runtime=runtime,
            runevents=runevents,
            common_config_file=common.path if common else None,
            config_files=config_files,
            warnings=tuple(self.sorted_issues()),
            web=None if model.web is None else parse_address(str(model.web)),
            alarms=alarms,
            history=HistorySettings.of(None if model.history is None else model.history.model_dump()),
        )

    def check_copy_names(self, files: tuple[Path, ...]) -> None:
        """Config files are copied into the run directory under their base names, so equal names collide."""
        seen: dict[str, Path] = {}
        for file in files:
            if file.name in seen:
                self.issues.append(
                    Issue(
                        "warning",
                        self.setup.file,
                        "",
                        f"config files {seen[file.name]} and {file} have the same name; the run "
                        "directory can keep only one copy",
                    )
                )
            seen.setdefault(file.name, file)


def _arity(check: Callable[..., Any]) -> int:
    """How many of (config_dict, buffers, values_per_slot) a check takes: older checks take fewer."""
    for count in (3, 2):
        try:
            inspect.signature(check).bind(*[None] * count)
        except (TypeError, ValueError):
            continue
        return count
    return 1


def _role_sizes(function: _RawFunction, setup: _Doc) -> dict[str, list[int]]:
    """The values per slot of the worker's buffers, in the order of ``_role_dtypes``."""
    sizes: dict[str, int] = {}
    items = setup.data.get("RingBuffer")
    for item in items if isinstance(items, list) else []:
        name = _single_key(item)
        body = item[name] if isinstance(name, str) else None
        if isinstance(body, dict) and isinstance(body.get("channel_per_slot"), int):
            sizes[name] = body["channel_per_slot"]
    roles: dict[str, list[int]] = {"read": [], "write": [], "observe": []}
    for name, role in function.rb_assign().items():
        if role in roles and name in sizes:
            roles[role].append(sizes[name])
    return roles


def _role_dtypes(function: _RawFunction, dtypes: dict[str, Dtype | None]) -> dict[str, list[np.dtype]]:
    """What the worker's lists will hold, as the controller builds them (RB_assign order)."""
    roles: dict[str, list[np.dtype]] = {"read": [], "write": [], "observe": []}
    for name, role in function.rb_assign().items():
        dtype = dtypes.get(name)
        if role in roles and dtype is not None:
            roles[role].append(np.dtype(dtype))
    return roles


def _single_key(item: Any) -> Any:
    return next(iter(item)) if isinstance(item, dict) and len(item) == 1 else None


def _nearby_module(path: Path, file_name: str) -> str:
    """A hint at a similarly named module next to where the missing one was expected."""
    stems = [p.stem for p in path.parent.glob("*.py")] if path.parent.is_dir() else []
    guess = suggest(path.name, stems)
    return f"; did you mean '{Path(file_name).with_name(guess).as_posix()}'?" if guess else ""


def _who(function: _RawFunction) -> str:
    name = function.text("fkt_name")
    return f"{function.key} ({name})" if name else function.key


def _role_message(role: str) -> str:
    guess = suggest(role, RB_ROLES)
    hint = f"; did you mean '{guess}'?" if guess else ""
    return (
        f"expected one of {', '.join(RB_ROLES)}, found '{role}': the buffer is passed in rb_info but "
        f"not connected{hint}"
    )


def _unread_message(roles: dict[str, list[str]]) -> str:
    observed = (
        f" (observed by {', '.join(roles['observe'])}, but observers do not free slots)"
        if roles["observe"]
        else ""
    )
    return (
        f"written by {', '.join(roles['write'])} but read by no function{observed}; it would fill up and "
        "block the run. Expected a function with 'read' for this buffer (e.g. one using rbDrain)"
    )


def _limits_view(data: dict[Any, Any]) -> dict[Any, Any]:
    """The part of a common config file with a fixed meaning; the rest is free-form (any keys)."""
    if "general" not in data:
        return {}
    general = data["general"]
    if isinstance(general, dict):
        general = {key: general[key] for key in ("runtime", "runevents") if key in general}
    return {"general": general}


def _blocks(model: SetupFile) -> Iterator[tuple[str, Any]]:
    for item in model.Functions:
        yield from item.items()


def _limits(main: MainBlock | None, common: _Common | None) -> tuple[float, int]:
    """Fkt_main's runtime/runevents, overridden by general.runtime/runevents of the common file."""
    runtime, runevents = (main.runtime, main.runevents) if main else (0.0, 0)
    general = common.doc.data.get("general") if common is not None else None
    if isinstance(general, dict):
        runtime = general["runtime"] if general.get("runtime") is not None else runtime
        runevents = general["runevents"] if general.get("runevents") is not None else runevents
    return float(runtime), runevents


def _worker(key: str, block: FunctionBlock, resolved: _Resolved) -> WorkerFunction:
    return WorkerFunction(
        key=key,
        index=int(key.removeprefix("Fkt_")),
        fkt_name=block.fkt_name,
        file_name=block.file_name,
        module=resolved.module,
        module_name=block.file_name if resolved.module.base == "import" else Path(block.file_name).name,
        function=resolved.function,
        num_process=block.num_process,
        rb_assign=dict(block.RB_assign or {}),
        on_error=block.on_error,
        config_dict=resolved.config_dict,
        config_origin=resolved.config_origin,
        config_path=resolved.config_path,
    )


def _unwritable(directory: Path) -> str | None:
    """Why no run directory can be made in ``directory`` (created if missing), or None if it can.

    Found before the run starts, so that no recorder fails only when its first file is due. The test is
    to make (and remove) an empty directory in the nearest existing ancestor: permission bits alone do
    not tell (root, read-only mounts, ACLs).
    """
    existing = directory
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{directory} cannot be created: {existing} is not a directory"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mimocorb-probe-", dir=existing))
    except OSError as exc:
        if existing == directory:
            return f"the directory {directory} is not writable ({exc.strerror}); runs are made in it"
        return f"{directory} does not exist and cannot be created in {existing} ({exc.strerror})"
    return None
