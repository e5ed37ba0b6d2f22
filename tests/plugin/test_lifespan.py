"""Delivery into an ASGI app runs its lifespan: startup before the first delivery, shutdown at close."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator import HarnessAssertion
from simulator.testing import ChestSettings, Deliverer, deliver
from simulator.testing._lifespan import Lifespan


def starlette_app(log: list[str], *, fail: str | None = None) -> Starlette:
    """A listener whose handler needs what its lifespan opens: ``app.state`` and the lifespan state."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if fail == "startup":
            raise RuntimeError("database unreachable")
        log.append("startup")
        app.state.seen = []
        yield {"db": {"open": True}}
        log.append("shutdown")
        if fail == "shutdown":
            raise RuntimeError("pool already closed")

    async def hook(request: Request) -> Response:
        assert request.state.db["open"]
        request.app.state.seen.append(json.loads(await request.body())["id"])
        log.append("delivery")
        return Response(status_code=204)

    return Starlette(routes=[Route("/webhooks", hook, methods=["POST"])], lifespan=lifespan)


def http_only(log: list[str], *, on_lifespan: str) -> Any:
    """A bare ASGI app without lifespan support: it raises on, or returns from, a lifespan scope."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if on_lifespan == "raise":
                raise RuntimeError(f"unsupported scope type {scope['type']!r}")
            return
        await receive()
        log.append("delivery")
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


@pytest.fixture
def deliverer() -> Deliverer:
    return Deliverer(ChestSettings.resolve(), timeout=5.0)


@pytest.fixture
def event() -> dict[str, Any]:
    from simulator.testing import events_of

    return events_of("secret.used", seed=1, users=3)[0]


def test_the_lifespan_starts_once_before_the_first_delivery_and_stops_at_close(
        deliverer: Deliverer, event: dict[str, Any]) -> None:
    log: list[str] = []
    app = starlette_app(log)
    with deliverer:
        first = deliverer(app, event, check=True)
        second = deliverer(app, [event, event], check=True)
        assert log == ["startup", "delivery", "delivery", "delivery"]
    assert [r.status_code for r in first + second] == [204, 204, 204]
    assert app.state.seen == [event["id"]] * 3
    assert log[-1] == "shutdown"


@pytest.mark.parametrize("on_lifespan", ["raise", "return"], ids=["raises-on-lifespan", "returns-on-lifespan"])
def test_an_app_without_lifespan_support_still_gets_its_deliveries(
        deliverer: Deliverer, event: dict[str, Any], on_lifespan: str) -> None:
    log: list[str] = []
    with deliverer:
        responses = deliverer(http_only(log, on_lifespan=on_lifespan), [event, event])
    assert [r.status_code for r in responses] == [202, 202]
    assert log == ["delivery", "delivery"]


def test_a_failed_startup_is_one_clear_error_and_nothing_is_delivered(
        deliverer: Deliverer, event: dict[str, Any]) -> None:
    log: list[str] = []
    app = starlette_app(log, fail="startup")
    with deliverer:
        for _ in range(2):  # the same error again, not a crash of the next delivery
            with pytest.raises(HarnessAssertion) as caught:
                deliverer(app, event)
            message = str(caught.value)
            assert message.startswith("ASGI app Starlette: lifespan startup failed: "
                                      "RuntimeError: database unreachable; ")
            assert "\n" not in message
            assert isinstance(caught.value.__cause__, RuntimeError)
    assert log == []
    assert deliverer.sent == []


def test_a_startup_that_never_answers_times_out(event: dict[str, Any]) -> None:
    async def hangs(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await asyncio.Event().wait()

    with Deliverer(ChestSettings.resolve(), timeout=0.2) as deliverer, \
            pytest.raises(HarnessAssertion, match=r"lifespan startup failed: no lifespan.startup.complete "
                                                  r"within timeout=0.2s"):
        deliverer(hangs, event)


def test_a_failed_shutdown_fails_close(deliverer: Deliverer, event: dict[str, Any]) -> None:
    log: list[str] = []
    deliverer(starlette_app(log, fail="shutdown"), event, check=True)
    with pytest.raises(HarnessAssertion, match="lifespan shutdown failed: RuntimeError: pool already closed"):
        deliverer.close()
    assert log == ["startup", "delivery", "shutdown"]


def test_deliver_without_a_fixture_runs_startup_and_shutdown_around_the_call(event: dict[str, Any]) -> None:
    log: list[str] = []
    deliver(starlette_app(log), event, check=True)
    assert log == ["startup", "delivery", "shutdown"]


def test_two_apps_each_get_their_lifespan(deliverer: Deliverer, event: dict[str, Any]) -> None:
    first: list[str] = []
    second: list[str] = []
    with deliverer:
        deliverer(starlette_app(first), event, check=True)
        deliverer(starlette_app(second), event, check=True)
    assert first == second == ["startup", "delivery", "shutdown"]


async def test_asend_runs_the_lifespan_on_the_tests_loop(deliverer: Deliverer, event: dict[str, Any]) -> None:
    log: list[str] = []
    app = starlette_app(log)
    async with deliverer:
        await deliverer.asend(app, event, check=True)
        await deliverer.asend(app, event, check=True)
        # A sync call from the async test: another loop (the portal's), so another lifespan.
        deliverer(app, event, check=True)
    assert log == ["startup", "delivery", "delivery", "startup", "delivery", "shutdown", "shutdown"]


def test_an_app_still_up_when_its_loop_closes_is_shut_down_then(event: dict[str, Any]) -> None:
    # What an async test does with the fixture: its loop closes before the fixture's teardown.
    log: list[str] = []
    deliverer = Deliverer(ChestSettings.resolve(), timeout=5.0)
    asyncio.run(deliverer.asend(starlette_app(log), event, check=True))
    assert log == ["startup", "delivery", "shutdown"]
    deliverer.close()


def test_a_shutdown_that_failed_as_the_loop_closed_fails_close(event: dict[str, Any]) -> None:
    log: list[str] = []
    deliverer = Deliverer(ChestSettings.resolve(), timeout=5.0)
    asyncio.run(deliverer.asend(starlette_app(log, fail="shutdown"), event, check=True))
    with pytest.raises(HarnessAssertion, match="lifespan shutdown failed: RuntimeError: pool already closed"):
        deliverer.close()


def test_an_app_that_answers_lifespan_as_if_http_runs_without_one(event: dict[str, Any]) -> None:
    sent: list[str] = []

    async def careless(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        sent.append(scope["type"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def serve() -> str:
        lifespan = Lifespan(careless, timeout=5.0)
        await lifespan.startup()
        return lifespan.phase

    assert asyncio.run(serve()) == "unsupported"
    assert sent == ["lifespan"]


async def test_deliver_from_inside_a_running_loop_still_runs_the_lifespan(event: dict[str, Any]) -> None:
    log: list[str] = []
    deliver(starlette_app(log), event, check=True)
    assert log == ["startup", "delivery", "shutdown"]
