"""Look ahead in the query: which fields will be asked of the objects a resolver returns.

A resolver that returns many objects can then load their children for all of them at
once, and the children resolve without awaiting. Fragments are looked through and type
conditions ignored: at worst something is loaded that is not used.
"""

from __future__ import annotations

from collections.abc import Iterable

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from app.graphql.context import Info


def selects(info: Info, *path: str) -> bool:
    """Whether the current field's selection reaches `path`, e.g. ("edges", "node", "items").

    Answered once per request for each field of the document: the 50 `orders` fields of a
    page of users share their syntax nodes, so they share the answer.
    """
    key = (*map(id, info._raw_info.field_nodes), *path)
    cache = info.context.lookahead
    found = cache.get(key)
    if found is None:
        found = cache[key] = _reaches(_fields(info.selected_fields), path, top=True)
    return found


def _reaches(fields: Iterable[SelectedField], path: tuple[str, ...], *, top: bool = False) -> bool:
    if top:
        return any(_reaches(_fields(field.selections), path) for field in fields)
    if not path:
        return True
    head, rest = path[0], path[1:]
    return any(field.name == head and _reaches(_fields(field.selections), rest) for field in fields)


def _fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)
