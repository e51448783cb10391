"""Where a session's workload lives, so that a session works from any folder and machine.

A workload reference to a file (``path/to/file.py:Class``) and the workload's file options
(those its class lists in ``path_options``, e.g. the tabular workload's ``csv``) are stored
relative to the session file's folder when the file is in that folder, below it, or in a
sibling folder (below the folder's parent, unless that parent is the file-system root), and
by absolute path otherwise. They are resolved against the session file's folder when the
workload is loaded, so moving the folder (or the project folder around it) keeps the session
working; a missing file is one sentence that names it and ``tunebook relocate``.

This module imports neither torch nor user code: the runner resolves and checks the
workload's files before any trial starts, and only workers import the workload.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunebook.sessions import BadInput, Session
from tunebook.sessions.store import CREATED_BY, user_at_host

#: `meta` key: JSON list of the workload's config options that name files.
PATH_OPTIONS = "workload_path_options"


def parse_options(pairs: list[str], typed: bool = True) -> dict[str, Any]:
    """`KEY=VALUE` strings to a dict; values parse as JSON when they can (numbers, booleans)
    and `typed`, else stay text (file paths)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"option {pair!r} is not KEY=VALUE")
        try:
            options[key] = json.loads(raw) if typed else raw
        except json.JSONDecodeError:
            options[key] = raw
    return options


def split_ref(ref: str) -> tuple[str, str]:
    """``path/to/file.py:Class`` or ``package.module:Class`` as (target, class name);
    a built-in name has no target."""
    target, _, class_name = ref.rpartition(":")
    return target, class_name


def is_file_target(target: str) -> bool:
    """Whether a reference's target is a Python file rather than an importable module."""
    return target.endswith(".py") or "/" in target or "\\" in target


def _session_folder(session_path: str | os.PathLike[str]) -> str:
    return os.path.dirname(os.path.abspath(session_path))


def stored_path(path: str, folder: str) -> str:
    """How a file given on this machine (absolute, or relative to the current folder) is
    stored for a session in `folder`: relative when it is near the folder, else absolute."""
    absolute = os.path.abspath(os.path.expanduser(path))
    parent = os.path.dirname(folder)
    for base in (folder, parent):
        if base == os.path.dirname(base):  # the file-system root anchors nothing
            break
        try:
            relative = os.path.relpath(absolute, base)
        except ValueError:  # another drive (Windows)
            break
        if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
            return Path(os.path.relpath(absolute, folder)).as_posix()
    return absolute


def resolved_path(stored: str, folder: str) -> str:
    """The file a stored path names on this machine, for a session in `folder`."""
    return os.path.normpath(os.path.join(folder, os.path.expanduser(stored)))


def portable_source(
    session_path: str | os.PathLike[str],
    ref: str,
    config: Mapping[str, Any],
    path_options: Sequence[str],
) -> tuple[str, dict[str, Any]]:
    """The reference and config to store for a session at `session_path`, from ones given
    on this machine (file paths relative to the current folder or absolute)."""
    folder = _session_folder(session_path)
    target, class_name = split_ref(ref)
    if target and is_file_target(target):
        ref = f"{stored_path(target, folder)}:{class_name}"
    config = dict(config)
    for option in path_options:
        if isinstance(config.get(option), str):
            config[option] = stored_path(config[option], folder)
    return ref, config


@dataclass(frozen=True)
class WorkloadSource:
    """A session's workload as stored in its file and as found on this machine."""

    session_path: str
    stored_ref: str
    stored_config: dict[str, Any]
    path_options: tuple[str, ...]

    @property
    def builtin(self) -> bool:
        """A built-in workload: tunebook's own code, no file to find or trust."""
        return not split_ref(self.stored_ref)[0]

    @property
    def ref(self) -> str:
        """The reference to load here: a file target resolved against the session's folder."""
        target, class_name = split_ref(self.stored_ref)
        if target and is_file_target(target):
            return f"{resolved_path(target, _session_folder(self.session_path))}:{class_name}"
        return self.stored_ref

    @property
    def config(self) -> dict[str, Any]:
        """The config to load with here: file options resolved against the session's folder."""
        folder = _session_folder(self.session_path)
        return {
            key: resolved_path(value, folder)
            if key in self.path_options and isinstance(value, str)
            else value
            for key, value in self.stored_config.items()
        }

    def check(self) -> None:
        """Raise BadInput naming the first of the workload's files missing here, and the
        command that points the session elsewhere."""
        folder = _session_folder(self.session_path)
        target, class_name = split_ref(self.stored_ref)
        if target and is_file_target(target):
            self._require(
                f"workload file {target!r}",
                resolved_path(target, folder),
                f"--workload NEWPATH.py:{class_name}",
            )
        for option in self.path_options:
            stored = self.stored_config.get(option)
            if isinstance(stored, str):
                self._require(
                    f"{option}= file {stored!r}",
                    resolved_path(stored, folder),
                    f"-o {option}=NEWPATH",
                )

    def _require(self, what: str, resolved: str, relocate_args: str) -> None:
        if not os.path.exists(resolved):
            raise BadInput(
                f"the {what} of session '{self.session_path}' resolves to {resolved!r}, which "
                f"does not exist; point the session at it with "
                f"'tunebook relocate {self.session_path} {relocate_args}'"
            )

    def imports(self) -> str:
        """The file whose code loading this workload runs (or the module, if not found)."""
        target = split_ref(self.ref)[0]
        if is_file_target(target):
            return target
        return _module_origin(target) or f"module {target!r} (not found here)"


def session_workload_source(session: Session) -> WorkloadSource:
    """The one place that reads where a session's workload is (every loader goes through it)."""
    info = session.info()
    try:
        options = json.loads(session.meta_value(PATH_OPTIONS) or "[]")
    except ValueError:
        options = None
    if not (isinstance(options, list) and all(isinstance(o, str) for o in options)):
        raise BadInput(
            f"session file '{session.path}' is damaged: meta {PATH_OPTIONS!r} is not a list"
        )
    return WorkloadSource(str(session.path), info.workload, info.workload_config, tuple(options))


def foreign_code_notice(session: Session) -> str | None:
    """One line to show before importing a session's workload code that another user (or
    host) set up, naming the reference and the file it runs; None when there is no need."""
    source = session_workload_source(session)
    creator = session.meta_value(CREATED_BY)
    me = user_at_host()
    if source.builtin or creator == me:
        return None
    who = f"by {creator!r}" if creator else "by an unknown user"
    return (
        f"note: session '{session.path}' was created {who}, not {me}; its workload "
        f"{source.stored_ref!r} runs the code in {source.imports()!r} as you"
    )


def announce_foreign_code(session: Session, notice: Callable[[str], None] | None) -> None:
    """Give `notice` the `foreign_code_notice` line, if there is one (and a `notice`)."""
    if notice is None:
        return
    line = foreign_code_notice(session)
    if line:
        notice(line)


def _module_origin(name: str) -> str | None:
    """The file of module `name`, found the way `import` finds it but without running any
    code (not even its parent packages' ``__init__``)."""
    search: list[str] | None = None
    spec = None
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        spec = _find_spec(".".join(parts[:depth]), search)
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
    return None if spec is None else spec.origin


def _find_spec(fullname: str, search: list[str] | None) -> importlib.machinery.ModuleSpec | None:
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is not None:
            spec = find_spec(fullname, search)
            if spec is not None:
                return spec
    return None
