"""``loadtests/_config.py``: the firehose options, checked before any user starts (no Locust here)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from loadtests._config import SHAPE_NAMES, FirehoseConfig
from simulator import SigningSecret, UsageError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def options(**given: Any) -> SimpleNamespace:
    return SimpleNamespace(**given)


def test_defaults_need_nothing() -> None:
    config = FirehoseConfig.from_options(options(), environ={})
    assert config.scenario == "firehose"
    assert config.secrets == ()
    assert config.token is None
    assert config.webhook_path == "/webhooks"
    assert config.shape is None


def test_secret_and_token_from_flags_or_environment() -> None:
    from_flags = FirehoseConfig.from_options(options(signing_secret=SECRET, token="t0k3n"), environ={})
    from_env = FirehoseConfig.from_options(options(), environ={"CHESTSIM_SECRET": SECRET,
                                                                "CHESTSIM_TOKEN": "t0k3n"})
    assert from_flags.secrets == from_env.secrets == (SigningSecret(SECRET),)
    assert from_flags.token == from_env.token == "t0k3n"


def test_rotation_signs_with_every_secret() -> None:
    other = SigningSecret.generate().reveal()
    config = FirehoseConfig.from_options(options(signing_secret=f"{SECRET} {other}"), environ={})
    assert len(config.secrets) == 2


def test_repr_and_description_never_show_secrets() -> None:
    config = FirehoseConfig.from_options(options(signing_secret=SECRET, token="t0k3n-value"), environ={})
    for text in (repr(config), str(config), config.describe()):
        assert SECRET not in text
        assert SECRET.removeprefix("whsec_") not in text
        assert "t0k3n-value" not in text
    assert "signing=1 secret" in config.describe()


def test_events_file_replaces_the_scenario(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"id": "evt_1", "type": "secret.used"}\n')
    config = FirehoseConfig.from_options(options(events_file=str(events), scenario="ignored"), environ={})
    assert config.events_file == events


@pytest.mark.parametrize("shape", SHAPE_NAMES)
def test_every_shape_name_is_accepted(shape: str) -> None:
    assert FirehoseConfig.from_options(options(shape=shape), environ={}).shape == shape


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        pytest.param({"scenario": "firehoze"}, "did you mean 'firehose'", id="scenario-typo"),
        pytest.param({"scenario": "nope"}, "--scenario='nope' is not a shipped scenario", id="scenario-unknown"),
        pytest.param({"events_file": "/no/such/events.jsonl"}, "--events-file='/no/such/events.jsonl' does not exist",
                     id="events-file-missing"),
        pytest.param({"signing_secret": "not-a-secret"}, "must start with 'whsec_'", id="secret-prefix"),
        pytest.param({"signing_secret": "whsec_!!!notbase64"}, "not valid base64", id="secret-base64"),
        pytest.param({"signing_secret": "whsec_c2hvcnQ="}, "decodes to 5 bytes", id="secret-short"),
        pytest.param({"token": "two words"}, "--token", id="token-space"),
        pytest.param({"webhook_path": "webhooks"}, "must start with '/'", id="path-relative"),
        pytest.param({"webhook_path": "/hooks#frag"}, "character '#' is not allowed", id="path-character"),
        pytest.param({"shape": "square"}, "--shape='square' is not a load shape", id="shape-unknown"),
        pytest.param({"tenant_users": 0}, "--tenant-users=0 is too small", id="tenant-users-zero"),
        pytest.param({"seed": "abc"}, "--seed='abc' is not an integer", id="seed-text"),
        pytest.param({"pool_size": 0}, "--pool-size=0 is too small", id="pool-size-zero"),
        pytest.param({"user_rate": -1}, "--user-rate=-1.0 is out of range", id="user-rate-negative"),
    ],
)
def test_bad_options_name_the_flag_and_the_fix(given: dict[str, Any], fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        FirehoseConfig.from_options(options(**given), environ={})
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message
    if "signing_secret" in given:
        assert given["signing_secret"].removeprefix("whsec_") not in message


def test_bad_secret_from_environment_is_named_too() -> None:
    with pytest.raises(UsageError, match="CHESTSIM_SECRET"):
        FirehoseConfig.from_options(options(), environ={"CHESTSIM_SECRET": "oops"})
