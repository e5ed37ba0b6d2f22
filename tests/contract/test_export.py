"""`chestsim schemas export`: the documents other tools read, checked by those tools."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from contract_helpers import copy_schemas, edit, refs, resolve
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from simulator import CATALOG
from simulator.cli import main
from simulator.contract import Contract, asyncapi, load_contract, openapi

KEYS = [t.key for t in CATALOG]
EXAMPLES = [pytest.param(t.key, name, event, id=f"{t.key}-{name}")
            for t in CATALOG for name, event in zip(("full", "minimal"), t.examples, strict=True)]


def broken(event: dict[str, Any]) -> dict[str, Any]:
    """The event without a field its schema requires in ``data``."""
    out = copy.deepcopy(event)
    out["data"].pop(next(iter(out["data"])))
    return out


def export(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["schemas", "export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def validator_at(document: dict[str, Any], pointer: str) -> jsonschema.Draft202012Validator:
    """A validator for the schema at ``pointer`` of ``document``, its ``$ref`` resolved inside it."""
    root = {"$ref": pointer, **{k: v for k, v in document.items() if k in ("components", "$defs")}}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


# --- OpenAPI 3.1 ---------------------------------------------------------------------------------------------


def test_openapi_is_accepted_by_openapi_spec_validator(shipped: Contract) -> None:
    document = openapi(shipped)
    validate_openapi(document)
    assert document["openapi"] == "3.1.0"
    assert list(document["webhooks"]) == KEYS


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d["webhooks"]["secret.used"]["post"]["requestBody"].pop("content"), id="no-body"),
        pytest.param(lambda d: d["components"]["parameters"]["webhook-id"].update({"in": "body"}),
                     id="header-in-body"),
        pytest.param(lambda d: d["components"]["responses"]["accepted"].pop("description"), id="bare-response"),
        pytest.param(lambda d: d["components"]["schemas"]["uuid"].update(type="uuid"), id="bad-schema"),
    ],
)
def test_openapi_spec_validator_refuses_a_broken_document(shipped: Contract, change: Any) -> None:
    document = openapi(shipped)
    change(document)
    with pytest.raises(OpenAPIValidationError):
        validate_openapi(document)


@pytest.mark.parametrize("kind", ["openapi", "asyncapi", "bundle"])
def test_every_ref_resolves_inside_the_document(shipped: Contract, kind: str) -> None:
    # openapi-spec-validator does not follow every $ref (a dangling one under webhooks passes): check them all
    document = {"openapi": openapi, "asyncapi": asyncapi, "bundle": Contract.bundle}[kind](shipped)
    found = set(refs(document))
    assert len(found) > 50
    for ref in found:
        assert ref.startswith("#/"), ref
        assert resolve(document, ref) is not None, ref
    document["extra"] = {"$ref": "#/components/schemas/nothing_here"}
    with pytest.raises(LookupError):
        resolve(document, document["extra"]["$ref"])


def test_every_webhook_carries_the_headers_token_and_answers(shipped: Contract) -> None:
    document = openapi(shipped)
    parameters = document["components"]["parameters"]
    for key in KEYS:
        post = document["webhooks"][key]["post"]
        headers = {parameters[p["$ref"].rpartition("/")[2]]["name"]: parameters[p["$ref"].rpartition("/")[2]]
                   for p in post["parameters"]}
        assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert all(h["in"] == "header" and h["required"] for h in headers.values())
        # the bearer token is optional: an empty requirement is one of the alternatives
        assert post["security"] == [{}, {"bearerToken": []}]
        assert {"2XX", "400", "401", "410", "429", "5XX"} <= set(post["responses"])
    assert document["components"]["securitySchemes"]["bearerToken"] == {
        **document["components"]["securitySchemes"]["bearerToken"], "type": "http", "scheme": "bearer"}


def test_header_schemas_accept_what_chestsim_signs(shipped: Contract) -> None:
    from simulator import SigningSecret, sign_headers

    document = openapi(shipped)
    # two secrets, as during a rotation: the signature header carries both
    secrets = [SigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), SigningSecret.generate()]
    headers = sign_headers("evt_2ZJ4hq8PQn3mAvGmY8kq9f", 1614265330, b'{"test": 2432232314}', secrets)
    parameters = document["components"]["parameters"]
    assert set(headers) == set(parameters)
    for name, value in headers.items():
        jsonschema.validate(value, parameters[name]["schema"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("v1,abc def", parameters["webhook-signature"]["schema"])


@pytest.mark.parametrize(("key", "name", "event"), EXAMPLES)
def test_openapi_request_bodies_accept_the_examples_and_refuse_broken_ones(
        shipped: Contract, key: str, name: str, event: dict[str, Any]) -> None:
    document = openapi(shipped)
    media = document["webhooks"][key]["post"]["requestBody"]["content"]["application/json"]
    body = validator_at(document, media["schema"]["$ref"])
    assert media["examples"][name]["value"] == event
    assert body.is_valid(event)
    assert not body.is_valid(broken(event))


# --- AsyncAPI 3.0 --------------------------------------------------------------------------------------------


def asyncapi_validator(spec: dict[str, Any]) -> jsonschema.protocols.Validator:
    # The spec's schema is draft-07 and embeds every definition it refers to under its own $id: nothing is fetched.
    cls = jsonschema.validators.validator_for(spec)
    return cls(spec)  # type: ignore[no-any-return]


def test_asyncapi_validates_against_the_asyncapi_3_specification(shipped: Contract,
                                                                 asyncapi_spec: dict[str, Any]) -> None:
    document = asyncapi(shipped)
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in asyncapi_validator(asyncapi_spec).iter_errors(document)]
    assert errors == []
    channel = document["channels"]["webhooks"]
    assert len(channel["messages"]) == len(document["operations"]) == 24
    for operation in document["operations"].values():
        assert operation["action"] == "receive"
        [message] = operation["messages"]
        assert message["$ref"].removeprefix("#/channels/webhooks/messages/") in channel["messages"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        pytest.param(lambda d: d["operations"]["receive_secret_used"].update(action="publish"), "action",
                     id="asyncapi-2-action"),
        pytest.param(lambda d: d["info"].pop("title"), "title", id="no-title"),
        pytest.param(lambda d: d["components"]["messages"]["secret_used"].update(payload=7), "payload",
                     id="payload-not-a-schema"),
    ],
)
def test_the_asyncapi_specification_refuses_a_broken_document(shipped: Contract, asyncapi_spec: dict[str, Any],
                                                               change: Any, where: str) -> None:
    document = asyncapi(shipped)
    change(document)
    assert not asyncapi_validator(asyncapi_spec).is_valid(document), where


def test_asyncapi_message_headers_accept_what_chestsim_sends(shipped: Contract) -> None:
    from simulator import SigningSecret, sign_headers

    document = asyncapi(shipped)
    headers_schema = validator_at(document, "#/components/schemas/webhook_headers")
    secret = SigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    plain = sign_headers("evt_2ZJ4hq8PQn3mAvGmY8kq9f", 1614265330, b"{}", [secret])
    with_token = sign_headers("evt_2ZJ4hq8PQn3mAvGmY8kq9f", 1614265330, b"{}", [secret], token="tok_abc123")
    assert headers_schema.is_valid({**plain, "content-type": "application/json"})
    assert headers_schema.is_valid(with_token)
    assert not headers_schema.is_valid({k: v for k, v in plain.items() if k != "webhook-signature"})
    assert not headers_schema.is_valid({**with_token, "authorization": "Basic dXNlcjpwYXNz"})
    for message in document["components"]["messages"].values():
        assert message["headers"] == {"$ref": "#/components/schemas/webhook_headers"}


def test_asyncapi_message_examples_are_the_shipped_ones_and_match_their_payload(shipped: Contract) -> None:
    document = asyncapi(shipped)
    for event_type in CATALOG:
        message = document["components"]["messages"][event_type.key.replace(".", "_")]
        assert [e["payload"] for e in message["examples"]] == event_type.examples
        payload = validator_at(document, message["payload"]["$ref"])
        for example in event_type.examples:
            assert payload.is_valid(example)
            assert not payload.is_valid(broken(example))


# --- the bundle ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "name", "event"), EXAMPLES)
def test_bundle_accepts_every_example_and_refuses_broken_ones(shipped: Contract, key: str, name: str,
                                                              event: dict[str, Any]) -> None:
    bundle = jsonschema.Draft202012Validator(shipped.bundle(),
                                             format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert bundle.is_valid(event)
    assert not bundle.is_valid(broken(event))
    assert not bundle.is_valid({**event, "type": "secret.usd"})


def test_bundle_reads_back_as_the_same_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = export(capsys, "--format", "bundle")
    assert code == 0
    path = tmp_path / "bundle.json"
    path.write_text(out)
    again = load_contract(path)
    assert dict(again.events) == dict(load_contract().events)
    assert again.bundle()["$defs"] == json.loads(out)["$defs"]


def test_export_follows_the_schema_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_schemas(tmp_path / "schemas")
    edit(folder, "events/secret.used.json",
         lambda d: d["properties"]["data"]["properties"].update(region={"type": "string", "maxLength": 32}))
    code, out, _ = export(capsys, "--format", "openapi", "--schemas", str(folder))
    assert code == 0
    document = json.loads(out)
    validate_openapi(document)
    schemas = document["components"]["schemas"]
    assert schemas["secret_used"]["properties"]["data"] == {"$ref": "#/components/schemas/secret_used_data"}
    assert schemas["secret_used_data"]["properties"]["region"] == {"type": "string", "maxLength": 32}


# --- datamodel-code-generator --------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "name", "event"), EXAMPLES)
def test_generated_pydantic_models_parse_every_example(generated_models: Any, key: str, name: str,
                                                       event: dict[str, Any]) -> None:
    parsed = generated_models.SecretChestWebhookEvents.model_validate(event).root
    class_name = "".join(p.capitalize() for p in key.replace(".", "_").split("_"))
    assert type(parsed).__name__ == class_name
    # each event's data is a class of its own name (SecretUsedData) or a shared shape's, never "Data17"
    assert type(parsed.data).__name__ in (f"{class_name}Data", "InstallationMap", "UserShards")
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)["id"] == event["id"]


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(broken, id="missing-required-field"),
        pytest.param(lambda e: {**e, "type": "secret.usd"}, id="unknown-type"),
        pytest.param(lambda e: {**e, "tenant_id": 42}, id="wrong-type"),
        pytest.param(lambda e: {**e, "timestamp": "yesterday"}, id="bad-timestamp"),
    ],
)
def test_generated_pydantic_models_refuse_a_broken_event(generated_models: Any, breakage: Any) -> None:
    from pydantic import ValidationError

    event = CATALOG[6].examples[0]
    generated_models.SecretChestWebhookEvents.model_validate(event)
    with pytest.raises(ValidationError):
        generated_models.SecretChestWebhookEvents.model_validate(breakage(event))


# --- the command line ----------------------------------------------------------------------------------------


def test_out_writes_the_file_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         asyncapi_spec: dict[str, Any]) -> None:
    target = tmp_path / "asyncapi.json"
    target.write_text("old content")
    code, out, err = export(capsys, "--format", "asyncapi", "--out", str(target))
    assert code == 0
    assert out == ""
    assert "wrote asyncapi (24 event types)" in err
    assert asyncapi_validator(asyncapi_spec).is_valid(json.loads(target.read_text()))
    assert [p.name for p in tmp_path.iterdir()] == ["asyncapi.json"]  # no temporary file left behind


def _not_json(tmp_path: Path) -> str:
    (tmp_path / "bundle.json").write_text("{nope")
    return str(tmp_path / "bundle.json")


def _not_a_bundle(tmp_path: Path) -> str:
    (tmp_path / "bundle.json").write_text('{"type": "object"}')
    return str(tmp_path / "bundle.json")


def _no_events(tmp_path: Path) -> str:
    (tmp_path / "empty").mkdir()
    return str(tmp_path / "empty")


def _ref_outside(tmp_path: Path) -> str:
    folder = copy_schemas(tmp_path / "schemas")
    edit(folder, "events/secret.used.json",
         lambda d: d["properties"]["data"]["properties"].update(x={"$ref": "https://example.com/x.json"}))
    return str(folder)


def _broken_schema(tmp_path: Path) -> str:
    folder = copy_schemas(tmp_path / "schemas")
    (folder / "definitions.json").write_text('{"$defs": ')
    return str(folder)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(lambda t: ["--format", "yaml"], "--format='yaml' is not an export format", id="unknown-format"),
        pytest.param(lambda t: [], "Missing option '--format'", id="no-format"),
        pytest.param(lambda t: ["--format", "openapi", "--schemas", str(t / "missing")], "no such folder or file",
                     id="missing-folder"),
        pytest.param(lambda t: ["--format", "openapi", "--schemas", _not_json(t)], "not JSON", id="not-json"),
        pytest.param(lambda t: ["--format", "bundle", "--schemas", _not_a_bundle(t)], "not a contract bundle",
                     id="not-a-bundle"),
        pytest.param(lambda t: ["--format", "bundle", "--schemas", _no_events(t)], "holds no events/*.json",
                     id="folder-without-events"),
        pytest.param(lambda t: ["--format", "bundle", "--schemas", _ref_outside(t)], "leaves the contract folder",
                     id="ref-leaves-folder"),
        pytest.param(lambda t: ["--format", "bundle", "--schemas", _broken_schema(t)], "definitions.json: not JSON",
                     id="truncated-schema-file"),
        pytest.param(lambda t: ["--format", "openapi", "--out", str(t / "no" / "such" / "x.json")],
                     "does not exist", id="out-folder-missing"),
        pytest.param(lambda t: ["--format", "openapi", "--out", str(t)], "is a folder", id="out-is-a-folder"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: Any,
                                      fragment: str) -> None:
    code, out, err = export(capsys, *args(tmp_path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chestsim: error: ")
    assert fragment in lines[0]
    assert out == ""
