"""The pytest plugin, as a vendor's suite sees it (pytester runs a separate pytest)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]


def test_fixtures_work_in_a_vendor_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        def test_send_and_receive(fake_hub, hub_offices, hub_client):
            sent = hub_client.send(b"abc", to="1370200022", service_type="11")
            assert fake_hub.message(sent.id).status == "delivered"
            assert hub_offices.care.office_no == "1370100016"

        def test_async_client(fake_hub, async_hub_client):
            async def run():
                return await async_hub_client.send(b"x", to="1370200022", service_type="11")
            sent = asyncio.run(run())
            assert fake_hub.message(sent.id).sender == "1370100016"

        @pytest.mark.fake_hub(store="sqlite", retention_days=1, seed=3)
        def test_marker_configures_the_hub(fake_hub):
            from careplan_link.testing import SqliteStore
            assert isinstance(fake_hub.store, SqliteStore)
            assert fake_hub.settings.retention.days == 1
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_a_request_the_hub_cannot_understand_fails_the_test_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import httpx
        import pytest

        def test_bad_client(fake_hub):
            with httpx.Client(transport=fake_hub.transport()) as raw:
                raw.get(fake_hub.url + "/v1/no-such-thing")

        @pytest.mark.fake_hub(allow_protocol_errors=True)
        def test_allowed(fake_hub):
            with httpx.Client(transport=fake_hub.transport()) as raw:
                raw.get(fake_hub.url + "/v1/no-such-thing")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*the fake hub received requests it could not understand*", "*GET /v1/no-such-thing*"]
    )


def test_the_plugin_imports_nothing_optional_at_load() -> None:
    code = (
        "import sys, careplan_link.testing.pytest_plugin;"
        "bad = [m for m in ('hypothesis', 'careplan_link.testing.strategies') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_plugin_is_registered_by_entry_point() -> None:
    from importlib.metadata import entry_points

    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "careplan_link"]
    assert plugin.value == "careplan_link.testing.pytest_plugin"
