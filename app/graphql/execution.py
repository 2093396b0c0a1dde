"""Field execution with a fast path for plain fields.

graphql-core runs every field through the same machinery: a resolve-info object, the
resolver, then value completion. For a field that is only an attribute read (no
resolver, no arguments) that machinery costs several times the read itself, and most
fields of a response are such fields: `sku`, `price`, an edge's `cursor` and `node`.

`PlainFieldsExecutionContext` reads those fields directly: a leaf is read and coerced
by its scalar or enum type, an object has its selection executed straight away. Anything
unusual (a null where the schema says non-null, a value its type cannot coerce, a value
of the wrong object type) takes graphql-core's own path, so errors are exactly what they
would have been. A getter that raises (a property) is the field's error, located at the
field and nulled or propagated as graphql-core does with a resolver's error.
Per-field middleware (a schema extension with a `resolve` hook) turns the fast path off.

A field is plain, and read directly, only when skipping graphql-core cannot skip
anything but the machinery:
- it takes no arguments, and Strawberry built it without field extensions (permission
  classes are one) or schema directives: those run, or may be read, only inside the
  resolve machinery (the cost directives are read by static analysis only, and do not
  count);
- it has no resolver of its own (Strawberry's `is_basic_field`), reads with the default
  `getattr`, and its GraphQL resolve function is still Strawberry's default one;
- its type is a scalar, an enum, an object or a list of non-null objects (never an
  abstract type: Strawberry's exception handlers, which apply to unions only, are never
  skipped), and an object type's `is_type_of`, if any, is the one Strawberry generates,
  which ignores the resolve info the fast path does not build.

A resolver field may declare, with `metadata=read_from("attribute")`, an attribute that
holds its value: a slot a parent's prefetch fills ahead of time, or a cheap property
computed only when the field is asked for. When the attribute is not None the value is
taken from it as from a plain field; the resolver runs only when it is None, and must
then return what the attribute would have held. The same conditions hold, bar the
resolver's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    Undefined,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from app.graphql.cost import STATIC_DIRECTIVES

_LEAF = 0
_OBJECT = 1
_LIST = 2  # of non-null objects
_PREFETCHED = "og.prefetched"


def read_from(attribute: str) -> dict[str, str]:
    """Field metadata: the field's value is `source.<attribute>` unless that is None."""
    return {_PREFETCHED: attribute}


@dataclass(frozen=True, slots=True)
class PlainField:
    """How to read one plain field: an attribute, and what its type makes of the value."""

    attribute: str
    kind: int
    none_resolves: bool  # None takes graphql-core's path: non-null, or not prefetched
    return_type: GraphQLOutputType
    coerce: Callable[[Any], Any] | None
    object_type: GraphQLObjectType | None


# Only object types whose is_type_of ignores the resolve info are read directly.
_NO_INFO: Any = None

_PLANS: WeakKeyDictionary[GraphQLObjectType, dict[str, PlainField]] = WeakKeyDictionary()


def plain_fields(parent_type: GraphQLObjectType) -> dict[str, PlainField]:
    """The fields of `parent_type` that are attribute reads, by schema name (memoised)."""
    plan = _PLANS.get(parent_type)
    if plan is None:
        plan = {}
        for name, field in parent_type.fields.items():
            definition = field.extensions.get("strawberry-definition")
            if (
                not isinstance(definition, StrawberryField)
                or field.args
                or definition.extensions
                or definition.permission_classes
                or any(not isinstance(d, STATIC_DIRECTIVES) for d in definition.directives)
            ):
                continue
            metadata: dict[str, Any] = dict(definition.metadata or {})
            attribute: str | None = metadata.get(_PREFETCHED)
            # A prefetched attribute left None means "not prefetched": the resolver runs.
            empty_means_resolve = attribute is not None
            if attribute is None:
                if not (
                    definition.is_basic_field
                    and definition.default_resolver is getattr
                    and is_default_resolver(field.resolve)
                ):
                    continue
                attribute = definition.python_name
            none_resolves = isinstance(field.type, GraphQLNonNull) or empty_means_resolve
            named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            if isinstance(named, GraphQLScalarType | GraphQLEnumType):
                plan[name] = PlainField(
                    attribute,
                    _LEAF,
                    none_resolves,
                    field.type,
                    named.coerce_output_value,
                    None,
                )
            elif isinstance(named, GraphQLObjectType) and _is_type_of_ignores_info(named):
                plan[name] = PlainField(attribute, _OBJECT, none_resolves, field.type, None, named)
            elif (
                isinstance(named, GraphQLList)
                and isinstance(named.of_type, GraphQLNonNull)
                and isinstance(named.of_type.of_type, GraphQLObjectType)
                and _is_type_of_ignores_info(named.of_type.of_type)
            ):
                plan[name] = PlainField(
                    attribute,
                    _LIST,
                    none_resolves,
                    field.type,
                    None,
                    named.of_type.of_type,
                )
        _PLANS[parent_type] = plan
    return plan


