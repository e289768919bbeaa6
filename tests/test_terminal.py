"""Real terminals: every command's table in an 80-column pseudo-terminal keeps every number whole, and streams
that cannot encode × or box characters get ASCII instead of a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from convcalc.cli import app
from tests.conftest import ROOT

COMMANDS = [
    "compare specs/seed/stack-5x5.yaml",
    "compare specs/seed/same-channels.yaml --exact",
    "show resnet50",
    "show resnet50 --exact",
    "rf resnet50",
    "rf specs/seed/inception.yaml",
    "rf specs/v2/unet.yaml",  # units' windows differ (188–204): a range and a period column
    "rf specs/v2/resnet50_fpn.yaml",  # five outputs
    "check specs/",
    "check specs/ --exact",
    "diff tests/fixtures/diff/base.yaml tests/fixtures/diff/head.yaml",
    "zoo",
    "zoo --exact",
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
CUT_NUMBER = re.compile(r"[0-9,.×%]…")
#: a number, shape, ratio or percentage standing on its own (not inside a name such as layer1 or resnet50)
NUMBER = re.compile(r"(?<![\w/.…])[+-]?\d[\d,]*(?:\.\d+)?(?:×\d[\d,]*(?:\.\d+)?)*[×%]?(?![\w…])")
NARROW = re.compile(r"narrowterminal:.*?(?:showsall|showsthetable)")
#: every command in one process, as the console entry point runs them, each output closed by "@@ <exit code>"
LOOP = """
import sys
from convcalc.cli import run
for argv in sys.argv[1:]:
    try:
        run(argv.split("|"))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    sys.stdout.flush()
    sys.stdout.write("\\n@@ %d\\n" % code)
    sys.stdout.flush()
    sys.stderr.write("@@\\n")
