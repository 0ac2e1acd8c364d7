"""The common base of the generated record classes, the typed tuple they are made into, and
what a lenient read could not type."""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attr
import attrs

__all__ = ["ReadGaps", "Record", "is_tuple_record", "tuple_record"]


class Record:
    """Base class of every record type (one frozen attrs class per interface and version).

    Each field carries its column number and 項目名 in its metadata (`no`, `item`).
    """

    __slots__ = ()

    csv_version: str

    def values(self) -> tuple[Any, ...]:
        """The typed values in column order."""
        return attrs.astuple(self, recurse=False)  # type: ignore[arg-type]


_R = TypeVar("_R", bound=type)

try:
    # The C descriptor `collections.namedtuple` uses for its fields: reading a field costs what
    # reading a slot does. CPython has it since 3.8; elsewhere namedtuple falls back as we do.
    from collections import _tuplegetter  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Python implementations

    def _tuplegetter(index: int, doc: str | None) -> Any:
        return property(operator.itemgetter(index), doc=doc)


def tuple_record(spec: _R) -> _R:
    """The record class `spec` (a frozen attrs class) made a tuple of its values.

    Why: a file of 100k records is 100k objects built field by field, and filling a slotted
    object costs one Python-level call per field (~60 ns each), more than decoding and
    splitting the line; a tuple is built in one call, and validation gets a file's columns by
    transposing its records (`zip(*records)`) in C. Records stay what the API promises: the
    same class name, fields, metadata (`attrs.fields`), keyword constructor with the same
    defaults, `attrs.evolve`/`asdict`/`astuple`, equality only with the same class, hashing,
    immutability (`attrs.exceptions.FrozenInstanceError`), pickling and `copy.replace`. What
    is new: a record is also a sequence of its values in column order (`tuple(record)`,
    `record[0]`), and it cannot be weakly referenced. Type checkers see `spec` (a class
    decorator's return type does not change the class for mypy), which is the same API.
    Methods and properties go on a base class: the tuple class is made anew from the fields,
    so a body's own would be lost (refused with TypeError).
    """
    fields = attrs.fields(spec)
    names = tuple(field.name for field in fields)
    if any(not field.init or field.alias != field.name for field in fields):
        raise TypeError(f"{spec.__name__}: every field must be an __init__ argument of its name")
    if any(field.validator is not None or field.converter is not None for field in fields):
        raise TypeError(f"{spec.__name__}: a tuple record checks and converts nothing")
    defaults = {
        f"_d{i}": field.default
        for i, field in enumerate(fields)
        if field.default is not attrs.NOTHING
    }
    if any(isinstance(value, attrs.Factory) for value in defaults.values()):  # type: ignore[arg-type]
        raise TypeError(f"{spec.__name__}: a tuple record's defaults are plain values")
    own = [name for name, value in spec.__dict__.items() if _written_in_body(value)]
    if own:
        # The tuple class is made anew from the fields; what the body defined would be lost.
        raise TypeError(
            f"{spec.__name__}: define {', '.join(own)} on a base class of a tuple record"
        )
    parameters = ", ".join(
        f"{name}={f'_d{i}'}" if f"_d{i}" in defaults else name for i, name in enumerate(names)
    )
    shown = ", ".join(f"{name}={{self[{i}]!r}}" for i, name in enumerate(names))
    source = (
        f"def __new__(cls, {parameters}):\n"
        f"    return _new(cls, ({', '.join(names)},))\n"
        f"def __repr__(self):\n"
        f"    return f'{{type(self).__name__}}({shown})'\n"
    )
    namespace: dict[str, Any] = {"_new": tuple.__new__, **defaults}
    exec(source, namespace)  # generated from the field names, as attrs generates __init__
    body: dict[str, Any] = {
        "__slots__": (),
        "__module__": spec.__module__,
        "__qualname__": spec.__qualname__,
        "__doc__": spec.__doc__,
        "__annotations__": inspect.get_annotations(spec),
        "__attrs_attrs__": fields,
        "__match_args__": names,
        "__new__": namespace["__new__"],
        "__repr__": namespace["__repr__"],
        "_tuple_record": True,
        **_TUPLE_RECORD_METHODS,
    }
    if "__attrs_props__" in spec.__dict__:
        body["__attrs_props__"] = spec.__dict__["__attrs_props__"]
    for index, field in enumerate(fields):
        body[field.name] = _tuplegetter(index, f"{field.metadata.get('item', field.name)}")
    made: _R = type(spec.__name__, (*spec.__bases__, tuple), body)  # type: ignore[assignment]
    return made


