"""Path patterns as budgets files and ``--exclude`` write them: ``**`` crosses directories, ``*`` and
``?`` do not, ``[abc]`` is a class, a pattern without ``/`` matches file names anywhere, and a pattern
ending in ``/`` matches everything below that directory."""

from __future__ import annotations

import re


def glob_regex(pattern: str) -> re.Pattern[str]:
    """``**`` crosses directories, ``*`` and ``?`` do not, ``[abc]`` is a class."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + re.escape(body[1:]) if body.startswith("!") else re.escape(body)) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class PathPattern:
    """One pattern, compiled once; :meth:`matches` takes a ``/``-separated path.

    ``anywhere``: the pattern may also match any trailing part of the path (``data/*.yaml`` matches
    ``specs/data/coco.yaml``), as ``--exclude`` takes it; budgets files match from their own directory.
    """

    def __init__(self, pattern: str, anywhere: bool = False) -> None:
        self.anywhere = anywhere
        p = pattern.removeprefix("./")
        if p.endswith("/"):
            p += "**"
        self.pattern = pattern
        self._basename_only = "/" not in p
        self._regex = glob_regex(p)

    def matches(self, path: str) -> bool:
        if self._basename_only:
            return self._regex.match(path.rsplit("/", 1)[-1]) is not None
        parts = path.removeprefix("./").split("/")
        tails = range(len(parts)) if self.anywhere else range(1)
        return any(self._regex.match("/".join(parts[i:])) for i in tails)
