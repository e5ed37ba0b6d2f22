"""chest_events, chest_tenant, chest_deliver and chest_listener, used as a listener author would."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

# Two tiny listeners that verify with chestsim's own ``verify`` and answer 204 or 401.
APPS = '''
import contextlib
import json

from flask import Flask, request
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from simulator import SignatureError, SigningSecret, verify


def starlette_app(secret, seen):
    async def hook(request):
        body = await request.body()
        try:
            verify(request.headers, body, [SigningSecret(secret)])
        except SignatureError:
            return Response(status_code=401)
        seen.append(json.loads(body))
        return Response(status_code=204)

    return Starlette(routes=[Route("/webhooks", hook, methods=["POST"])])


def flask_app(secret, seen):
    app = Flask("listener")

    @app.post("/webhooks")
    def hook():
        try:
            verify(request.headers, request.get_data(), [SigningSecret(secret)])
        except SignatureError:
            return "", 401
        seen.append(request.get_json())
        return "", 204

    return app


LOG = []


def lifespan_app(fail=None):
    # The handler needs what startup opens; LOG says what ran, in order.
    @contextlib.asynccontextmanager
    async def lifespan(app):
        if fail:
            raise RuntimeError("database unreachable")
        LOG.append("startup")
        yield {"db": "open"}
        LOG.append("shutdown")

    async def hook(request):
        LOG.append(f"delivery with db {request.state.db}")
        return Response(status_code=204)

    return Starlette(routes=[Route("/webhooks", hook, methods=["POST"])], lifespan=lifespan)


async def raw_asgi(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def crashing_wsgi(environ, start_response):
    raise KeyError("data")
'''


@pytest.fixture
def apps(project: pytest.Pytester) -> pytest.Pytester:
    project.makepyfile(apps=APPS)
    return project


def test_chest_events_by_type_label_and_scenario(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest

        def test_by_key(chest_events):
            events = chest_events("secret.used", n=5)
            assert [e["type"] for e in events] == ["secret.used"] * 5
            assert len({e["id"] for e in events}) == 5

        def test_by_label_defaults_to_one(chest_events):
            [event] = chest_events("Secret Share Completed")
            assert event["type"] == "secret.share.completed"

        def test_zero(chest_events):
            assert chest_events("user.created", n=0) == []

        def test_scenario(chest_events):
            events = chest_events("onboarding", n=12)
            assert len(events) == 12
            assert "user.created" in {e["type"] for e in events}

        def test_unknown_name(chest_events):
            with pytest.raises(ValueError, match="names neither an event type.*secret.used.*nor a scenario"):
                chest_events("secret.usd")

        def test_events_are_copies(chest_events):
            first = chest_events("user.created")[0]
            first["data"].clear()
            assert chest_events("user.created")[0]["data"]
    """)
    project.runpytest_inprocess().assert_outcomes(passed=6)


def test_chest_events_are_the_same_for_the_same_seed(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import json, pytest

        @pytest.mark.parametrize("run", [1, 2])
        def test_dump(chest_events, run):
            print("EVENTS", json.dumps(chest_events("secret.used", n=3), sort_keys=True))
    """)
    out = project.runpytest_inprocess("-s", "--chestsim-seed=5").stdout.lines
    dumps = [line for line in out if "EVENTS" in line]
    assert len(dumps) == 2
    assert dumps[0].split("EVENTS")[1] == dumps[1].split("EVENTS")[1]
    other = [line for line in project.runpytest_inprocess("-s", "--chestsim-seed=6").stdout.lines if "EVENTS" in line]
    assert other[0].split("EVENTS")[1] != dumps[0].split("EVENTS")[1]


def test_chest_tenant_is_the_tenant_behind_chest_events(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest

        @pytest.mark.chestsim(seed=2, users=4)
        def test_tenant(chest_tenant, chest_events):
            assert len(chest_tenant.users) == 4
            alice, bob = chest_tenant.users[:2]
            secret = alice.create_secret("Prod Postgres")
            share = alice.share(secret, to=[bob])
            types = [e["type"] for e in bob.accept(share)]
            assert "pending_share.accepted" in types
            [deleted] = chest_events("secret.deleted")
            assert deleted["tenant_id"] == chest_tenant.id
    """)
    project.runpytest_inprocess().assert_outcomes(passed=1)


