"""Values that go on the wire are checked where they enter: a token, a header name or value with
CR, LF, NUL or another control character (or non-ASCII), a name that is not an HTTP token, and
framing headers, each refused with one line and exit 2 before anything is sent. Each goes
through every entry point; a plain socket server reads the raw bytes that arrived."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from delivery_sink import make_events, write_jsonl

from simulator._exceptions import UsageError
from simulator.cli import main
from simulator.delivery import Endpoint, Sender, load_endpoints
from simulator.delivery._transports import check_name, check_value, fixed_headers

pytestmark = pytest.mark.integration

BAD_VALUES = [
    pytest.param("abc\r\nX-Injected: yes", id="crlf"),
    pytest.param("abc\nX-Injected: yes", id="lf"),
    pytest.param("abc\rX-Injected: yes", id="cr"),
    pytest.param("abc\x00def", id="nul"),
    pytest.param("abc\x1bdef", id="esc"),
    pytest.param("abc\x7fdef", id="del"),
    pytest.param("tok€", id="non-ascii"),
]
BAD_NAMES = [
    pytest.param("X-Bad Name", id="space"),
    pytest.param("X-Bad:", id="colon"),
    pytest.param("X-Bad\r\nX-Injected", id="crlf"),
    pytest.param("Transfer-Encoding", id="transfer-encoding"),
    pytest.param("Content-Length", id="content-length"),
    pytest.param("webhook-signature", id="signature"),
]


class RawServer:
    """Accepts connections on 127.0.0.1, keeps every byte received, answers 204 to each read."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                for _ in range(1000):  # bounded: a test sends a handful of requests
                    try:
                        data = conn.recv(65536)
                    except (TimeoutError, OSError):
                        break
                    if not data:
                        break
                    self.received += data
                    if b"\r\n\r\n" in data:
                        conn.sendall(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def raw() -> RawServer:
    server = RawServer()
    yield server  # type: ignore[misc]
    server.close()


@pytest.fixture
def events(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "e.jsonl", make_events(2))


def _toml(text: str) -> str:
    """``text`` as the inside of a TOML basic string (controls and non-ASCII as \\uXXXX)."""
    return "".join(f"\\u{ord(c):04x}" if ord(c) < 32 or ord(c) > 126 else "\\" + c if c in '"\\' else c
                   for c in text)


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    _, err = capsys.readouterr()
    return code, err


def _refused(code: int, err: str, raw: RawServer, value: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chestsim: error: ")
    assert "nothing was sent" in lines[0] or "header name" in lines[0] or "set by chestsim" in lines[0]
    assert value not in err
    assert bytes(raw.received) == b""


def test_the_raw_server_sees_what_is_sent(raw: RawServer, events: Path,
                                          capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The control: good values arrive, as bytes, exactly once per request."""
    toml = tmp_path / "ep.toml"
    toml.write_text(f'[[endpoint]]\nurl = "{raw.url}"\ntoken = "good-token"\nheaders = {{ "X-Team" = "sec ops" }}\n')
    code, err = _cli(["send", str(events), "--endpoints", str(toml), "--retry", "none"], capsys)
    assert code == 0, err
    assert raw.received.count(b"authorization: Bearer good-token\r\n") == 2
    assert raw.received.count(b"x-team: sec ops\r\n") == 2


@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_bad_token_through_every_entry_point(value: str, raw: RawServer, events: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    send = ["send", str(events), "--retry", "none"]
    _refused(*_cli([*send, "--to", raw.url, "--token", value], capsys), raw, value)
    environ_can_hold = "\0" not in value  # an environment variable cannot hold NUL at all
    if environ_can_hold:
        monkeypatch.setenv("CHESTSIM_TOKEN", value)
        _refused(*_cli([*send, "--to", raw.url], capsys), raw, value)
        monkeypatch.delenv("CHESTSIM_TOKEN")
    toml = tmp_path / "ep.toml"
    toml.write_text(f'[[endpoint]]\nurl = "{raw.url}"\ntoken = "{_toml(value)}"\n')
    _refused(*_cli([*send, "--endpoints", str(toml)], capsys), raw, value)
    if environ_can_hold:
        monkeypatch.setenv("HOOK_TOKEN", value)
        toml.write_text(f'[[endpoint]]\nurl = "{raw.url}"\ntoken_env = "HOOK_TOKEN"\n')
        _refused(*_cli([*send, "--endpoints", str(toml)], capsys), raw, value)
    code, err = _cli(["endpoints", "check", str(toml)], capsys)
    assert (code, len(err.strip().splitlines())) == (2, 1)
    for build in (lambda: Sender(to=[raw.url], token=value), lambda: Endpoint.from_url(raw.url, token=value)):
        with pytest.raises(UsageError) as info:
            build()
        assert value not in str(info.value)
    assert bytes(raw.received) == b""


@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_bad_header_value_through_every_entry_point(value: str, raw: RawServer, events: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "ep.toml"
    toml.write_text(f'[[endpoint]]\nurl = "{raw.url}"\nheaders = {{ "X-Team" = "{_toml(value)}" }}\n')
    _refused(*_cli(["send", str(events), "--endpoints", str(toml)], capsys), raw, value)
    if "\0" not in value:  # an argument cannot hold NUL at all
        _refused(*_cli(["send", str(events), "--to", raw.url, "--header", f"X-Team: {value}"], capsys), raw, value)
        _refused(*_cli(["replay", str(tmp_path / "none.db"), "--to", raw.url, "--header", f"X-Team: {value}"],
                       capsys), raw, value)
    with pytest.raises(UsageError):
        load_endpoints(toml)
    with pytest.raises(UsageError):
        Endpoint.from_url(raw.url, headers={"X-Team": value})


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_header_name_through_every_entry_point(name: str, raw: RawServer, events: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "ep.toml"
    toml.write_text(f'[[endpoint]]\nurl = "{raw.url}"\nheaders = {{ "{_toml(name)}" = "1" }}\n')
    code, err = _cli(["send", str(events), "--endpoints", str(toml)], capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1
    if ":" not in name:  # in a --header flag, the first colon ends the name
        code, err = _cli(["send", str(events), "--to", raw.url, "--header", f"{name}: 1"], capsys)
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1
        assert err.startswith("chestsim: error: --header")
    assert bytes(raw.received) == b""
    with pytest.raises(UsageError):
        Endpoint.from_url(raw.url, headers={name: "1"})


def test_header_flags_go_on_the_wire_over_the_files(raw: RawServer, events: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "ep.toml"
    toml.write_text(f'[[endpoint]]\nurl = "{raw.url}"\nheaders = {{ "X-Team" = "file", "X-Kept" = "yes" }}\n')
    code, err = _cli(["send", str(events), "--endpoints", str(toml), "--retry", "none",
                      "--header", "x-team: flag", "--header", "X-Env:  staging area "], capsys)
    assert code == 0, err
    assert raw.received.count(b"x-team: flag\r\n") == 2
    assert raw.received.count(b"x-kept: yes\r\n") == 2
    assert raw.received.count(b"x-env: staging area\r\n") == 2
    assert b"x-team: file" not in raw.received


@pytest.mark.parametrize(("flags", "says"), [
    pytest.param(["--header", "X-Team security-key-123"], "give one header as 'Name: value'", id="no-colon"),
    pytest.param(["--header", ": security-key-123"], "give one header as 'Name: value'", id="no-name"),
    pytest.param(["--header", "X-A: security-key-123", "--header", "x-a: 2"], "is given twice", id="twice"),
    pytest.param(["--header", "Content-Length: 5"], "set by chestsim or the HTTP client", id="content-length"),
    pytest.param(["--header", "Authorization: Bearer security-key-123"], "use --token", id="authorization"),
])
def test_bad_header_flags(flags: list[str], says: str, raw: RawServer, events: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _cli(["send", str(events), "--to", raw.url, *flags], capsys)
    assert code == 2, err
    assert err.startswith("chestsim: error: --header")
    assert len(err.strip().splitlines()) == 1
    assert says in err
    assert "security-key-123" not in err
    assert bytes(raw.received) == b""


def test_checks_accept_what_http_allows() -> None:
    assert check_value("a b\tc!~", where="x") == "a b\tc!~"
    assert check_name("X-Request-Id_2", where="x") == "X-Request-Id_2"
    with pytest.raises(UsageError, match="one word"):
        check_value("two words", where="--token", what="token")
    assert fixed_headers(custom={"X-A": "1"})["x-a"] == "1"
