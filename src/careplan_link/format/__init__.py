"""careplan_link.format: the standard's files — layouts, records, CSV codec, names, units.

Everything public here is also re-exported from `careplan_link`.
"""

from __future__ import annotations

from ._bundle import Bundle, UnitKind, group_units
from ._codec import CSV_CODEC, Codec, CsvCodec, Decoded
from ._editions import EDITIONS, AcceptedValue, Edition, Editions, ValueMeaning
from ._file import CareplanFile
from ._filename import JST, FileName, Office, SerialClock, new_serial
from ._generated import (
    SupplementRecord,
    Table1DeleteRecord,
    Table1Record,
    Table2Record,
    Table3Record,
    Table6ActualDeleteRecord,
    Table6ActualRecord,
    Table6ActualV3Record,
    Table6PlanDeleteRecord,
    Table6PlanRecord,
    Table6PlanV3Record,
    Table7Record,
    Table7V3Record,
    YoboBasicDeleteRecord,
    YoboBasicRecord,
    YoboBasicSub1Record,
    YoboBasicSub2Record,
    YoboPlanDeleteRecord,
    YoboPlanRecord,
    YoboPlanSubRecord,
)
from ._json_codec import JSON_CODEC, JsonCodec, from_json, to_json
from ._layout import CodeTable, Column, Kind, Layout
from ._layouts import (
    CODE_TABLES,
    CSV_VERSION_CURRENT,
    CSV_VERSION_V3,
    KNOWN_CSV_VERSIONS,
    LAYOUTS,
    PREFIXES,
    get_layout,
)
from ._ms932 import COMMON_SUBSTITUTES, Substitution
from ._reader import Source, iter_records, layout_for, parse_plan
from ._record import Record
from ._table7_calc import (
    NOT_COMPUTABLE,
    Discount,
    NotComputable,
    Table7Line,
    Table7Sheet,
    build_table7,
)
from ._validation import ValidationReport, ValidationSource, validate
from ._values import NO_TIME, ZERO_DATE, ZERO_MONTH, NoTime, YearMonth, ZeroDate, ZeroMonth
from ._versions import Conversion, UnitConversion, convert
from ._writer import QuotePolicy, Substituted, write_bundle, write_file, write_unit

__all__ = [
    "CODE_TABLES",
    "COMMON_SUBSTITUTES",
    "CSV_CODEC",
    "CSV_VERSION_CURRENT",
    "CSV_VERSION_V3",
    "EDITIONS",
    "JSON_CODEC",
    "JST",
    "KNOWN_CSV_VERSIONS",
    "LAYOUTS",
    "NOT_COMPUTABLE",
    "NO_TIME",
    "PREFIXES",
    "ZERO_DATE",
    "ZERO_MONTH",
    "AcceptedValue",
    "Bundle",
    "CareplanFile",
    "CodeTable",
    "Codec",
    "Column",
    "Conversion",
    "CsvCodec",
    "Decoded",
    "Discount",
    "Edition",
    "Editions",
    "FileName",
    "JsonCodec",
    "Kind",
    "Layout",
    "NoTime",
    "NotComputable",
    "Office",
    "QuotePolicy",
    "Record",
    "SerialClock",
    "Source",
    "Substituted",
    "Substitution",
    "SupplementRecord",
    "Table1DeleteRecord",
    "Table1Record",
    "Table2Record",
    "Table3Record",
    "Table6ActualDeleteRecord",
    "Table6ActualRecord",
    "Table6ActualV3Record",
    "Table6PlanDeleteRecord",
    "Table6PlanRecord",
    "Table6PlanV3Record",
    "Table7Line",
    "Table7Record",
    "Table7Sheet",
    "Table7V3Record",
    "UnitConversion",
    "UnitKind",
    "ValidationReport",
    "ValidationSource",
    "ValueMeaning",
    "YearMonth",
    "YoboBasicDeleteRecord",
    "YoboBasicRecord",
    "YoboBasicSub1Record",
    "YoboBasicSub2Record",
    "YoboPlanDeleteRecord",
    "YoboPlanRecord",
    "YoboPlanSubRecord",
    "ZeroDate",
    "ZeroMonth",
    "build_table7",
    "convert",
    "from_json",
    "get_layout",
    "group_units",
    "iter_records",
    "layout_for",
    "new_serial",
    "parse_plan",
    "to_json",
    "validate",
    "write_bundle",
    "write_file",
    "write_unit",
]
