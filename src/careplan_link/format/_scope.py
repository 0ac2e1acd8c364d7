"""Service types of the standard's scope (spec 1.3/1.4): which services produce records.

Records for out-of-scope service types are not generated (a user with only such services gets no
file). The scope table was re-aligned from OCR in the transcription (uncertain): types in neither
list are accepted, and only the listed out-of-scope types are reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ._generated import SERVICE_TYPE_NAMES as _NAMES
from ._generated import SERVICE_TYPE_SCOPE

__all__ = ["IN_SCOPE", "OUT_OF_SCOPE", "SERVICE_TYPE_NAMES"]

# Generated from standard/careplan-standard.json (service_types), which records the source.
KYOTAKU_IN_SCOPE = SERVICE_TYPE_SCOPE["kyotaku_in_scope"]
KYOTAKU_OUT_OF_SCOPE = SERVICE_TYPE_SCOPE["kyotaku_out_of_scope"]
YOBO_IN_SCOPE = SERVICE_TYPE_SCOPE["yobo_in_scope"]
YOBO_OUT_OF_SCOPE = SERVICE_TYPE_SCOPE["yobo_out_of_scope"]
SOGO_JIGYO_IN_SCOPE = SERVICE_TYPE_SCOPE["sogo_jigyo_in_scope"]

IN_SCOPE = KYOTAKU_IN_SCOPE | YOBO_IN_SCOPE | SOGO_JIGYO_IN_SCOPE
OUT_OF_SCOPE = (KYOTAKU_OUT_OF_SCOPE | YOBO_OUT_OF_SCOPE) - IN_SCOPE

SERVICE_TYPE_NAMES: Mapping[str, str] = MappingProxyType(_NAMES)
"""サービス種類コード → its name in the standard's scope table (S2 1.3/1.4)."""
