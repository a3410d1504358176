"""Field types that document a response field exactly as the request side does, without changing
what is validated or sent: a stored string documented as its enum, a date kept as text documented
with `format: date`, a decimal documented as the string it is serialised to. They matter for the
generated clients (docs/partner-api.md): one type per field, in and out."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

from pydantic import WithJsonSchema


def one_of(values: Iterable[Any], name: str | None = None) -> WithJsonSchema:
    """For `Annotated[str, one_of(...)]`: a `str` documented as one of `values` (an Enum class or
    strings); the component is `name`, else named after the field (shared.openapi_polish.hoist_enums)."""
    names = [v.value if isinstance(v, Enum) else str(v) for v in values]
    return WithJsonSchema({"type": "string", "enum": names, **({"x-roumu-enum": name} if name else {})})


DateText = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]
# Decimal goes out as a JSON string ("40.00"): say so on both sides, so a client sends what it reads.
DecimalText = Annotated[Decimal, WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,3}(\.[0-9]{1,2})?$",
                                                 "examples": ["40", "20.50"]})]
