"""Grouping keys of logged errors (pure: no request, no ORM).

A fingerprint is the exception class plus the in-app frames (``module:function``), without
line numbers or the message, so a deploy that moves code or a message that carries an id does
not start a new group.
"""

from __future__ import annotations

import hashlib
import sysconfig
from collections.abc import Iterable
from traceback import walk_tb
from types import CodeType, FrameType

_LIBRARY_ROOTS = ("counterbalance_errors",)


def qualified_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _library_paths() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {
        paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths
    }
    return tuple(sorted(found))


_LIBRARY_PATHS = _library_paths()


def code_name(module: object, code: CodeType) -> str:
    """``module:function`` (qualified) of a frame of ``code`` in ``module`` (its globals'
    ``__name__``, None when it has none), without a line number."""
    return f"{'?' if module is None else module}:{code.co_qualname}"


def is_in_app_code(module: object, code: CodeType) -> bool:
    """Code of the project: not the standard library, site-packages or this app."""
    if str("" if module is None else module).partition(".")[0] in _LIBRARY_ROOTS:
        return False
    return not code.co_filename.startswith(_LIBRARY_PATHS)


def frame_name(frame: FrameType) -> str:
    """``module:function`` (qualified), without a line number."""
    return code_name(frame.f_globals.get("__name__"), frame.f_code)


def is_in_app(frame: FrameType) -> bool:
    """A frame of the project's code: not the standard library, site-packages or this app."""
    return is_in_app_code(frame.f_globals.get("__name__"), frame.f_code)


def fingerprint_parts(exception: BaseException | None, status: int, code: str) -> tuple[str, ...]:
    """What the grouping key is made of, read from the live frames: exception class + in-app
    frames, or status + code without a traceback. With no in-app frame, every frame counts."""
    tb = exception.__traceback__ if exception is not None else None
    if exception is None or tb is None:
        return ("status", str(status), code)
    frames = [(frame.f_globals.get("__name__"), frame.f_code) for frame, _ in walk_tb(tb)]
    return frames_parts(qualified_name(type(exception)), frames, status, code)


def frames_parts(
    exception_class: str, frames: Iterable[tuple[object, CodeType]], status: int, code: str
) -> tuple[str, ...]:
    """:func:`fingerprint_parts` from copies of the frames: ``(module, code object)`` of each
    frame of the exception's traceback (the recorder's thread computes it from a snapshot)."""
    every = list(frames)
    if not every:
        return ("status", str(status), code)
    in_app = [frame for frame in every if is_in_app_code(*frame)] or every
    return ("exception", exception_class, *(code_name(*frame) for frame in in_app))


def fingerprint_of(parts: tuple[str, ...]) -> str:
    """The grouping key of :func:`fingerprint_parts`: 64 hex characters."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def fingerprint(exception: BaseException | None, status: int, code: str) -> str:
    """The grouping key: exception class + in-app frames, or status + code without a traceback.

    No line numbers and no message, so a deploy that moves code or an error whose message
    carries an id does not start a new group.
    """
    return fingerprint_of(fingerprint_parts(exception, status, code))
