"""The field a refused body is told about: its own path, not Litestar's parameter name.

Litestar reports a body that does not fit its schema against the handler's parameter,
``data``, and msgspec reports an unknown or a missing field at the object that holds it,
naming the field only in its message. So ``{"query": "x", "topk": 3}`` was answered
"(body data): Object contains unknown field `topk`". Here the key becomes the field's path
(``topk``, ``items[0].colour``), an unknown field's message lists the fields its object
takes, and an error about the body as a whole (``[1]``, ``null``) has no key.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request

from service.api.schemas import FieldError

_BODY = "data"  # the handler parameter Litestar names in body errors
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>.*)`")
_MISSING = re.compile(r"Object missing required field `(?P<field>.*)`")
_AT = re.compile(r"`\$\.(?P<path>.+)`$")  # where msgspec says it failed: `$.items[0].text`
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")  # items[0].colour -> items, 0, colour
_MAX_NAME_SHOWN = 40
_SEQUENCES = (
    msgspec.inspect.ListType,
    msgspec.inspect.VarTupleType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
)
_CONTAINERS = (msgspec.inspect.StructType, *_SEQUENCES)


def field_errors(request: Request[Any, Any, Any], extra: object) -> list[FieldError]:
    """Litestar's error items (``ValidationException.extra``) as this API's field errors."""
    items = [item for item in extra if isinstance(item, dict)] if isinstance(extra, list) else []
    parameter = request.route_handler.parsed_fn_signature.parameters.get(_BODY)
    body_type = parameter.annotation if parameter is not None else None
    return [_field_error(item, body_type) for item in items]


def decoding_error(error: msgspec.ValidationError, struct_type: Any, whole: str) -> FieldError:
    """msgspec's refusal of a value decoded as ``struct_type`` (e.g. a tool's arguments), worded
    as a refused body is (``whole`` introduces the fields of the object itself, e.g. "the
    arguments take")."""
    text = str(error)
    at = _AT.search(text)
    item = {"message": text.split(" - ", 1)[0], "key": at and at["path"], "source": "body"}
    return _field_error(item, struct_type, whole)


def _field_error(item: dict[str, Any], body_type: Any, whole: str = "the body takes") -> FieldError:
    message = str(item.get("message", "invalid value"))
    key, source = item.get("key"), item.get("source")
    if source != "body":
        return FieldError(message=message, key=key, source=source)
    parent = None if key in (None, _BODY) else str(key)
    if unknown := _UNKNOWN.fullmatch(message):
        field = unknown["field"][:_MAX_NAME_SHOWN]
        message = f"unknown field `{field}`"
        takes = _fields_at(body_type, parent)
        if takes:
            message += f"; {f'{parent} takes' if parent else whole}: {', '.join(takes)}"
        return FieldError(message=message, key=_join(parent, field), source=source)
    if missing := _MISSING.fullmatch(message):
        field = missing["field"]
        return FieldError(
            message=f"missing required field `{field}`", key=_join(parent, field), source=source
        )
    return FieldError(message=message, key=parent, source=source)


def _join(parent: str | None, field: str) -> str:
    return f"{parent}.{field}" if parent else field


def _fields_at(body_type: Any, path: str | None) -> list[str]:
    """The fields of the object at ``path`` in a body of ``body_type`` (none when unknown)."""
    try:
        info: msgspec.inspect.Type | None = msgspec.inspect.type_info(body_type)
    except (TypeError, ValueError):
        return []
    for name, _index in _SEGMENT.findall(path or ""):
        info = _container(info)
        if name and isinstance(info, msgspec.inspect.StructType):
            info = next((f.type for f in info.fields if f.encode_name == name), None)
        elif not name and isinstance(info, _SEQUENCES):
            info = info.item_type
        else:
            return []
    info = _container(info)
    if isinstance(info, msgspec.inspect.StructType):
        return [field.encode_name for field in info.fields]
    return []


def _container(info: msgspec.inspect.Type | None) -> msgspec.inspect.Type | None:
    """The object or list a field holds, through annotations and ``| None``."""
    if isinstance(info, msgspec.inspect.Metadata):
        return _container(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        members = [_container(member) for member in info.types]
        return next((m for m in members if isinstance(m, _CONTAINERS)), info)
    return info
