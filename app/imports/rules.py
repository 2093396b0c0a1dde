"""The input models' rules, checked on the staging table.

The limits have one definition: the create mutation's pydantic model (services). Each
field's constraints (lengths, pattern, bounds, digits, choices) are read off the model
here and turned into a SQL CASE that yields the same code and message pydantic would
(see services.validation), so a million rows are checked in one scan instead of a
million model validations. A field whose rule SQL cannot express (a Python validator,
such as the email check) is validated in Python with a one-field model built from the
same field, while the file is read. A constraint this module does not know stops the
import module from loading: no rule is silently dropped.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import annotated_types as at
from pydantic import AfterValidator, BaseModel, create_model
from pydantic.fields import FieldInfo

from app.errors import InvalidInput
from app.services.validation import Input, validate

# Decimal and integer text as pydantic reads it (no exponents beyond 3 digits, so no
# cast can overflow); anything else is the "valid decimal"/"valid integer" error.
_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"
_INTEGER = r"^[+-]?[0-9]+(\.0*)?$"


# A pattern that ends in a bounded repeat of one character class after atoms that each
# match one character, such as the SKU's ^[A-Za-z0-9][A-Za-z0-9-]{1,39}$. PostgreSQL's
# regex engine unrolls {m,n} into n states (six times slower), so it is checked as the
# same pattern with * and a length range: the same strings match.
_ATOM = r"\[[^\]\\]+\]|[A-Za-z0-9]"
_BOUNDED_TAIL = re.compile(rf"^\^((?:{_ATOM})*)(\[[^\]\\]+\])\{{(\d+),(\d+)\}}\$$")


def _pattern_test(pattern: str) -> str:
    """SQL over {v}, true when {v} does not match `pattern`."""
    tail = _BOUNDED_TAIL.match(pattern)
    if tail is None:
        return f"{{v}} !~ {literal(pattern)}"
    prefix, repeated, low, high = tail.groups()
    width = len(re.findall(_ATOM, prefix))
    return (
        f"({{v}} !~ {literal('^' + prefix + repeated + '*$')} OR "
        f"char_length({{v}}) NOT BETWEEN {width + int(low)} AND {width + int(high)})"
    )


def literal(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class Rule:
    """How one column is checked and converted. `check(v)` is a SQL expression over the
    staged text `v`: NULL when the value is good, else 'CODE|message'. `typed(v)` is the
    value as the table stores it. `python` validates in Python instead (None: in SQL)."""

    name: str
    check: Callable[[str], str]
    typed: Callable[[str], str]
    python: Callable[[str], str] | None = None


def _case(conditions: list[tuple[str, str, str]]) -> Callable[[str], str]:
    def check(v: str) -> str:
        if not conditions:
            return "NULL::text"
        whens = " ".join(
            f"WHEN {cond.replace('{v}', v)} THEN {literal(code + '|' + message)}"
            for cond, code, message in conditions
        )
        return f"CASE {whens} END"

    return check


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _general(field: FieldInfo, name: str) -> Any:
    for item in field.metadata:
        value = getattr(item, name, None)
        if value is not None:
            return value
    return None


def _text_rule(name: str, field: FieldInfo) -> Rule:
    conditions: list[tuple[str, str, str]] = []
    upper = False
    for item in field.metadata:
        if isinstance(item, at.MinLen):
            conditions.append(
                (
                    f"char_length({{v}}) < {item.min_length}",
                    "TOO_SHORT",
                    f"String should have at least {_plural(item.min_length, 'character')}",
                )
            )
        elif isinstance(item, at.MaxLen):
            conditions.append(
                (
                    f"char_length({{v}}) > {item.max_length}",
                    "TOO_LONG",
                    f"String should have at most {_plural(item.max_length, 'character')}",
                )
            )
        elif isinstance(item, AfterValidator) and item.func is str.upper:
            upper = True
        elif getattr(item, "pattern", None):
            pattern = item.pattern
            conditions.append(
                (
                    _pattern_test(pattern),
                    "INVALID_FORMAT",
                    f"String should match pattern '{pattern}'",
                )
            )
        else:
            raise TypeError(f"{name}: no SQL for the constraint {item!r}")
    return Rule(
        name,
        _case(conditions),
        (lambda v: f"upper({v})") if upper else (lambda v: v),
    )


def _number_rule(name: str, field: FieldInfo, *, integer: bool) -> Rule:
    n = "{v}::numeric"
    if integer:
        conditions = [
            (
                f"{{v}} !~ {literal(_INTEGER)}",
                "INVALID",
                "Input should be a valid integer, unable to parse string as an integer",
            )
        ]
    else:
        conditions = [
            (f"{{v}} !~ {literal(_DECIMAL)}", "INVALID", "Input should be a valid decimal")
        ]
        digits, places = _general(field, "max_digits"), _general(field, "decimal_places")
        # pydantic counts digits of the normalised value: 19.900 has two places.
        scale = f"scale(trim_scale({n}))"
        whole = f"CASE WHEN trunc(abs({n})) = 0 THEN 0 ELSE char_length(trunc(abs({n}))::text) END"
        if digits is not None:
            conditions.append(
                (
                    f"{whole} + {scale} > {digits}",
                    "TOO_LARGE",
                    f"Decimal input should have no more than {digits} digits in total",
                )
            )
        if places is not None:
            conditions.append(
                (
                    f"{scale} > {places}",
                    "TOO_PRECISE",
                    f"Decimal input should have no more than {_plural(places, 'decimal place')}",
                )
            )
        if digits is not None and places is not None:
            conditions.append(
                (
                    f"{whole} > {digits - places}",
                    "TOO_LARGE",
                    "Decimal input should have no more than "
                    f"{_plural(digits - places, 'digit')} before the decimal point",
                )
            )
    for item in field.metadata:
        if isinstance(item, at.Ge):
            conditions.append(
                (
                    f"{n} < {item.ge}",
                    "TOO_SMALL",
                    f"Input should be greater than or equal to {item.ge}",
                )
            )
        elif isinstance(item, at.Le):
            conditions.append(
                (
                    f"{n} > {item.le}",
                    "TOO_LARGE",
                    f"Input should be less than or equal to {item.le}",
                )
            )
        elif not integer and _general(field, "max_digits") and hasattr(item, "max_digits"):
            continue  # checked above
        else:
            raise TypeError(f"{name}: no SQL for the constraint {item!r}")
    # A condition only runs when the ones before it passed, so casts see numbers.
    return Rule(
        name,
        _case(conditions),
        (lambda v: f"({v})::numeric::integer") if integer else (lambda v: f"({v})::numeric"),
    )


def _choice_rule(name: str, choices: tuple[str, ...]) -> Rule:
    message = "Input should be " + " or ".join(f"'{c}'" for c in choices)
    listed = ", ".join(literal(c) for c in choices)
    return Rule(name, _case([(f"{{v}} NOT IN ({listed})", "INVALID", message)]), lambda v: v)


def _python_rule(name: str, field: FieldInfo) -> Rule:
    """Validated by a model of this one field, through services.validation.validate: the
    mutation's own code path, codes and messages."""
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"Import_{name}", __base__=Input, **{name: (field.annotation, field)}
    )

    def run(value: str) -> str:
        result: Any = getattr(validate(model, **{name: value}), name)
        return str(result)

    return Rule(name, _case([]), lambda v: v, python=run)


def rule_of(name: str, field: FieldInfo) -> Rule:
    annotation = field.annotation
    if any(
        isinstance(item, AfterValidator) and item.func is not str.upper for item in field.metadata
    ):
        return _python_rule(name, field)
    if annotation is str:
        return _text_rule(name, field)
    if annotation is Decimal:
        return _number_rule(name, field, integer=False)
    if annotation is int:
        return _number_rule(name, field, integer=True)
    if typing.get_origin(annotation) is typing.Literal:
        return _choice_rule(name, typing.get_args(annotation))
    raise TypeError(f"{name}: no SQL rule for {annotation!r}")


def rules_of(model: type[BaseModel]) -> dict[str, Rule]:
    return {name: rule_of(name, field) for name, field in model.model_fields.items()}


def python_check(rule: Rule, value: str) -> tuple[str, None] | tuple[None, tuple[str, str]]:
    """(the normalised value, None) when good, else (None, (code, message))."""
    assert rule.python is not None
    try:
        return rule.python(value), None
    except InvalidInput as exc:
        problem = exc.problems[0]
        return None, (problem.code, problem.message)
