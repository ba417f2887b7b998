"""The allow list: host patterns, networks, and private or loopback addresses refused unless
a listed network covers them."""

from __future__ import annotations

import pytest

from eventsvc.webhooks import AllowList, DestinationError

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("entries", "url"),
    [
        (("*",), "https://93.184.215.14/hook"),
        (("127.0.0.0/8",), "http://127.0.0.1:8080/hook"),
        (("::1/128",), "http://[::1]:8080/hook"),
        (("10.0.0.0/8",), "http://10.2.3.4/"),
        (("93.184.0.0/16",), "https://93.184.1.7/"),
    ],
)
async def test_allowed(entries: tuple[str, ...], url: str) -> None:
    await AllowList(entries).check(url)


@pytest.mark.parametrize(
    ("entries", "url", "says"),
    [
        (("*",), "http://127.0.0.1/hook", "private or loopback"),
        (("*",), "http://[::1]/hook", "private or loopback"),
        (("*",), "http://169.254.169.254/latest", "private or loopback"),
        (("*", "10.0.0.0/8"), "http://192.168.1.1/", "private or loopback"),
        (("hooks.example.com",), "https://93.184.215.14/", "not in the allow list"),
        (("*",), "file:///etc/passwd", "http or https"),
        (("*",), "https://a:b@93.184.215.14/", "credentials"),
    ],
)
async def test_refused(entries: tuple[str, ...], url: str, says: str) -> None:
    with pytest.raises(DestinationError, match=says):
        await AllowList(entries).check(url)


def test_host_patterns_match_names_case_blind() -> None:
    allow = AllowList(("*.example.com",))
    assert allow.host_named("Hooks.Example.com")
    assert not allow.host_named("example.org")
