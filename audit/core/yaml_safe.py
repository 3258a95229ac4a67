"""YAML for configs, policies and ``key=value`` options: plain data only, bounded in size.

PyYAML's safe loader builds only plain types, but it still expands aliases: a few lines of
``&a [*a, *a, ...]`` stand for billions of nodes once anything walks them (validation, JSON
dumping, even the repr of an error message). Configs never need aliases, so they are refused,
along with duplicate keys (the last one would silently win), files over 1 MiB and nesting deeper
than Python can walk.
"""

from __future__ import annotations

from typing import Any

import yaml

from rai_audit.models.errors import InvalidConfigError

MAX_YAML_BYTES = 2**20


class _Loader(yaml.SafeLoader):
    where = "YAML"

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise InvalidConfigError(
                f"{self.where}: YAML aliases (*{event.anchor}) are not allowed; write the value "
                "out where it is used"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key; the base class says so
                break
            if duplicate:
                raise InvalidConfigError(
                    f"{self.where}: the key {key!r} appears twice (line "
                    f"{key_node.start_mark.line + 1}); keep one"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, where: str) -> Any:
    """Parse ``text`` as plain YAML data.

    Args:
        text: the document.
        where: what it is, for messages (``config file 'a.yaml'``).

    Raises:
        InvalidConfigError: not valid YAML, too large, too deep, an alias or a duplicate key.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise InvalidConfigError(
            f"{where} is larger than {MAX_YAML_BYTES // 2**10} KiB; a config or policy is a few "
            "lines"
        )
    loader = _Loader(text)
    loader.where = where
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise InvalidConfigError(f"{where} is not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise InvalidConfigError(f"{where} is nested too deeply to read") from exc
    finally:
        loader.dispose()
