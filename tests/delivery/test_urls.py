"""The endpoint URL rule: accepted URLs, and refusals that name the failing part."""

from __future__ import annotations

import pytest

from simulator._exceptions import InvalidURL
from simulator.delivery import check_url, is_loopback

GOOD = [
    pytest.param("https://hooks.example.com/chest", id="https-host"),
    pytest.param("https://hooks.example.com:8443/a/b?tenant=x&v=1", id="port-query"),
    pytest.param("https://10.0.0.1/hook", id="ipv4"),
    pytest.param("https://[2001:db8::1]:8443/hook", id="ipv6-port"),
    pytest.param("http://127.0.0.1:8080/hook", id="http-loopback-v4"),
    pytest.param("http://localhost/hook", id="http-localhost"),
    pytest.param("http://[::1]:9000/hook", id="http-loopback-v6"),
    pytest.param("https://example.com/a%20b/~x_y.z-w", id="percent-tilde"),
    pytest.param("https://example.com", id="no-path"),
]

BAD = [
    pytest.param("", "url", id="empty"),
    pytest.param("example.com/hook", "scheme", id="no-scheme"),
    pytest.param("ftp://example.com/hook", "scheme", id="ftp"),
    pytest.param("http://example.com/hook", "scheme", id="http-not-loopback"),
    pytest.param("https://user:pw@example.com/hook", "userinfo", id="userinfo"),
    pytest.param("https://example.com/hook#frag", "fragment", id="fragment"),
    pytest.param("https://example.com/ho ok", "url", id="space"),
    pytest.param("https://example.com/hook!", "path", id="bang-in-path"),
    pytest.param("https://example.com/hook?a=<b>", "query", id="angle-in-query"),
    pytest.param("https://example.com/hook?a=1?b", "query", id="second-question-mark"),
    pytest.param("https://exa_mple.com/hook", "host", id="underscore-host"),
    pytest.param("https://-bad.example.com/", "host", id="hyphen-label"),
    pytest.param("https://300.1.1.1/", "host", id="bad-ipv4"),
    pytest.param("https://::1/", "host", id="unbracketed-ipv6"),
    pytest.param("https://[zz::1]/", "host", id="bad-ipv6"),
    pytest.param("https://[::1/", "host", id="unclosed-bracket"),
    pytest.param("https://example.com:99999/", "port", id="port-range"),
    pytest.param("https://example.com:http/", "port", id="port-name"),
    pytest.param("https:///hook", "host", id="no-host"),
]


@pytest.mark.parametrize("url", GOOD)
def test_accepted(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(("url", "part"), BAD)
def test_refused_names_part(url: str, part: str) -> None:
    with pytest.raises(InvalidURL) as info:
        check_url(url)
    assert info.value.part == part
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_message_names_character() -> None:
    with pytest.raises(InvalidURL, match=r"character '!' in the path"):
        check_url("https://example.com/a!b")


@pytest.mark.parametrize(("host", "expected"), [
    ("localhost", True), ("127.0.0.5", True), ("[::1]", True), ("example.com", False), ("10.0.0.1", False),
])
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected
