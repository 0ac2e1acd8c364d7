"""A test PKI with the offices of the example unit, made once per session (RSA keys are slow)."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest

from careplan_link.envelope import OfficeIdentity
from careplan_link.testing import FakePKI

sys.path.insert(0, str(Path(__file__).parent.parent / "format"))

CARE, PROVIDER, OTHER = "1370100016", "1370200022", "1370300036"


class Offices:
    def __init__(self) -> None:
        self.pki = FakePKI()
        self.now = self.pki.now
        self.care = self.pki.office(CARE)
        self.provider = self.pki.office(PROVIDER)
        self.other = self.pki.office(OTHER)
        self._cache: dict[str, OfficeIdentity] = {
            CARE: self.care,
            PROVIDER: self.provider,
            OTHER: self.other,
        }

    def identity(self, office_no: str) -> OfficeIdentity:
        if office_no not in self._cache:
            self._cache[office_no] = self.pki.office(office_no)
        return self._cache[office_no]

    def later(self, days: int) -> datetime.datetime:
        return self.now + datetime.timedelta(days=days)


@pytest.fixture(scope="session")
def offices() -> Offices:
    return Offices()
