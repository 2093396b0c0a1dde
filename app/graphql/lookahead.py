"""Look ahead in the query: which fields will be asked of the objects a resolver returns.

A resolver that returns many objects can then load their children for all of them at
once, and the children resolve without awaiting. Fragments are looked through and type
conditions ignored: at worst something is loaded that is not used.

The walk is over graphql-core's syntax nodes, each fragment looked through once per
step of the path. (Strawberry's `selected_fields` copies every spread of a fragment
anew, so a fragment that spreads the next one twice, 18 deep, took 25 seconds.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from app.graphql.context import Info


def selects(info: Info, *path: str) -> bool:
    """Whether the current field's selection reaches `path`, e.g. ("edges", "node", "items").

    Answered once per request for each field of the document: the 50 `orders` fields of a
    page of users share their syntax nodes, so they share the answer.
    """
    raw = info._raw_info
    key = (*map(id, raw.field_nodes), *path)
    cache = info.context.lookahead
    found = cache.get(key)
    if found is None:
        found = cache[key] = reaches(raw.field_nodes, path, raw.fragments)
    return found


def reaches(
    fields: Iterable[FieldNode],
    path: tuple[str, ...],
    fragments: Mapping[str, FragmentDefinitionNode],
) -> bool:
    """Whether the selections of `fields` reach `path` (fragments looked through, type
    conditions and directives ignored)."""
    level = [field.selection_set for field in fields if field.selection_set is not None]
    for name in path:
        named = [field for field in _fields(level, fragments) if field.name.value == name]
        if not named:
            return False
        level = [field.selection_set for field in named if field.selection_set is not None]
    return True


def _fields(
    selection_sets: Iterable[SelectionSetNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """The fields of `selection_sets`, looking through fragments, each fragment once."""
    found: list[FieldNode] = []
    spread: set[str] = set()
    stack = list(selection_sets)
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in spread:
                    spread.add(name)
                    stack.append(fragment.selection_set)
    return found