def _is_type_of_ignores_info(object_type: GraphQLObjectType) -> bool:
    """No is_type_of, or the one Strawberry generates (a type's own may read the info)."""
    if object_type.is_type_of is None:
        return True
    definition = object_type.extensions.get("strawberry-definition")
    return isinstance(definition, StrawberryObjectDefinition) and definition.is_type_of is None


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._steps: dict[int, tuple[Any, list[tuple[str, Any, PlainField | None]]]] = {}

    def steps(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> list[tuple[str, Any, PlainField | None]]:
        """Each response key of a selection with its plain-field plan, if any: worked out
        once per selection and operation (graphql-core hands every item of a list the
        same grouped field set), not once per object."""
        memo = self._steps
        key = id(grouped_field_set)
        found = memo.get(key)
        if found is not None and found[0] is grouped_field_set:
            return found[1]
        plan = plain_fields(parent_type)
        steps: list[tuple[str, Any, PlainField | None]] = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            plain = None if node.arguments else plan.get(node.name.value)
            steps.append((response_name, field_details_list, plain))
        memo[key] = (grouped_field_set, steps)  # holds the set: its id stays unique
        return steps

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, plain in self.steps(
                parent_type, grouped_field_set
            ):
                result: Any = Undefined
                if plain is not None:
                    if plain.kind == _LEAF:
                        # Inlined for speed: the commonest field of all.
                        try:
                            # Undefined (no such attribute, or a getter's AttributeError,
                            # which looks the same) takes graphql-core's path.
                            value = getattr(source_value, plain.attribute, Undefined)
                        except Exception as error:
                            self._getter_failed(
                                error, plain, parent_type, path, response_name, field_details_list
                            )
                            results[response_name] = None
                            continue
                        if value is None:
                            if not plain.none_resolves:
                                results[response_name] = None
                                continue
                        elif value is not Undefined:
                            try:
                                result = plain.coerce(value)  # type: ignore[misc]
                            except Exception:  # graphql-core's path reports it
                                result = Undefined
                            else:
                                if result is not None and result is not Undefined:
                                    results[response_name] = result
                                    continue
                                result = Undefined
                    else:
                        result = self._read_plain(
                            plain,
                            parent_type,
                            source_value,
                            path,
                            response_name,
                            field_details_list,
                            position_context,
                        )
                if result is Undefined:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, response_name, parent_type.name),
                        position_context,
                    )
                    if result is Undefined:
                        continue
                results[response_name] = result
                if is_awaitable(result):
                    awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _read_plain(
        self,
        plain: PlainField,
        parent_type: GraphQLObjectType,
        source: Any,
        path: Path | None,
        response_name: str,
        field_details_list: Any,
        position_context: Any,
    ) -> Any:
        """An object or list field's completed value (leaves are read inline in
        execute_fields), or Undefined to take graphql-core's path."""
        try:
            value = getattr(source, plain.attribute, Undefined)
        except Exception as error:
            self._getter_failed(error, plain, parent_type, path, response_name, field_details_list)
            return None
        if value is Undefined or isinstance(value, Exception):
            return Undefined
        if value is None:
            return Undefined if plain.none_resolves else None
        object_type = plain.object_type
        assert object_type is not None
        is_type_of = object_type.is_type_of
        if plain.kind == _LIST:
            if not isinstance(value, list | tuple) or field_details_list[0].node.directives:
                return Undefined  # maybe @stream: graphql-core's path
            is_awaitable = self.is_awaitable
            for item in value:
                if is_awaitable(item) or (
                    is_type_of is not None and is_type_of(item, _NO_INFO) is not True
                ):
                    return Undefined
        elif is_type_of is not None and is_type_of(value, _NO_INFO) is not True:
            return Undefined
        field_path = Path(path, response_name, parent_type.name)
        try:
            if plain.kind == _LIST:
                completed = self._complete_items(
                    object_type,
                    field_details_list,
                    field_path,
                    cast(list[Any], value),
                    position_context,
                )
            else:
                completed = self.collect_and_execute_subfields(
                    object_type, field_details_list, field_path, value, position_context
                )
        except Exception as error:  # located and nulled like any field error
            self.handle_field_error(error, plain.return_type, field_details_list, field_path)
            return None
        if self.is_awaitable(completed):
            return self._await_completed(completed, plain, field_details_list, field_path)
        return completed

    def _getter_failed(
        self,
        error: Exception,
        plain: PlainField,
        parent_type: GraphQLObjectType,
        path: Path | None,
        response_name: str,
        field_details_list: Any,
    ) -> None:
        """A raising getter is the field's error, as a raising resolver's is in
        graphql-core: located at the field and collected (the caller nulls the field), or
        raised on to the nearest nullable parent when the field is non-null."""
        field_path = Path(path, response_name, parent_type.name)
        self.handle_field_error(error, plain.return_type, field_details_list, field_path)

    def _complete_items(
        self,
        item_type: GraphQLObjectType,
        field_details_list: Any,
        path: Path,
        items: list[Any] | tuple[Any, ...],
        position_context: Any,
    ) -> Any:
        """A list of non-null objects: each item's selection executed directly. An item's
        error propagates to the list field, as a non-null item's error does."""
        grouped, new_defer_usages, _ = self.collect_subfields(item_type, field_details_list)
        direct = position_context is None and not new_defer_usages
        completed: list[Any] = []
        awaitable: list[int] = []
        is_awaitable = self.is_awaitable
        try:
            for index, item in enumerate(items):
                item_path = path.add_key(index, None)
                if direct:
                    result = self.execute_fields(
                        item_type, item, item_path, grouped, position_context
                    )
                else:
                    result = self.execute_collected_subfields(
                        item_type, item, item_path, grouped, new_defer_usages, position_context
                    )
                if is_awaitable(result):
                    awaitable.append(index)
                completed.append(result)
        except Exception:
            if awaitable:
                self.settle_in_background([completed[i] for i in awaitable])
            raise
        if not awaitable:
            return completed

        async def gathered() -> list[Any]:
            done = await gather_with_cancel(*(completed[i] for i in awaitable))
            for index, value in zip(awaitable, done, strict=True):
                completed[index] = value
            return completed

        return gathered()

    async def _await_completed(
        self,
        completed: Awaitable[Any],
        plain: PlainField,
        field_details_list: Any,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as error:  # located and nulled like any field error
            self.handle_field_error(error, plain.return_type, field_details_list, path)
            return None
