"""The start-up fast path of the command line: a plain command line is parsed from Typer's own declarations
and the command called directly, skipping Typer's per-parameter validation. Part of the CLI layer."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable

import typer

from convcalc.cli import app

# --- start-up fast path ---------------------------------------------------------------------------------------------
#
# On every run Typer validates each parameter of the invoked command through a pydantic TypeAdapter it builds on
# the spot: importing pydantic and building the adapters costs more than everything convcalc itself does to show a
# ResNet-50 (0.1 s or more). A plain command line needs none of it: a command name, then its positional arguments
# and its own options as `--name value`, `--name=value`, `-n value` or `--flag`, whose values are strings, enum
# values or flags. Such a line is parsed here from the very OptionInfo/ArgumentInfo declarations Typer reads, and
# the command function is called directly. Anything else (no command, --help, --version, an unknown option, a bad
# choice, a missing or extra argument, `--`, a parameter type or feature not handled here) returns None and Typer
# parses, reports and exits exactly as always. tests/test_fast_paths.py checks both paths give the same output.

_FLAG, _TEXT, _CHOICE, _LIST = "flag", "text", "choice", "list"


def _param_kind(hint: object) -> str | None:
    """flag (bool), text (str or str | None), choice (an Enum), list (list[str] or list[str] | None)."""
    import types
    import typing

    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        return _param_kind(rest[0]) if len(rest) == 1 and rest[0] is not bool else None
    if hint is bool:
        return _FLAG
    if hint is str:
        return _TEXT
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _CHOICE
    if typing.get_origin(hint) is list and typing.get_args(hint) == (str,):
        return _LIST
    return None


def direct(args: list[str]) -> list[tuple[Callable[..., object], dict[str, object]]] | None:
    """The functions to call (group callback, command) with their keyword arguments for a plain command line,
    or None: let Typer do it."""
    import inspect
    import os
    import typing

    from typer.models import ArgumentInfo, OptionInfo

    if not args or args[0].startswith("-") or "_CONVCALC_COMPLETE" in os.environ or os.name == "nt":
        return None
    calls: list[tuple[Callable[..., object], dict[str, object]]] = []
    group = app.registered_callback
    if group is not None and group.callback is not None:  # its options (--version) act only when given
        for p in inspect.signature(group.callback).parameters.values():
            if not (isinstance(p.default, OptionInfo) and p.default.is_eager and p.default.default is False):
                return None
        calls.append((group.callback, {p: False for p in inspect.signature(group.callback).parameters}))
    command = next((c for c in app.registered_commands if c.callback is not None
                    and (c.name or c.callback.__name__.lower().replace("_", "-")) == args[0]), None)
    if command is None or command.callback is None or command.context_settings or command.deprecated \
            or (command.no_args_is_help and len(args) == 1):
        return None
    fn = command.callback
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation this module cannot resolve: Typer knows better
        return None
    options: dict[str, tuple[str, str, object]] = {}  # "--flag" -> (parameter, kind, enum class)
    positional: list[tuple[str, str, ArgumentInfo]] = []
    values: dict[str, object] = {}
    for name, p in inspect.signature(fn).parameters.items():
        info, kind = p.default, _param_kind(hints.get(name))
        if kind is None or not isinstance(info, (OptionInfo, ArgumentInfo)) or info.callback is not None \
                or info.envvar is not None or info.parser is not None or info.default_factory is not None \
                or not info.expose_value or getattr(info, "click_type", None) is not None \
                or getattr(info, "prompt", False) or getattr(info, "count", False) \
                or (kind == _CHOICE and not info.case_sensitive):
            return None
        if isinstance(info, ArgumentInfo):
            positional.append((name, kind, info))
            continue
        decls = info.param_decls or ()
        if not decls or any(not d.startswith("-") or "/" in d or " " in d for d in decls) \
                or (kind == _FLAG and info.default is not False):
            return None
        for d in decls:
            options[d] = (name, kind, hints.get(name))
        values[name] = info.default
    given: list[str] = []
    seen_lists: set[str] = set()
    rest, i = args[1:], 0
    while i < len(rest):
        token, i = rest[i], i + 1
        if not token.startswith("-") or token == "-":
            given.append(token)
            continue
        flag, eq, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if flag not in options:
            return None  # --help, --, an unknown option, -fjson ...
        name, kind, cls = options[flag]
        if kind == _FLAG:
            if eq:
                return None
            values[name] = True
            continue
        if not eq:
            if i >= len(rest) or rest[i].startswith("-"):
                return None
            value, i = rest[i], i + 1
        if kind == _LIST:
            if name not in seen_lists:
                seen_lists.add(name)
                values[name] = []
            typing.cast(list[str], values[name]).append(value)
        elif kind == _CHOICE:
            choices = {str(m.value): m for m in typing.cast(type[enum.Enum], cls)}
            if value not in choices:
                return None
            values[name] = choices[value]
        else:
            values[name] = value
    for n, (name, kind, info) in enumerate(positional):
        if kind == _LIST:
            if n != len(positional) - 1:
                return None
            values[name], given = (given, []) if given else (info.default, given)
            if values[name] is ...:
                return None
        elif given:
            values[name] = given.pop(0)
        elif info.default is ...:
            return None
        else:
            values[name] = info.default
    if given:
        return None
    return [*calls, (fn, values)]


def call_direct(calls: list[tuple[Callable[..., object], dict[str, object]]], args: list[str]) -> None:
    """Call a command as Typer's standalone mode would: exit codes, Exit, Abort, usage errors, a closed pipe."""
    import errno
    import os

    click_error: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    try:
        try:
            for fn, kwargs in calls:
                fn(**kwargs)
        except EOFError as exc:
            sys.stderr.write("\n")
            raise typer.Abort() from exc
        except KeyboardInterrupt as exc:
            raise typer.Exit(130) from exc
        except click_error as exc:
            _show_usage_error(exc, args)
            sys.exit(getattr(exc, "exit_code", 2))
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            sys.stdout = open(os.devnull, "w")  # as click does: no second error when Python flushes at exit
            sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        try:
            from typer import rich_utils

            rich_utils.rich_abort_error()
        except ImportError:
            sys.stderr.write("Aborted!\n")
        sys.exit(1)


def _show_usage_error(exc: Exception, args: list[str]) -> None:
    """Show a usage error raised by a command body with its usage line, as Typer does (click's context)."""
    import typer.core
    import typer.main

    group = typer.main.get_command(app)
    if getattr(exc, "ctx", None) is None:
        ctx = group.make_context("convcalc", list(args), resilient_parsing=True)
        command = group.get_command(ctx, args[0]) if hasattr(group, "get_command") else None
        if command is not None:
            exc.ctx = command.make_context(args[0], list(args[1:]), parent=ctx, resilient_parsing=True)  # type: ignore[attr-defined]
    if getattr(typer.core, "HAS_RICH", True) and getattr(group, "rich_markup_mode", "rich") is not None:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
    else:
        exc.show()  # type: ignore[attr-defined]
