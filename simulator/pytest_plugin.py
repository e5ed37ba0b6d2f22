"""chestsim's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures: ``chest_settings``, ``chest_secret``, ``chest_tenant``, ``chest_events``,
``chest_listener``, ``chest_deliver``, ``chest_certify``. Marker: ``@pytest.mark.chestsim(seed=,
secret=, users=)``. Options: ``--chestsim-seed``, ``--chestsim-secret``,
``--chestsim-users``. A failing test that used a fixture prints its seed.

Kept free of heavy imports: fixtures import what they need when they run.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from simulator.listener import RunningListener
    from simulator.model import Tenant
    from simulator.testing import CertifyFixture, ChestSettings, Deliverer, EventFactory

_SEED = pytest.StashKey[int]()
_SETTINGS = pytest.StashKey["ChestSettings"]()
_CERTIFY = pytest.StashKey["CertifyFixture"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chestsim", "chestsim: simulated Secret Chest webhooks")
    group.addoption("--chestsim-seed", metavar="N|random", default=None,
                    help="seed of the chest_* fixtures (default 0; 'random' draws one per session)")
    group.addoption("--chestsim-secret", metavar="WHSEC", default=None,
                    help="signing secret of chest_deliver and chest_listener (default: a public test secret)")
    group.addoption("--chestsim-users", metavar="N", default=None,
                    help="users in the chest_tenant (default 10)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chestsim(seed=None, secret=None, users=None): per-test chestsim settings"
    )
    value = config.getoption("--chestsim-seed", default=None)
    if value is not None:
        from simulator.testing._settings import parse_seed

        try:
            config.stash[_SEED] = parse_seed(value)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str | None:
    if _SEED in config.stash:
        return f"chestsim: --chestsim-seed={config.stash[_SEED]}"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    settings = item.stash.get(_SETTINGS, None)
    if settings is not None and report.failed:
        report.sections.append(("chestsim", settings.reproduce()))
    certifier = item.stash.get(_CERTIFY, None)
    if certifier is not None and report.failed:
        for card in certifier.reports:
            report.sections.append(("chestsim certify", str(card)))
    return report


@pytest.fixture
def chest_settings(request: pytest.FixtureRequest) -> ChestSettings:
    """The seed, secret and tenant size of this test: marker, then options, then defaults."""
    from simulator.testing import ChestSettings

    marker = request.node.get_closest_marker("chestsim")
    if marker is not None and marker.args:
        raise pytest.UsageError("@pytest.mark.chestsim takes keywords only: seed=, secret=, users=")
    config = request.config
    options = {
        "seed": config.stash.get(_SEED, None),
        "secret": config.getoption("--chestsim-secret", default=None),
        "users": config.getoption("--chestsim-users", default=None),
    }
    try:
        settings = ChestSettings.resolve(marker=marker.kwargs if marker else None, options=options)
    except ValueError as exc:
        # One line, no traceback: a traceback would show the arguments, a secret among them.
        pytest.fail(f"chestsim: {exc}", pytrace=False)
    request.node.stash[_SETTINGS] = settings
    return settings


@pytest.fixture
def chest_secret(chest_settings: ChestSettings) -> str:
    """The ``whsec_…`` signing secret of this test; configure the listener under test with it.

    A ``str`` whose ``repr`` is masked, so that failure reports do not print it.
    """
    from simulator.testing._settings import SecretText

    return SecretText(chest_settings.secret.reveal())


@pytest.fixture
def chest_events(chest_settings: ChestSettings) -> EventFactory:
    """A factory: ``chest_events("secret.used", n=5)`` or ``chest_events("tenant-day", n=100)``."""
    from simulator.testing import EventFactory

    return EventFactory(chest_settings)


@pytest.fixture
def chest_tenant(chest_events: EventFactory) -> Tenant:
    """The seeded simulated tenant behind ``chest_events``; its actions return their events."""
    return chest_events.tenant


@pytest.fixture
def chest_deliver(chest_settings: ChestSettings) -> Iterator[Deliverer]:
    """``chest_deliver(target, events)``: sign and POST to a URL or into an ASGI/WSGI app.

    An ASGI app's lifespan starts before the first delivery into it and shuts down at
    teardown, as under a server (an app without lifespan support is called as it is).
    """
    from simulator.testing import Deliverer

    with Deliverer(chest_settings) as deliverer:
        yield deliverer


@pytest.fixture
def chest_listener(request: pytest.FixtureRequest, chest_settings: ChestSettings,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningListener]:
    """A running ``chestsim listen`` on a free loopback port; ``.url``, ``.records()``.

    It verifies with the test's secret. Other ``Listener`` options come by indirect
    parametrization: ``@pytest.mark.parametrize("chest_listener", [{"reject_invalid": True}],
    indirect=True)``.
    """
    from simulator.listener import Listener, ListenerThread

    options = dict(getattr(request, "param", None) or {})
    options.setdefault("db", tmp_path_factory.mktemp("chest_listener") / "records.sqlite3")
    options.setdefault("secrets", (chest_settings.secret,))
    options.setdefault("seed", chest_settings.seed)
    with ListenerThread(Listener(port=0, **options)) as running:
        yield running


@pytest.fixture
def chest_certify(request: pytest.FixtureRequest, chest_settings: ChestSettings) -> CertifyFixture:
    """``chest_certify(target, **settings)``: the report card of a URL, a ``chest_listener`` or an
    ASGI/WSGI app, signed with this test's secret; ``assert report.passed, report``.

    A failing test prints the whole card of every report it made.
    """
    from simulator.testing import CertifyFixture

    fixture = CertifyFixture(chest_settings)
    request.node.stash[_CERTIFY] = fixture
    return fixture
