"""The public surface: what `careplan_link` exports, and what importing it does not pull in."""

from __future__ import annotations

import inspect
import subprocess
import sys

import careplan_link


def test_version_is_semver() -> None:
    major, minor, patch = careplan_link.__version__.split(".")
    assert all(part.isdigit() for part in (major, minor, patch))


def test_all_names_exist_and_are_documented() -> None:
    for name in careplan_link.__all__:
        value = getattr(careplan_link, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, name


def test_import_does_not_import_hypothesis_or_pytest() -> None:
    code = (
        "import sys, careplan_link, careplan_link.testing;"
        "bad = [m for m in ('hypothesis', 'pytest') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_format_error_is_a_careplan_link_error() -> None:
    assert issubclass(careplan_link.FormatError, careplan_link.CareplanLinkError)
    assert issubclass(careplan_link.FormatError, ValueError)
