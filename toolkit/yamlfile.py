"""Reading YAML a user wrote (recipes, data cards, override values) safely and strictly.

``yaml.safe_load`` builds only plain data, but a key written twice silently keeps the last value:
two ``train:`` sections merge into one without a word. ``load_user_yaml`` refuses that, naming
the line of the second key and of the first.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(ConstructorError):
    """A mapping holds the same key twice."""


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that raises DuplicateKeyError when a mapping holds the same key twice.

    YAML merge keys (``<<: *defaults``) followed by an explicit key are overrides by design, so
    only the keys written in the mapping itself are compared.
    """

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        first_lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first_lines.get(key)
            except TypeError:  # an unhashable key: the base class explains it
                continue
            if earlier is not None:
                raise DuplicateKeyError(
                    None, None,
                    f"duplicate key '{key}' (first at line {earlier}); a key written twice would "
                    f"silently replace the first, so merge the two into one",
                    key_node.start_mark,
                )
            first_lines[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_user_yaml(text: str) -> Any:
    """Parse YAML text with safe types only, refusing duplicate keys."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def read_user_yaml(path, error: type[Exception], what: str) -> Any:
    """The YAML file at ``path`` parsed as load_user_yaml does; a file that is not UTF-8 or not valid
    YAML raises ``error`` in one line naming ``what`` it should be ("Recipe", "Search space") and
    where it went wrong."""
    try:
        return load_user_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML{describe_yaml_error(exc)}.") from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path} is not UTF-8 text (byte {exc.start}).") from None


def describe_yaml_error(exc: yaml.YAMLError) -> str:
    """' at line L, column C: problem' - one line, without PyYAML's multi-line source excerpt."""
    if isinstance(exc, yaml.reader.ReaderError):  # binary data, or a control character
        character = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or b"\0")
        return (f" at character {exc.position}: unacceptable character #x{character:04x} "
                f"({exc.reason}); a YAML file holds text only")
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{where}: {' '.join(str(problem).split())}"