"""


def _in_terminal(commands: list[str], rows: int = 50, cols: int = 80) -> list[tuple[int, str, str]]:
    """Run the commands one after the other, as the console entry point (``python -m convcalc``) runs them,
    in one process whose stdin and stdout are a pseudo-terminal of ``cols`` × ``rows`` (COLUMNS unset):
    (exit code, what the terminal showed without escapes, stderr) of each."""
    import fcntl
    import struct
    import termios

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", PYTHONIOENCODING="utf-8")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen([sys.executable, "-c", LOOP, *(c.replace(" ", "|") for c in commands)], stdin=slave,
                         stdout=slave, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the process has exited and closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert p.stderr is not None
    err = p.stderr.read().decode()
    p.stderr.close()
    assert p.wait(timeout=60) == 0, err
    parts = re.split(r"\n@@ (\d+)\n", ANSI.sub("", b"".join(chunks).decode("utf-8").replace("\r\n", "\n")))
    errs = err.split("@@\n")
    return [(int(code), text, e) for text, code, e in zip(parts[0:-1:2], parts[1::2], errs, strict=False)]


@dataclass
class Printed:
    """A Rich table as printed: its header, its rows (each cell as the lines it spans) and the prose before it."""

    prose: list[str]
    header: list[str]
    rows: list[list[list[str]]] = field(default_factory=list)


def _cells(line: str, bar: str) -> list[str]:
    return [c.strip() for c in line.strip()[1:-1].split(bar)]


def _parse(text: str) -> tuple[list[Printed], list[str]]:
    """The tables of an output, and the prose after the last one."""
    tables: list[Printed] = []
    prose: list[str] = []
    lines, i = text.splitlines(), 0
    while i < len(lines):
        if lines[i].startswith("┏"):
            t = Printed(prose, _cells(lines[i + 1], "┃"))
            i += 3
            while not lines[i].startswith("└"):
                if not lines[i].startswith("├"):
                    cells = _cells(lines[i], "│")
                    if cells[0] or not t.rows:
                        t.rows.append([[c] for c in cells])
                    else:  # a wrapped row goes on
                        for spans, c in zip(t.rows[-1], cells, strict=True):
                            spans.append(c)
                i += 1
            tables.append(t)
            prose = []
        else:
            prose.append(lines[i])
        i += 1
    return tables, prose


def _squeeze(lines: list[str]) -> str:
    return "".join("".join(lines).split())


def test_every_table_fits_80_columns_with_every_number_whole() -> None:
    runner = CliRunner()
    shown = _in_terminal(COMMANDS)
    for command, (code, text, err) in zip(COMMANDS, shown, strict=True):
        piped = runner.invoke(app, command.split())
        assert code == piped.exit_code and "Traceback" not in err, (command, err)
        lines = text.splitlines()
        assert max(cell_len(line) for line in lines) <= 80, command
        assert not CUT_NUMBER.search(text), command
        assert set(NUMBER.findall(text)) <= set(NUMBER.findall(piped.stdout)), command
        wide, wide_rest = _parse(piped.stdout)
        narrow, narrow_rest = _parse(text)
        assert len(narrow) == len(wide) >= 1, command
        for i, (n, w) in enumerate(zip(narrow, wide, strict=True)):
            # the kept columns, in order; what is left out is said in the note (after the table: before the
            # next one, as rf's outputs table)
            at, j = [], 0
            for h in n.header:
                j = w.header.index(h, j)
                at.append(j)
                j += 1
            note = NARROW.findall(_squeeze(n.prose + (narrow[i + 1].prose if i + 1 < len(narrow) else narrow_rest)))
            gone = [h for k, h in enumerate(w.header) if k not in at]
            assert all(h.replace(" ", "") in "".join(note) for h in gone), (command, gone)
            assert len(n.rows) == len(w.rows), command
            for nrow, wrow in zip(n.rows, w.rows, strict=True):
                assert all(len(spans) == 1 for spans in wrow)  # piped: one line per row
                for spans, k in zip(nrow, at, strict=True):
                    whole, now = wrow[k][0], _squeeze(spans)
                    if "…" in now and "…" not in whole:  # a shortened name keeps both ends
                        head, tail = now.split("…")
                        assert whole.startswith(head) and whole.endswith(tail), (command, whole, now)
                    else:  # anything else: every character, wrapped at most
                        assert now == "".join(whole.split()), (command, whole, now)
        # titles and notes: the same words, plus the note about the narrow terminal
        said = "".join(_squeeze(t.prose) for t in narrow) + _squeeze(narrow_rest)
        assert NARROW.sub("", said) == "".join(_squeeze(t.prose) for t in wide) + _squeeze(wide_rest), command


ENCODED = [
    "show specs/seed/stack-5x5.yaml", "show specs/seed/stack-5x5.yaml -f json",
    "compare specs/seed/stack-5x5.yaml", "compare specs/seed/same-channels.yaml -f json --exact",
    "rf specs/seed/inception.yaml", "rf resnet18 -f json",
    "rf specs/seed/dilated.yaml --map repeat1/2/conv1", "rf specs/seed/dilated.yaml --map conv3 -f json",
    "check specs/seed --budgets specs/budgets.yaml", "check specs/seed --budgets specs/budgets.yaml -f json",
    "check specs/seed/stack-5x5.yaml --max-params 2K -f markdown", "check specs/seed/stack-5x5.yaml -f junit",
    "diff tests/fixtures/diff/base.yaml tests/fixtures/diff/head.yaml",
    "diff tests/fixtures/diff/base.yaml tests/fixtures/diff/head.yaml -f json",
    "zoo", "zoo -f json", "zoo -f csv", "show tests/fixtures/typo.yaml",
]


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_streams_that_cannot_encode_unicode_get_ascii(encoding: str, tmp_path: object) -> None:
    from pathlib import Path

    spec = Path(str(tmp_path)) / "named.yaml"
    spec.write_text("name: café → ×\ninput: {channels: 1, size: 5}\nlayers:\n  - conv: {out: 2, kernel: 3}\n",
                    encoding="utf-8")
    commands = [*ENCODED, f"show {spec} -f json", f"show {spec}"]
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    p = subprocess.run([sys.executable, "-c", LOOP, *(c.replace(" ", "|") for c in commands)], capture_output=True,
                       cwd=ROOT, env=env, timeout=120)
    err = p.stderr.decode(encoding)
    assert p.returncode == 0 and "Traceback" not in err and "Error" not in err, err[-2000:]
    if encoding == "ascii":
        assert p.stdout.isascii() and p.stderr.isascii()
    parts = re.split(r"\n@@ (\d+)\n", p.stdout.decode(encoding).replace("\r\n", "\n"))
    outputs, codes = parts[0:-1:2], [int(c) for c in parts[1::2]]
    runner = CliRunner()
    for command, out, code in zip(commands, outputs, codes, strict=True):
        utf8 = runner.invoke(app, command.split())
        assert code == utf8.exit_code, command
        if "-f json" in command:  # JSON keeps every character, as \\u escapes
            assert json.loads(out) == json.loads(utf8.stdout), command
        elif "-f" not in command and utf8.stdout:
            assert out.count("\n") == utf8.stdout.count("\n"), command  # the same table, an ASCII box
            assert "┃" not in out and ("+--" in out or "--map" in command), command
    table = outputs[commands.index("compare specs/seed/stack-5x5.yaml")]
    times = "×" if encoding == "cp1252" else "x"  # what the encoding has is kept
    assert f"| one 5x5 |   2500 | 1.00{times} | 2500 |" in table and f"10{times}1{times}1" in table
    assert "café → ×" in json.loads(outputs[-2])["models"][0]["name"]
    assert "cafe -> " in outputs[-1] or "café -> " in outputs[-1]
    if encoding == "ascii":
        assert "  -.-.-.-.-.-.-\n  .............\n" in outputs[commands.index(ENCODED[6])]  # the footprint map
        assert outputs[commands.index(ENCODED[10])].startswith("## convcalc check\n\n[x] **budget exceeded**")
    assert "typo.yaml:3:29: layers[0].conv.kernal: unknown argument 'kernal'" in err
