"""Regenerate the pictures under docs/ and the README's sweep example from the current code.

    python docs/figures.py                 # needs the plot extra: pip install -e '.[plot]'
    python docs/figures.py --readme-only   # only the README's sweep example

Each picture is the output of a convcalc command (listed in FIGURES); the README block between
``<!-- sweep-example:start -->`` and ``<!-- sweep-example:end -->`` is replaced by the console example
of SWEEP and its real output. tests/test_docs.py re-runs every console example of the README, so a stale
block fails the tests.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
#: the README's sweep example
SWEEP = ("convcalc sweep mobilenet_v2 --set width=0.5,0.75,1.0 --size 160:224:32 --budget max_macs=200M "
         "--budget max_peak_memory=8MiB")
#: (command, picture): each writes the picture with --plot
FIGURES = [
    ("convcalc sweep mobilenet_v2 --set width=0.5:1.0:0.125 --size 160:320:32", "docs/sweep-mobilenet_v2.png"),
    ("convcalc show resnet50", "docs/show-resnet50.png"),
    ("convcalc rf resnet50", "docs/rf-resnet50.png"),
    ("convcalc rf resnet50 --map layer2", "docs/rf-map-resnet50-layer2.png"),
]


def run(command: str) -> str:
    from convcalc.cli import app

    args = shlex.split(command)[1:]
    result = CliRunner().invoke(app, args)
    if result.exit_code != 0:
        raise SystemExit(f"{command}: exit {result.exit_code}\n{result.stdout}{result.stderr}")
    return result.stdout + result.stderr


def main() -> int:
    sys.path.insert(0, str(ROOT))
    for command, picture in [] if "--readme-only" in sys.argv else FIGURES:
        run(f"{command} --plot {ROOT / picture}")
        print(f"wrote {picture}  ({command})")
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- sweep-example:start -->\n", "<!-- sweep-example:end -->"
    head, rest = text.split(start)
    _, tail = rest.split(end)
    block = f"```console\n$ {SWEEP}\n{run(SWEEP).rstrip()}\n```\n"
    readme.write_text(head + start + block + end + tail, encoding="utf-8")
    print("wrote README.md's sweep example")
    return 0


if __name__ == "__main__":
    sys.exit(main())
