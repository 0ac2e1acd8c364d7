"""careplan_link: read, validate, seal and exchange ケアプランデータ連携 files.

The public API is exactly what `__all__` lists; every other module is private.
"""

from __future__ import annotations

from . import identifiers
from ._issue import Issue, Severity
from ._version import __version__
from .client import *  # noqa: F403  (the client layer's __all__ is public)
from .client import __all__ as _client_all
from .envelope import *  # noqa: F403  (the envelope layer's __all__ is public)
from .envelope import __all__ as _envelope_all
from .errors import CareplanLinkError, FormatError
from .format import *  # noqa: F403  (the format layer's __all__ is public)
from .format import __all__ as _format_all
from .office import *  # noqa: F403  (the office layer's __all__ is public)
from .office import __all__ as _office_all
from .reconcile import *  # noqa: F403  (the reconcile layer's __all__ is public)
from .reconcile import __all__ as _reconcile_all

__all__ = [
    "CareplanLinkError",
    "FormatError",
    "Issue",
    "Severity",
    "__version__",
    "identifiers",
    *_format_all,
    *_envelope_all,
    *_client_all,
    *_office_all,
    *_reconcile_all,
]
