"""The standard's identifiers, one module each, with the same verbs (after python-stdnum).

| module | 項目名 | form |
| --- | --- | --- |
| `office_number` | 事業所番号 | 10 digits: 都道府県 2 + 区分 1 + 郡市区 2 + 番号 4 + 検証番号 1 |
| `insurer_number` | 保険者番号 | 6 digits: 都道府県 2 + 保険者別番号 3 + 検証番号 1 |
| `insured_number` | 被保険者番号 | 10 digits, or H + 9 digits (生保単独) |
| `service_type` | サービス種類コード | 2 characters 0-9/A-Z |
| `service_code` | サービスコード | サービス種類 2 + 項目 4 characters 0-9/A-Z |

Every module has `compact(value)` (separators removed; full-width characters and case are
never converted: the standard requires half-width, and a conversion would hide what a
receiver's import rejects), `validate(value)` (the compact value, or a subclass of
`careplan_link.errors.InvalidIdentifier`), `is_valid(value)`, `has_shape(value)` (the exact
value as the standard's files hold it) and `SHAPE` (the compiled pattern: the one statement of
the format, used by file names, validation and certificates). `office_number` and
`insurer_number` also have `checksum_ok(value)` for their published check digits, a softer
check than `validate` (docs/decisions.md). No module has a `format`: the standard defines no
display form other than the compact one.
"""

from __future__ import annotations

from . import insured_number, insurer_number, office_number, service_code, service_type

__all__ = ["insured_number", "insurer_number", "office_number", "service_code", "service_type"]