def test_chest_deliver_into_asgi_and_wsgi_apps(apps: pytest.Pytester) -> None:
    apps.makepyfile("""
        import pytest
        from apps import flask_app, raw_asgi, starlette_app

        @pytest.mark.parametrize("make", [starlette_app, flask_app], ids=["starlette", "flask"])
        def test_signed_with_the_test_secret(chest_deliver, chest_events, chest_secret, make):
            seen = []
            events = chest_events("secret.used", n=3)
            responses = chest_deliver(make(chest_secret, seen), events)
            assert [r.status_code for r in responses] == [204, 204, 204]
            assert seen == events
            assert [d.label for d, _ in chest_deliver.sent] == ["valid"] * 3

        @pytest.mark.parametrize("make", [starlette_app, flask_app], ids=["starlette", "flask"])
        def test_another_secret_is_refused(chest_deliver, chest_events, chest_secret, make):
            [response] = chest_deliver(make(chest_secret, []), chest_events("user.created"),
                                       secret="whsec_" + "Z" * 32)
            assert response.status_code == 401

        def test_headers_override(chest_deliver, chest_events, chest_secret):
            [response] = chest_deliver(starlette_app(chest_secret, []), chest_events("user.created"),
                                       headers={"Webhook-Signature": "v1,AAAA"})
            assert response.status_code == 401

        def test_raw_asgi_callable_and_path(chest_deliver, chest_events):
            [response] = chest_deliver(raw_asgi, chest_events("user.created"), path="/anywhere")
            assert response.status_code == 202
            assert response.request.url.path == "/anywhere"

        async def test_async_test_awaits_asend(chest_deliver, chest_events, chest_secret):
            seen = []
            responses = await chest_deliver.asend(starlette_app(chest_secret, seen), chest_events("user.created", n=2))
            assert [r.status_code for r in responses] == [204, 204] and len(seen) == 2

        async def test_sync_call_inside_an_async_test(chest_deliver, chest_events, chest_secret):
            [response] = chest_deliver(starlette_app(chest_secret, []), chest_events("user.created"))
            assert response.status_code == 204

        def test_check_true_asserts_the_answer(chest_deliver, chest_events):
            from simulator import HarnessAssertion
            with pytest.raises(HarnessAssertion, match="expects accept .* answered 401"):
                chest_deliver(starlette_app("whsec_" + "Z" * 32, []), chest_events("user.created"), check=True)
    """)
    apps.runpytest_inprocess().assert_outcomes(passed=9)


def test_chest_deliver_runs_an_asgi_apps_lifespan_around_the_test(apps: pytest.Pytester) -> None:
    apps.makepyfile("""
        import apps

        def test_sync(chest_deliver, chest_events):
            app = apps.lifespan_app()
            chest_deliver(app, chest_events("user.created", n=2), check=True)
            assert apps.LOG == ["startup", "delivery with db open", "delivery with db open"]

        def test_shut_down_at_teardown():
            assert apps.LOG[-1] == "shutdown"
            apps.LOG.clear()

        async def test_async(chest_deliver, chest_events):
            await chest_deliver.asend(apps.lifespan_app(), chest_events("user.created"), check=True)
            assert apps.LOG == ["startup", "delivery with db open"]

        def test_async_shut_down_at_teardown():
            assert apps.LOG[-1] == "shutdown"
    """)
    apps.runpytest_inprocess().assert_outcomes(passed=4)


def test_a_failed_lifespan_startup_fails_the_test_with_one_clear_line(apps: pytest.Pytester) -> None:
    apps.makepyfile("""
        from apps import lifespan_app

        def test_startup_fails(chest_deliver, chest_events):
            chest_deliver(lifespan_app(fail=True), chest_events("user.created"))
    """)
    result = apps.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E *HarnessAssertion: ASGI app Starlette: lifespan startup failed: RuntimeError: database unreachable;"
        " chest_deliver runs the app's lifespan as a server does*",
    ])


def test_a_crashing_app_fails_with_the_delivery_and_seed(apps: pytest.Pytester) -> None:
    apps.makepyfile("""
        import pytest
        from apps import crashing_wsgi

        @pytest.mark.chestsim(seed=77)
        def test_crash(chest_deliver, chest_events):
            chest_deliver(crashing_wsgi, chest_events("user.created"))
    """)
    result = apps.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*HarnessAssertion: delivery 'valid': the listener raised KeyError, it crashed instead of answering*seed=77*",
        "chestsim seed=77 users=10: reproduce with --chestsim-seed=77*",
    ])


def test_chest_deliver_refuses_what_is_not_a_target(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest

        def test_bad_target(chest_deliver, chest_events):
            with pytest.raises(ValueError, match="neither a URL, a running chest_listener, nor an ASGI/WSGI app"):
                chest_deliver(42, chest_events("user.created"))
    """)
    project.runpytest_inprocess().assert_outcomes(passed=1)


@pytest.mark.integration
def test_chest_listener_records_what_chest_deliver_sends(project: pytest.Pytester) -> None:
    project.makepyfile("""
        def test_listener(chest_listener, chest_deliver, chest_events):
            assert chest_listener.url.startswith("http://127.0.0.1:")
            events = chest_events("secret.used", n=4)
            responses = chest_deliver(chest_listener, events, check=True)
            assert {r.status_code for r in responses} == {204}
            records = chest_listener.records()
            assert [r.webhook_id for r in records] == [e["id"] for e in events]
            assert chest_listener.acknowledged_ids() == {e["id"] for e in events}

        def test_unsigned_is_refused_and_recorded(chest_listener, chest_deliver, chest_events):
            [response] = chest_deliver(chest_listener, chest_events("user.created"), secret="whsec_" + "Z" * 32)
            assert response.status_code == 401
            assert chest_listener.acknowledged_ids() == set()
    """)
    project.runpytest_inprocess().assert_outcomes(passed=2)


@pytest.mark.integration
def test_chestsims_own_strict_listener_answers_every_hostile_delivery_as_labelled(project: pytest.Pytester) -> None:
    # Two independent judges of the same contract: the labels here and chestsim's listener.
    project.makepyfile("""
        import pytest
        from simulator.testing import hostile_suite

        @pytest.mark.parametrize("chest_listener", [{"reject_invalid": True}], indirect=True)
        def test_suite(chest_listener, chest_deliver, chest_events, chest_secret):
            events = chest_events("secret.used") + chest_events("pending_share.accepted")
            suite = hostile_suite(events, secret=chest_secret, strict=True)
            chest_deliver(chest_listener, suite, check=True)
    """)
    project.runpytest_inprocess().assert_outcomes(passed=1)
