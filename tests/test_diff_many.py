"""`convcalc diff` for a whole pull request (issue 10): a new file, a deleted file, two directories, every
spec against a git ref, and growth messages that never read as equal to the limit."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import invoke

ROOT = Path(__file__).resolve().parent.parent
HEAD = "tests/fixtures/diff/head.yaml"


def net(out: int, name: str = "net") -> str:
    """A 1×1 conv from 1 channel on a 1×1 input: ``out`` params and MACs."""
    return (f"name: {name}\ninput: {{channels: 1, size: 1}}\ndefaults: {{bias: false}}\n"
            f"layers:\n  - conv: {{out: {out}, kernel: 1}}\n")


def run(*args: str, cwd: Path = ROOT) -> Any:
    return invoke(["diff", *args], cwd)


def as_json(*args: str, cwd: Path = ROOT) -> tuple[int, dict[str, Any]]:
    result = run(*args, "--format", "json", cwd=cwd)
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("nothing", ["/dev/null", "empty"])
def test_a_new_file_adds_every_layer_and_a_deleted_one_removes_them(nothing: str, tmp_path: Path) -> None:
    if nothing == "empty":
        (tmp_path / "empty.yaml").write_text("# nothing yet\n")
        nothing = str(tmp_path / "empty.yaml")
    code, data = as_json(nothing, HEAD, "--fail-above", "5%")
    assert code == 0  # growth of a new model is not growth of an existing total
    [m] = data["models"]
    assert (m["name"], m["status"]) == ("net", "added")
    assert m["totals"]["params"] == {"base": None, "head": 22778, "delta": None, "percent": None}
    assert {x["status"] for x in m["layers"]} == {"added"} and len(m["layers"]) == 7
    assert data["files"] == [{"base": nothing, "head": HEAD, "status": "added", "errors": []}]
    code, data = as_json(HEAD, nothing)
    assert code == 0 and data["files"][0]["status"] == "removed"
    assert [(m["name"], m["status"]) for m in data["models"]] == [("net", "removed")]
    assert {x["status"] for x in data["models"][0]["layers"]} == {"removed"}
    table = run(nothing, HEAD)
    assert table.exit_code == 0 and "added" in table.stdout and "mid" in table.stdout


def test_two_directories_pair_specs_by_path(tmp_path: Path) -> None:
    for side, files in {"old": {"a.yaml": net(10), "sub/b.yaml": net(20), "gone.yaml": net(5)},
                        "new": {"a.yaml": net(12), "sub/b.yaml": net(20), "fresh.yaml": net(7),
                                "data.yaml": "train: images/\nnames: [cat]\n"}}.items():
        for name, text in files.items():
            (tmp_path / side / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / side / name).write_text(text)
    code, data = as_json("old", "new", "--fail-above", "10%", cwd=tmp_path)
    assert code == 1  # a.yaml grew by 20%
    assert [(f["base"], f["head"], f["status"]) for f in data["files"]] == [
        ("old/a.yaml", "new/a.yaml", "changed"), ("/dev/null", "new/fresh.yaml", "added"),
        ("old/gone.yaml", "/dev/null", "removed"), ("old/sub/b.yaml", "new/sub/b.yaml", "same")]
    assert [(g["file"], g["metric"], g["base"], g["head"]) for g in data["exceeded"]] == [
        ("new/a.yaml", "params", 10, 12), ("new/a.yaml", "macs", 10, 12), ("new/a.yaml", "flops", 20, 24)]
    assert [m["file"]["head"] for m in data["models"]] == ["new/a.yaml", "new/fresh.yaml", "/dev/null",
                                                          "new/sub/b.yaml"]
    md = run("old", "new", "--format", "markdown", cwd=tmp_path).stdout
    assert "| `new/fresh.yaml (new)` | added |" in md and "| `old/gone.yaml (deleted)` | removed |" in md
    csv_rows = run("old", "new", "--format", "csv", cwd=tmp_path).stdout.splitlines()
    assert csv_rows[0].startswith("file,model,row,layer,status,type,")
    assert any(r.startswith("old/gone.yaml,net,total,,removed,") for r in csv_rows)


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_pull_request_against_a_git_ref(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.yaml").write_text(net(100))
    (specs / "gone.yaml").write_text(net(3, "gone"))
    (specs / "budgets.yaml").write_text("budgets:\n  '*.yaml': {max_params: 1M}\n")
    (tmp_path / "README.md").write_text("x\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    (specs / "a.yaml").write_text(net(102))
    (specs / "new.yaml").write_text(net(9, "new"))
    (specs / "data.yaml").write_text("path: coco\n")
    (specs / "gone.yaml").unlink()
    code, data = as_json("--base-ref", "main", "specs", "--fail-above", "1%", cwd=tmp_path)
    assert code == 1, data
    assert (data["base"], data["head"]) == ("main", "the work tree")
    assert [(f["base"], f["head"], f["status"]) for f in data["files"]] == [
        ("main:specs/a.yaml", "specs/a.yaml", "changed"), ("main:specs/gone.yaml", "/dev/null", "removed"),
        ("/dev/null", "specs/new.yaml", "added")]
    assert data["models"][0]["totals"]["params"] == {"base": 100, "head": 102, "delta": 2, "percent": 2.0}
    # from a sub-directory, with the default path (.) and a single file
    code, data = as_json("--base-ref", "main", cwd=specs)
    assert [f["status"] for f in data["files"]] == ["changed", "removed", "added"]
    code, data = as_json("--base-ref", "main", "a.yaml", cwd=specs)
    assert [(f["base"], f["head"]) for f in data["files"]] == [("main:a.yaml", "a.yaml")]
    bad = run("--base-ref", "no-such-branch", "specs", cwd=tmp_path)
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert bad.stderr.startswith("--base-ref: no-such-branch: not a commit, branch or tag of this repository\n")
    outside = run("--base-ref", "main", cwd=tmp_path.parent)
    assert outside.exit_code == 2 and "not inside a git repository" in outside.stderr


def test_diff_usage_errors(tmp_path: Path) -> None:
    one = run(HEAD)
    assert one.exit_code == 2 and "give BASE and HEAD (found 1 specs)" in one.stderr
    (tmp_path / "d").mkdir()
    mixed = run(str(tmp_path / "d"), HEAD)
    assert mixed.exit_code == 2 and "a directory, and the other side is not one" in mixed.stderr


def test_a_broken_file_is_an_error_and_the_others_are_still_diffed(tmp_path: Path) -> None:
    for side in ("old", "new"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "a.yaml").write_text(net(10))
    (tmp_path / "old" / "b.yaml").write_text(net(10))
    (tmp_path / "new" / "b.yaml").write_text("input: {channels: 1, size: 1}\nlayers:\n  - conv: {out: 0}\n")
    result = run("old", "new", "--format", "json", cwd=tmp_path)
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert [f["status"] for f in data["files"]] == ["same", "error"]
    assert "new/b.yaml:3:17: layers[0].conv.out: expected an integer >= 1, found 0" in result.stderr


def test_growth_past_the_limit_never_reads_as_the_limit(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(net(10_000))
    (tmp_path / "b.yaml").write_text(net(10_021))  # +0.21%: one decimal would print 0.2%
    result = run(str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), "--fail-above", "0.2%", "--format", "markdown")
    assert result.exit_code == 1
    assert "params grew by 0.21% (10,000 → 10,021), more than the 0.2% allowed" in result.stdout
    (tmp_path / "c.yaml").write_text(net(10_000_021))
    (tmp_path / "d.yaml").write_text(net(10_020_043))  # +0.20022%
    result = run(str(tmp_path / "c.yaml"), str(tmp_path / "d.yaml"), "--fail-above", "0.2%", "--format", "markdown")
    assert "params grew by 0.2002% (10,000,021 → 10,020,043), more than the 0.2% allowed" in result.stdout
