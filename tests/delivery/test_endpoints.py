"""Endpoints from flags and TOML files, subscriptions, routing; never exposing secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator._exceptions import EndpointConfigError, InvalidURL, UnknownEventType
from simulator.delivery import Endpoint, Router, check_endpoints, load_endpoints

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_labels_and_keys_subscribe() -> None:
    ep = Endpoint.from_url("http://127.0.0.1/h", events=["Secret Used", "user.deleted"])
    assert ep.events == frozenset({"secret.used", "user.deleted"})
    assert ep.accepts("secret.used")
    assert not ep.accepts("user.created")


@pytest.mark.parametrize("name", ["Select all", "all", "*"])
def test_select_all_means_every_type(name: str) -> None:
    ep = Endpoint.from_url("http://127.0.0.1/h", events=[name])
    assert ep.events is None
    assert ep.accepts("scim.updated")


def test_unknown_type_suggests() -> None:
    with pytest.raises(UnknownEventType, match=r"secret\.used"):
        Endpoint.from_url("http://127.0.0.1/h", events=["secret.usd"])


def test_repr_and_describe_hide_secrets() -> None:
    ep = Endpoint.from_url("http://127.0.0.1/h", secrets=[SECRET], token="tok-very-secret",
                           headers={"X-Api-Key": "hdr-very-secret"})
    shown = repr(ep) + repr(ep.describe())
    for needle in (SECRET, "MfKQ9r8", "tok-very-secret", "hdr-very-secret"):
        assert needle not in shown
    assert ep.describe()["signed"] is True
    assert ep.describe()["headers"] == ["X-Api-Key"]


def test_router() -> None:
    a = Endpoint.from_url("http://127.0.0.1/a", events=["secret.used"])
    b = Endpoint.from_url("http://127.0.0.1/b")
    c = Endpoint.from_url("http://127.0.0.1/c", events=["user.created"])
    router = Router([a, b, c])
    assert router.targets("secret.used") == (0, 1)
    assert router.targets("user.created") == (1, 2)
    assert router.targets("group.deleted") == (1,)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "endpoints.toml"
    path.write_text(text)
    return path


def test_load_file(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
[[endpoint]]
name = "siem"
url = "https://siem.example.com/chest"
events = ["Secret Used", "secret.deleted"]
secret = "{SECRET}"
token_env = "SIEM_TOKEN"
headers = {{ "X-Team" = "sec" }}
concurrency = 4
rate = "50/s"

[[endpoint]]
url = "http://127.0.0.1:9000/all"
events = "Select all"
secret_env = "ALL_SECRET"
""")
    eps = load_endpoints(path, environ={"SIEM_TOKEN": "t1", "ALL_SECRET": SECRET})
    assert [e.name for e in eps] == ["siem", "http://127.0.0.1:9000/all"]
    assert eps[0].token == "t1"
    assert eps[0].concurrency == 4
    assert eps[0].rate == 50.0
    assert eps[0].headers == (("X-Team", "sec"),)
    assert eps[1].events is None
    assert len(eps[1].secrets) == 1
    assert check_endpoints(str(path), environ={"SIEM_TOKEN": "t1", "ALL_SECRET": SECRET}) == eps


BAD_FILES = [
    pytest.param("url = 1\n[[", "not valid TOML", id="toml-syntax"),
    pytest.param("", "no endpoints", id="empty"),
    pytest.param('[[endpoint]]\nname = "x"\n', "url = ", id="missing-url"),
    pytest.param('[[endpoint]]\nurl = "http://example.com/h"\n', "loopback", id="http-remote"),
    pytest.param('[[endpoint]]\nurl = "https://e.com/h"\nsecret = "nope"\n', "whsec_", id="bad-secret"),
    pytest.param('[[endpoint]]\nurl = "https://e.com/h"\ncolour = "red"\n', "unknown field 'colour'",
                 id="unknown-field"),
    pytest.param('[[endpoint]]\nurl = "https://e.com/h"\nevents = ["nope.x"]\n', "unknown event type",
                 id="bad-event"),
    pytest.param('[[endpoint]]\nurl = "https://e.com/h"\nsecret_env = "UNSET_VAR_X"\n', "UNSET_VAR_X",
                 id="unset-env"),
    pytest.param('[[endpoint]]\nurl = "https://e.com/h"\nheaders = { "webhook-id" = "x" }\n',
                 "set by chestsim", id="reserved-header"),
    pytest.param('[[endpoint]]\nurl = "https://e.com/h"\nconcurrency = 0\n', "concurrency", id="zero-conc"),
    pytest.param('[[endpoint]]\nurl = "https://e.com/h"\nrate = "fast"\n', "rate", id="bad-rate"),
    pytest.param('[[endpoint]]\nname="a"\nurl = "https://e.com/h"\n[[endpoint]]\nname="a"\nurl = "https://e.com/i"\n',
                 "used twice", id="dup-name"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD_FILES)
def test_bad_files(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises((EndpointConfigError, InvalidURL, UnknownEventType)) as info:
        load_endpoints(write(tmp_path, text), environ={})
    assert fragment in str(info.value)
    assert "nope" not in str(info.value) or "nope.x" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EndpointConfigError, match="no such file"):
        load_endpoints(tmp_path / "absent.toml")
