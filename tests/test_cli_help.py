"""`--help` lists every option, flags as flags; the README's claims about the options match the commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from convcalc.cli import app
from tests.conftest import ROOT

GROUP: Any = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS_SECTION = README.split("\n## Commands\n")[1].split("\n## ")[0]


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option"]


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("name", ["", *COMMANDS])
def test_help_lists_every_option_and_shows_flags_as_flags(name: str) -> None:
    text = _help(*([name] if name else []))
    assert "<bool>" not in text and "BOOLEAN" not in text and "[bool]" not in text
    command = GROUP.commands[name] if name else GROUP
    for p in _options(command):
        for opt in p.opts:
            assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text), (name, opt)
        if p.is_flag:  # nothing but spaces between the flag and its help text
            line = next(x for x in text.splitlines() if p.opts[0] in x)
            assert re.search(rf"{re.escape(p.opts[0])}\s+{re.escape((p.help or 'Show')[:12])}", line), line
    assert re.search(r"--help\s+Show this message", text)


def test_help_through_the_console_script_path() -> None:
    """The same help through `python -m convcalc` (the fast path hands --help to Typer)."""
    env = {**os.environ, "COLUMNS": "200"}
    for name in ("check", "show", "rf"):
        p = subprocess.run([sys.executable, "-m", "convcalc", name, "--help"], capture_output=True, text=True,
                           cwd=ROOT, env=env, timeout=120)
        assert p.returncode == 0 and "<bool>" not in p.stdout and "--exact " in p.stdout, p.stdout


def test_readme_option_claims_match_the_commands() -> None:
    """'Every command but `schema` (…), `import` (…) and `report` (…) takes `--format table|json|csv|markdown`
    and `--exact`; `check` and `diff` also take `--format github|junit`': true of every command, as the README says."""
    m = re.search(r"Every command but `(\w+)` \([^)]*\), `(\w+)` \([^)]*\) and `(\w+)` \([^)]*\) takes `--format "
                  r"([a-z|]+)` and `--exact`; `(\w+)` and `(\w+)` also take `--format ([a-z|]+)`",
                  COMMANDS_SECTION.replace("\n", " "))
    assert m, "the README's sentence about --format and --exact"
    without, base, extra = {m.group(1), m.group(2), m.group(3)}, set(m.group(4).split("|")), set(m.group(7).split("|"))
    more = {m.group(5), m.group(6)}
    for name in COMMANDS:
        opts = {o: p for p in _options(GROUP.commands[name]) for o in p.opts}
        if name in without:
            assert "--format" not in opts and "--exact" not in opts, name
            continue
        assert "--exact" in opts and opts["--exact"].is_flag, name
        choices = {str(getattr(c, "value", c)) for c in opts["--format"].type_descriptor.choices} \
            if hasattr(opts["--format"], "type_descriptor") else set(opts["--format"].type.choices)
        assert choices == (base | extra if name in more else base), name


def test_every_option_the_commands_section_names_exists() -> None:
    known = {o for name in COMMANDS for p in _options(GROUP.commands[name]) for o in p.opts}
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", COMMANDS_SECTION))
    assert named and named <= known, named - known
