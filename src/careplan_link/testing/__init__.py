"""careplan_link.testing: what vendors use in their own test suites.

`careplan_link.testing.strategies` holds hypothesis strategies for valid records and files of
every interface and version (it needs the `testing` extra: hypothesis). `FakePKI` is a test
certification authority issuing office identities. Importing this package itself imports
neither hypothesis nor pytest.
"""

from __future__ import annotations

from ._pki import FakePKI

__all__ = ["FakePKI"]
