"""The endpoint URL rule: accepted URLs, and refusals that name the failing part."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

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


PASSWORD = "s3cr3t-Pw"


@pytest.mark.parametrize("url", [
    pytest.param(f"https://alice:{PASSWORD}@example.com/hook", id="user-password"),
    pytest.param(f"https://{PASSWORD}@example.com/hook", id="token-as-user"),
    pytest.param(f"http://alice:{PASSWORD}@127.0.0.1:8080/hook", id="loopback"),
    pytest.param(f"https://alice:{PASSWORD}/x@example.com/hook", id="slash-in-password"),
    pytest.param(f"https://alice:{PASSWORD}#x@example.com/hook", id="hash-in-password"),
    pytest.param(f"https://alice:{PASSWORD}?x@example.com/hook", id="question-mark-in-password"),
    pytest.param(f"https://alice:{PASSWORD} @example.com/hook", id="space-in-password"),
    pytest.param(f"https://alice:{PASSWORD}\r\n@example.com/hook", id="line-break-in-password"),
    pytest.param(f"ftp://alice:{PASSWORD}@example.com/hook", id="other-scheme"),
    pytest.param(f"alice:{PASSWORD}@example.com/hook", id="no-scheme"),
    pytest.param(f"https://alice:{PASSWORD}@exa_mple.com:99999/hook", id="bad-host-and-port"),
])
def test_a_refusal_never_quotes_user_info(url: str) -> None:
    with pytest.raises(InvalidURL) as info:
        check_url(url)
    for said in (str(info.value), info.value.url):
        assert PASSWORD not in said
        assert "alice" not in said
    assert "***" in info.value.url


@pytest.mark.parametrize(("url", "part"), [
    ("https://example.com/users/@me", "path"),
    ("https://example.com/hook?email=a@b.example", "query"),
])
def test_an_at_sign_after_the_host_is_refused_as_such(url: str, part: str) -> None:
    with pytest.raises(InvalidURL, match=f"'@' in the {part}") as info:
        check_url(url)
    assert info.value.part == part


@given(password=st.text(alphabet=st.characters(codec="ascii", exclude_characters="@"), min_size=6, max_size=30))
def test_no_password_is_quoted(password: str) -> None:
    # Whatever characters a password holds, the refusal quotes none of it (a short one could
    # match a common part of a message by chance: six characters and up, all of them checked).
    url = f"https://alice:{password}@example.com/hook"
    with pytest.raises(InvalidURL) as info:
        check_url(url)
    # A password that is a piece of the usual message ('exampl', from example.com) proves nothing.
    with pytest.raises(InvalidURL) as usual:
        check_url("https://alice:pw@example.com/hook")
    assume(password not in str(usual.value))
    assert password not in str(info.value)
    assert repr(password)[1:-1] not in str(info.value)
