"""Bounded, safe YAML loading for files that strangers write.

``load_yaml`` takes raw bytes and a size bound and returns plain data (dicts, lists,
str, int, float, bool, None) plus a :class:`LineMap` telling on which line every mapping
key and sequence item was written, so later checks can point at the offending line.

What it refuses, and why:

- files over the bound, before parsing (a parser's cost grows with its input);
- anything that is not strict UTF-8, or holds NUL bytes (a binary file dropped by mistake);
- more than one document, or none (``---`` halfway through a post is almost always a slip);
- tags beyond plain YAML (``!!python/object``, ``!!binary``, ``!custom`` ...): post files
  hold text, numbers, lists and mappings, nothing that builds objects;
- data that, with aliases expanded, exceeds :data:`MAX_NODES` values or :data:`MAX_DEPTH`
  levels of nesting; it is measured on the alias graph without expanding it, so a
  "billion laughs" file is refused in well under a millisecond.

The implicit types follow YAML 1.2's core schema rather than PyYAML's YAML 1.1: dates and
times stay strings (``scheduler.intake.times`` reads them in the configured zone), ``16:00`` is
not the sexagesimal number 960, ``no``/``on`` are words, not booleans, and a number
with a leading zero (``007``) stays text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml

try:  # libyaml is much faster and bounds flow nesting itself; fall back when absent.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MAX_NODES = 10_000
MAX_DEPTH = 20

Loc: TypeAlias = tuple[str | int, ...]

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (
    f"{_YAML}{name}" for name in ("str", "int", "float", "bool", "null")
)
_SEQ, _MAP, _MERGE = _YAML + "seq", _YAML + "map", _YAML + "merge"
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})


@dataclass(frozen=True)
class YamlProblem:
    line: int | None
    message: str


class YamlInvalid(Exception):
    """The bytes are not a usable YAML document; ``problems`` says why, with lines."""

    def __init__(self, problems: list[YamlProblem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class LineMap:
    """1-based line of every mapping key and sequence item, by its location in the data."""

    lines: Mapping[Loc, int] = field(default_factory=dict)

    def line_for(self, loc: Loc) -> int | None:
        """The line of ``loc``, else of its nearest known parent, else ``None``."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


@dataclass(frozen=True)
class LoadedYaml:
    data: Any
    lines: LineMap


class _PostLoader(_BaseLoader):
    """SafeLoader with YAML 1.2 core-schema implicit types (see the module docstring)."""


# Start from an empty table rather than PyYAML's: its timestamp, sexagesimal and yes/no
# resolvers are exactly what post files must not get.
_PostLoader.yaml_implicit_resolvers = {}


for _tag, _pattern, _first in (
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_INT, r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
    (
        _FLOAT,
        r"^[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$",
        "-+.0123456789",
    ),
    (_FLOAT, r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+."),
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_MERGE, r"^<<$", "<"),
):
    _PostLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def load_yaml(raw: bytes, *, max_bytes: int) -> LoadedYaml:
    """Parse one YAML document from ``raw``; raise :class:`YamlInvalid` listing every problem."""
    text = _decode(raw, max_bytes=max_bytes)
    _check_events(text)
    loader = _PostLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        raise YamlInvalid([_syntax_problem(error)]) from None
    finally:
        loader.dispose()
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _NULL):
        raise YamlInvalid([YamlProblem(None, "the file is empty")])
    _check_expansion(root)
    builder = _Builder(loader)
    data = builder.build(root, ())
    if builder.problems:
        raise YamlInvalid(sorted(builder.problems, key=lambda p: p.line or 0))
    return LoadedYaml(data=data, lines=LineMap(builder.lines))


def _decode(raw: bytes, *, max_bytes: int) -> str:
    if len(raw) > max_bytes:
        raise YamlInvalid(
            [YamlProblem(None, f"the file is {len(raw)} bytes; the limit is {max_bytes} bytes")]
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise YamlInvalid(
            [
                YamlProblem(
                    raw.count(b"\n", 0, nul) + 1,
                    f"the file holds a NUL byte at offset {nul}; it looks like a binary file, "
                    "not YAML text",
                )
            ]
        )
    try:
        # utf-8-sig: editors on Windows still like to start files with a byte-order mark.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise YamlInvalid(
            [
                YamlProblem(
                    raw.count(b"\n", 0, error.start) + 1,
                    f"the file is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset "
                    f"{error.start}); save it as UTF-8",
                )
            ]
        ) from None


def _check_events(text: str) -> None:
    """Refuse several documents and deep nesting before anything is composed.

    The composer recurses once per nesting level; bounding the depth on the flat event
    stream first keeps that recursion shallow whichever loader is in use.
    """
    loader = _PostLoader(text)
    depth = documents = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlInvalid(
                        [
                            YamlProblem(
                                _line(event.start_mark),
                                "a second YAML document starts here (after ---); "
                                "a post file holds exactly one",
                            )
                        ]
                    )
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlInvalid([_too_deep(_line(event.start_mark))])
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as error:
        raise YamlInvalid([_syntax_problem(error)]) from None
    finally:
        loader.dispose()
    if documents == 0:
        raise YamlInvalid([YamlProblem(None, "the file is empty")])


def _line(mark: Any) -> int | None:
    return int(mark.line) + 1 if mark is not None else None


def _syntax_problem(error: yaml.MarkedYAMLError) -> YamlProblem:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else None
    message = f"not valid YAML: {error.problem or 'syntax error'}"
    if error.context:
        message += f" ({error.context}"
        if error.context_mark is not None and error.context_mark.line + 1 != line:
            message += f" on line {error.context_mark.line + 1}"
        message += ")"
    return YamlProblem(line, message)


def _too_deep(line: int | None) -> YamlProblem:
    return YamlProblem(line, f"the data is nested more than {MAX_DEPTH} levels deep")


class _TooBig(Exception):
    """Stops the measuring walk at once; carries the problem to report."""


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a graph whose alias expansion is too large or too deep, before building it.

    Aliases make the composed graph a DAG (or a cycle) whose expansion can be exponential
    in its size. Each distinct node is measured once and its (expanded size, height)
    memoised, so a "billion laughs" costs a few hundred steps to refuse.
    """
    measured: dict[int, tuple[int, int]] = {}

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        known = measured.get(id(node))
        if known is None:
            if depth >= MAX_DEPTH and not isinstance(node, yaml.ScalarNode):
                # Also where a recursive alias (`&a [*a]`) ends up.
                raise _TooBig(_too_deep(_line(node.start_mark)))
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            # height: collection levels from here down (a scalar has none).
            size, height = 1, int(not isinstance(node, yaml.ScalarNode))
            for child in children:
                child_size, child_height = measure(child, depth + 1)
                size += child_size
                height = max(height, child_height + 1)
                if size > MAX_NODES:
                    break
            known = measured[id(node)] = (size, height)
        size, height = known
        if depth + height > MAX_DEPTH:
            raise _TooBig(_too_deep(_line(node.start_mark)))
        if size > MAX_NODES:
            raise _TooBig(
                YamlProblem(
                    _line(node.start_mark),
                    f"the data expands to more than {MAX_NODES} values (anchors and aliases "
                    "repeat it); write it out plainly",
                )
            )
        return known

    try:
        measure(root, 0)
    except _TooBig as stop:
        raise YamlInvalid([stop.args[0]]) from None


class _Builder:
    """Turns the composed node graph, already measured, into plain data and a line map."""

    def __init__(self, loader: _PostLoader) -> None:
        self.loader = loader
        self.lines: dict[Loc, int] = {}
        self.problems: list[YamlProblem] = []

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, line)
        if isinstance(node, yaml.SequenceNode) and self._tag_ok(node, _SEQ, line):
            items = []
            for index, item in enumerate(node.value):
                self.lines[(*loc, index)] = item.start_mark.line + 1
                items.append(self.build(item, (*loc, index)))
            return items
        if isinstance(node, yaml.MappingNode) and self._tag_ok(node, _MAP, line):
            return self._mapping(node, loc)
        return None

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: dict[str, int] = {}
        merges = [value for key, value in node.value if key.tag == _MERGE]
        # Merged keys come first so that keys written in this mapping override them; in a
        # list of merged mappings the earlier ones win, hence the reversed order.
        for source in merges:
            sources = source.value if isinstance(source, yaml.SequenceNode) else [source]
            for merged in reversed(sources):
                if not isinstance(merged, yaml.MappingNode):
                    self._problem(merged, "<< (merge) takes a mapping or a list of mappings")
                    continue
                result.update(self.build(merged, loc))
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node, "a mapping key must be a plain word, not a list or mapping")
                continue
            if not self._tag_ok(key_node, None, key_line):
                continue
            # Keys are names in every file relais reads, so they stay the text written.
            key = str(key_node.value)
            if key in explicit:
                self._problem(key_node, f"{key!r} appears twice (first on line {explicit[key]})")
                continue
            explicit[key] = key_line
            self.lines[(*loc, key)] = key_line
            result[key] = self.build(value_node, (*loc, key))
        return result

    def _scalar(self, node: yaml.ScalarNode, line: int) -> Any:
        if not self._tag_ok(node, None, line):
            return None
        try:
            return self.loader.construct_object(node)
        except yaml.constructor.ConstructorError as error:
            self.problems.append(YamlProblem(line, f"not valid YAML: {error.problem}"))
            return None
        except ValueError:
            # e.g. an integer of more digits than Python converts (sys.int_info limit)
            self.problems.append(YamlProblem(line, "a value here is too large to read"))
            return None

    def _tag_ok(self, node: yaml.Node, expected: str | None, line: int) -> bool:
        allowed = _SCALAR_TAGS if expected is None else frozenset({expected})
        if node.tag in allowed:
            return True
        shown = "!!" + node.tag.removeprefix(_YAML) if node.tag.startswith(_YAML) else node.tag
        self.problems.append(
            YamlProblem(
                line,
                f"the tag {shown} is not allowed; write plain text, numbers, lists and mappings",
            )
        )
        return False

    def _problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(YamlProblem(node.start_mark.line + 1, message))