def _written_in_body(value: Any) -> bool:
    """Whether a class attribute is a method or property of the class body (attrs' own
    methods, the fields' slots and plain data are not)."""
    if isinstance(value, property | classmethod | staticmethod):
        return True
    code = getattr(value, "__code__", None)
    if code is None:
        return False
    filename: str = code.co_filename
    return not (filename.startswith("<attrs generated") or filename.startswith(_ATTRS_FOLDER))


_ATTRS_FOLDER = str(Path(attr.__file__).parent)


def is_tuple_record(record_type: type[Any]) -> bool:
    """Whether `record_type` was made by `tuple_record` (so a tuple of its values is one)."""
    return record_type.__dict__.get("_tuple_record", False) is True


def _frozen(self: Any, name: str, value: Any = None) -> None:
    raise attrs.exceptions.FrozenInstanceError()


_tuple_eq: Callable[[Any, Any], Any] = tuple.__eq__
_tuple_ne: Callable[[Any, Any], Any] = tuple.__ne__


def _eq(self: Any, other: object) -> Any:
    # As attrs: a record equals only a record of its own class. Not NotImplemented for another
    # tuple: Python would then ask that tuple, which compares item by item and says equal.
    if other.__class__ is not self.__class__:
        return False if isinstance(other, tuple) else NotImplemented
    return _tuple_eq(self, other)


def _ne(self: Any, other: object) -> Any:
    if other.__class__ is not self.__class__:
        return True if isinstance(other, tuple) else NotImplemented
    return _tuple_ne(self, other)


def _unordered(self: Any, other: object) -> Any:
    # Records have no order (attrs.frozen's default); a tuple's would compare item by item.
    return NotImplemented


def _values(self: Any) -> tuple[Any, ...]:
    """The typed values in column order."""
    return tuple.__new__(tuple, self)


def _getnewargs(self: Any) -> tuple[Any, ...]:
    return tuple.__new__(tuple, self)


def _replace(self: Any, **changes: Any) -> Any:
    return attrs.evolve(self, **changes)


_TUPLE_RECORD_METHODS: dict[str, Callable[..., Any]] = {
    "__setattr__": _frozen,
    "__delattr__": _frozen,
    "__eq__": _eq,
    "__ne__": _ne,
    "__hash__": tuple.__hash__,
    "__lt__": _unordered,
    "__le__": _unordered,
    "__gt__": _unordered,
    "__ge__": _unordered,
    "__getnewargs__": _getnewargs,
    "__replace__": _replace,
    "values": _values,
}


@attrs.frozen
class ReadGaps:
    """What validation could not read of a file, so that it can check everything else.

    Validation reads past a value it cannot type: the record is kept with None in that item
    (`unread_items`), and a record it cannot split into the layout's items at all is left out
    (`unread_records`). Rules then say nothing about what was not read, and record numbers stay
    those of the file.
    """

    numbers: tuple[int, ...]
    """The record number (1-based, in the file) of each record kept, in order."""
    unread_records: tuple[int, ...] = ()
    """Numbers of the records left out (wrong item count, broken quoting, too long …)."""
    unread_items: Mapping[int, frozenset[int]] = attrs.field(factory=dict)
    """Index of a kept record → the column numbers whose value could not be typed (None)."""

    def number(self, index: int) -> int:
        """The record number of the kept record at `index` (0-based)."""
        return self.numbers[index]
