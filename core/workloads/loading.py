"""Load a workload by reference: ``path/to/file.py:Class``, ``package.module:Class`` or a built-in.

Every failure is one WorkloadError sentence naming the reference and what is wrong, with
the user's own exception chained so ``--debug`` can show its traceback.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from tunebook.core.workload_source import is_file_target, split_ref
from tunebook.core.workloads.base import Workload, WorkloadError
from tunebook.core.workloads.images import ImagesWorkload
from tunebook.core.workloads.sequences import LanguageModelWorkload
from tunebook.core.workloads.tabular import TabularWorkload


def builtin_workloads() -> dict[str, type[Workload]]:
    """The built-in workloads by name, for ``tunebook workloads`` and bare-name references."""
    return {cls.name: cls for cls in (TabularWorkload, ImagesWorkload, LanguageModelWorkload)}


#: A workload file's module name (its stem, then a hash of its path and modification time)
#: at the start of a class's qualified name.
_FILE_MODULE = re.compile(r"^tunebook_workload_(?P<stem>.+?)_[0-9a-f]{12}\.")


def _import_file(ref: str, target: str) -> ModuleType:
    """Import a Python file as a module whose name is unique to its path and version."""
    path = Path(target).expanduser()
    if not path.is_file():
        raise WorkloadError(f"workload {ref!r}: file {target!r} does not exist")
    path = path.resolve()
    stamp = f"{path}:{path.stat().st_mtime_ns}".encode()
    name = f"tunebook_workload_{path.stem}_{hashlib.sha1(stamp).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise WorkloadError(f"workload {ref!r}: {target} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    # Sibling modules of the file import as they would when running it as a script.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise WorkloadError(
            f"workload {ref!r}: importing {target} raised {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _import_module(ref: str, target: str) -> ModuleType:
    """Import ``package.module``, telling a missing module from one that fails to import."""
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and (target == exc.name or target.startswith(exc.name + ".")):
            raise WorkloadError(f"workload {ref!r}: module {target!r} not found") from exc
        raise WorkloadError(
            f"workload {ref!r}: importing {target} raised ModuleNotFoundError: {exc}"
        ) from exc
    except Exception as exc:
        raise WorkloadError(
            f"workload {ref!r}: importing {target} raised {type(exc).__name__}: {exc}"
        ) from exc


def load_workload(ref: str, config: dict[str, Any] | None = None) -> Workload:
    """Instantiate the workload named by ``ref`` with ``config`` (from ``Workload.config()``).

    ``ref`` is a built-in name (see ``builtin_workloads``), ``path/to/file.py:ClassName``
    or ``package.module:ClassName``. Raises WorkloadError, one sentence, on any failure.
    """
    cls = workload_class(ref)
    _check_options(ref, cls, config or {})
    workload = cls.__new__(cls)
    workload._ref = ref  # so errors raised while configuring already name the reference
    try:
        workload.__init__(**(config or {}))
    except WorkloadError:
        raise
    except Exception as exc:
        raise WorkloadError(
            f"workload {ref!r}: {cls.__name__}() raised {type(exc).__name__}: {exc}"
        ) from exc
    return workload


def workload_class(ref: str) -> type[Workload]:
    """The concrete Workload subclass ``ref`` names (importing its module), not configured."""
    builtins = builtin_workloads()
    if ref in builtins:
        cls: Any = builtins[ref]
        class_name = cls.__name__
    else:
        target, class_name = split_ref(ref)
        if not target or not class_name:
            raise WorkloadError(
                f"workload {ref!r}: not a built-in ({', '.join(builtins)}) and not of the "
                "form path/to/file.py:ClassName or package.module:ClassName"
            )
        if is_file_target(target):
            module = _import_file(ref, target)
        else:
            module = _import_module(ref, target)
        cls = getattr(module, class_name, None)
        if cls is None:
            raise WorkloadError(f"workload {ref!r}: class {class_name!r} not found in {target}")
    if not (isinstance(cls, type) and issubclass(cls, Workload)):
        raise WorkloadError(f"workload {ref!r}: {class_name} is not a tunebook Workload subclass")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise WorkloadError(f"workload {ref!r}: {class_name} does not implement {missing}")
    return cls


def _check_options(ref: str, cls: type[Workload], config: dict[str, Any]) -> None:
    """Name an option the workload's constructor does not take, with the ones it does."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        options = ", ".join(accepted) or "none"
        raise WorkloadError(
            f"workload {ref!r} has no option {unknown[0]!r} (its options: {options})"
        )


def workload_class_name(qualified: str) -> str:
    """`module.Class` of a workload without what a file's import name adds for uniqueness
    (its path and modification time): the same class, whether its file was moved, touched,
    or unpacked on a Ray node, has one name, which a trial's resume state can be checked by."""
    return _FILE_MODULE.sub(r"\g<stem>.", qualified)
