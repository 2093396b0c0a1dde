"""Inputs are validated by pydantic models, one per input; errors become field problems."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from app.errors import FieldProblem, InvalidInput

M = TypeVar("M", bound=BaseModel)

# pydantic's error types, as the codes a form switches on.
_CODES = {
    "missing": "REQUIRED",
    "string_too_short": "TOO_SHORT",
    "string_too_long": "TOO_LONG",
    "string_pattern_mismatch": "INVALID_FORMAT",
    "greater_than": "TOO_SMALL",
    "greater_than_equal": "TOO_SMALL",
    "less_than": "TOO_LARGE",
    "less_than_equal": "TOO_LARGE",
    "too_short": "TOO_FEW",
    "too_long": "TOO_MANY",
    "decimal_max_places": "TOO_PRECISE",
    "decimal_max_digits": "TOO_LARGE",
    "decimal_whole_digits": "TOO_LARGE",
    "value_error": "INVALID",
}


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise PydanticCustomError("INVALID_EMAIL", "{reason}", {"reason": str(exc)}) from None


Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Money = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]


class Input(BaseModel):
    """Base for input models: whitespace trimmed, unknown fields refused, frozen, and
    text PostgreSQL can store (no NUL, no lone surrogates)."""

    model_config = ConfigDict(
        str_strip_whitespace=True,
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            if "\x00" in value:
                raise PydanticCustomError("INVALID", "Text must not contain NUL characters.")
            try:
                value.encode()
            except UnicodeEncodeError:
                raise PydanticCustomError("INVALID", "Text is not valid Unicode.") from None
        return value


def validate(model: type[M], **values: Any) -> M:
    """Build `model` from snake_case values, or raise InvalidInput naming camelCase fields."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(
                to_camel(part) if isinstance(part, str) else str(part) for part in error["loc"]
            )
            kind = error["type"]
            # PydanticCustomError("OUT_OF_STOCK", ...) carries its own code as its type.
            code = _CODES.get(kind) or (kind if kind.isupper() else "INVALID")
            message = error["msg"].removeprefix("Value error, ")
            problems.append(FieldProblem(field or "input", code, message))
        raise InvalidInput(problems) from None
