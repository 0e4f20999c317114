"""The drf-spectacular integration: a valid schema whose error responses match real ones."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

from counterbalance_errors.openapi import error_codes, possible_codes
from counterbalance_errors.profiles import BUILTIN, get_profile
from tests.support import schemas
from tests.support.profiletools import call, use_profile

# (method, url, body, schema path, the catalog code the request produces)
REQUESTS = [
    ("POST", "/o/widgets/", {}, "/o/widgets/", "MissingParameter"),
    ("POST", "/o/widgets/", {"name": "x" * 60}, "/o/widgets/", "InvalidArgument"),
    ("POST", "/o/widgets/", "{", "/o/widgets/", "BadRequest"),
    ("PUT", "/o/widgets/424242/", {"name": "a"}, "/o/widgets/{id}/", "ResourceNotFound"),
    ("GET", "/o/widgets/424242/", None, "/o/widgets/{id}/", "ResourceNotFound"),
    ("DELETE", "/o/widgets/424242/", None, "/o/widgets/{id}/", "ResourceNotFound"),
    ("GET", "/o/private/", None, "/o/private/", "InvalidCredentials"),
    ("GET", "/o/throttled/", None, "/o/throttled/", "RequestThrottled"),
    ("GET", "/o/locked/", None, "/o/locked/", "AccountLocked"),
    ("GET", "/o/crash/", None, "/o/crash/", "InternalError"),
    ("GET", "/o/widgets/", None, "/o/widgets/", None),
    ("GET", "/o/ratelimited/", None, "/o/ratelimited/", None),
    ("GET", "/o/ratelimited/", None, "/o/ratelimited/", "RequestThrottled"),
    ("GET", "/o/v1/versioned/", None, "/o/v1/versioned/", None),
]


@pytest.fixture
def spectacular(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **django_settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "counterbalance_errors.openapi.AutoSchema",
    }
    settings.ROOT_URLCONF = "tests.openapi_urls"


def generate() -> dict[str, Any]:
    generator = SchemaGenerator(urlconf="tests.openapi_urls", api_version="v1")
    schema: dict[str, Any] = generator.get_schema(request=None, public=True)
    return schema


def send(method: str, url: str, body: Any) -> Any:
    if body is None:
        return call("wsgi", method, url)
    data = body if isinstance(body, str) else json.dumps(body)
    return call("wsgi", method, url, data=data, content_type="application/json")


def check_against_schema(spec: dict[str, Any], path: str, method: str, response: Any) -> None:
    """The real response is documented: its status, content type, body and headers."""
    operation = spec["paths"][path][method.lower()]
    documented = operation["responses"]
    assert str(response.status_code) in documented, (path, response.status_code, list(documented))
    entry = documented[str(response.status_code)]
    content = entry.get("content")
    if response.content:
        content_type = response["Content-Type"].split(";")[0]
        assert content is not None
        assert content_type in content, (content_type, list(content))
        schema = {"allOf": [content[content_type]["schema"]], "components": spec["components"]}
        schemas.validate(json.loads(response.content), schema)
    for name, header in entry.get("headers", {}).items():
        if not response.has_header(name):
            assert not header.get("required"), (path, name)
            continue
        pattern = header["schema"].get("pattern")
        if pattern:
            assert re.search(pattern, response[name]), (name, response[name], pattern)


@pytest.mark.django_db
@pytest.mark.usefixtures("spectacular")
@pytest.mark.parametrize("name", sorted(BUILTIN))
@pytest.mark.parametrize("strict", [True, False], ids=["strict", "canonical"])
def test_schema_is_valid_and_matches_real_responses(settings: Any, name: str, strict: bool) -> None:
    use_profile(settings, name, API_VERSION="2.1", STRICT_STATUSES=strict)
    cache.clear()
    spec = generate()
    validate(spec)  # type: ignore[arg-type]
    profile = get_profile()
    for method, url, body, path, code in REQUESTS:
        response = send(method, url, body)
        assert (code is None) is (response.status_code < 300), (url, response.content)
        check_against_schema(spec, path, method, response)
        if code and profile.body_schema() is not None:
            examples = spec["paths"][path][method.lower()]["responses"][str(response.status_code)][
                "content"
            ][profile.content_type]["examples"]
            assert code in examples, (url, code, list(examples))


@pytest.mark.usefixtures("spectacular")
def test_reason_phrase_errors_have_no_content_but_their_header(settings: Any) -> None:
    use_profile(settings, "reason_phrase")
    responses = generate()["paths"]["/o/widgets/"]["post"]["responses"]
    assert "content" not in responses["422"]
    assert responses["422"]["headers"]["EB-REASON-PHRASE"]["required"] is True
    assert "X-Counterbalance-Log-Hash" in responses["422"]["headers"]


@pytest.mark.usefixtures("spectacular")
def test_statuses_follow_the_profile(settings: Any) -> None:
    expected = {
        "counterbalance": {"400", "404", "409", "500", "503"},
        "cloudapi": {"400", "404", "406", "409", "413", "415", "500", "503"},
        "numeric": {"400", "404", "406", "500", "503"},
        "reason_phrase": {"400", "404", "422", "500", "503"},
        "problem_details": {"400", "404", "406", "409", "413", "415", "500", "503"},
    }
    for name, statuses in expected.items():
        use_profile(settings, name)
        responses = generate()["paths"]["/o/widgets/{id}/"]["put"]["responses"]
        assert set(responses) - {"200"} == statuses, name


@pytest.mark.usefixtures("spectacular")
def test_retry_after_and_hash_headers_where_they_apply(settings: Any) -> None:
    use_profile(settings, "counterbalance")
    paths = generate()["paths"]
    throttled = paths["/o/throttled/"]["get"]["responses"]["503"]
    assert throttled["headers"]["Retry-After"]["schema"]["pattern"] == "^[1-9][0-9]*$"
    assert "X-Counterbalance-Log-Hash" in throttled["headers"]  # ServiceUnavailable is logged
    not_found = paths["/o/widgets/{id}/"]["get"]["responses"]["404"]
    assert "Retry-After" not in not_found.get("headers", {})
    assert "X-Counterbalance-Log-Hash" not in not_found.get("headers", {})
    assert paths["/o/widgets/{id}/"]["get"]["responses"]["200"]["headers"] == {
        "X-Counterbalance-Compute-Node": {
            "description": "The API container that processed this request",
            "required": True,
            "schema": {"type": "string"},
        }
    }


@pytest.mark.usefixtures("spectacular")
def test_time_budget_documents_request_timeout(settings: Any) -> None:
    use_profile(settings, "green_stack")
    responses = generate()["paths"]["/o/crash/"]["get"]["responses"]
    assert "RequestTimeout" in responses["504"]["content"]["application/json"]["examples"]
    use_profile(settings, "counterbalance")
    assert "504" not in generate()["paths"]["/o/crash/"]["get"]["responses"]


@pytest.mark.usefixtures("spectacular")
def test_documented_responses_are_kept(settings: Any) -> None:
    use_profile(settings, "counterbalance")
    operation = {"responses": {"404": {"description": "mine"}}}
    from counterbalance_errors.openapi import document_errors

    class Registry:
        def register_on_missing(self, component: Any) -> None:
            self.component = component

    registry = Registry()
    document_errors(operation, ["ResourceNotFound", "InternalError"], registry)
    assert operation["responses"]["404"]["description"] == "mine"
    assert operation["responses"]["404"]["headers"]["X-Counterbalance-Compute-Node"]
    assert "500" in operation["responses"]
    assert registry.component.name == "CounterbalanceError"


def test_error_codes_rejects_unknown_codes() -> None:
    with pytest.raises(ValueError, match="NoSuchCode"):
        error_codes("NoSuchCode")


def test_error_codes_accumulate_on_a_view() -> None:
    @error_codes("Conflict")
    @error_codes("AccountLocked")
    class View:
        pass

    codes = possible_codes(View(), "GET", "/x/", get_profile())
    assert codes[-2:] == ["AccountLocked", "Conflict"]


def test_versioned_views_document_invalid_version() -> None:
    from tests.openapi_urls import LockedView, VersionedView

    assert "InvalidVersion" in possible_codes(VersionedView(), "GET", "/o/v1/", get_profile())
    assert "InvalidVersion" not in possible_codes(LockedView(), "GET", "/o/", get_profile())


@pytest.mark.usefixtures("spectacular")
def test_query_validation_is_documented_on_every_operation(settings: Any) -> None:
    """Found by schemathesis: a GET that validates its query with a serializer answers 422
    (reason_phrase) or 406 (numeric) for it."""
    use_profile(settings, "reason_phrase")
    assert "422" in generate()["paths"]["/o/crash/"]["get"]["responses"]
    use_profile(settings, "numeric")
    assert "406" in generate()["paths"]["/o/crash/"]["get"]["responses"]


def test_example_project_serves_a_valid_schema(settings: Any) -> None:
    from example_project import settings as example

    settings.ROOT_URLCONF = "example_project.urls"
    settings.REST_FRAMEWORK = example.REST_FRAMEWORK
    use_profile(settings, "cloudapi", API_VERSION="1.0.0")
    response = call("wsgi", "GET", "/api/schema/?format=json")
    assert response.status_code == 200
    spec = json.loads(response.content)
    validate(spec)
    checkout = spec["paths"]["/api/checkout/"]["get"]["responses"]
    assert "RequestThrottled" in checkout["420"]["content"]["application/json"]["examples"]
    assert checkout["420"]["headers"]["Retry-After"]


def test_excluded_operations_stay_excluded() -> None:
    from counterbalance_errors.openapi import AutoSchema

    class Excluding(AutoSchema):
        def is_excluded(self) -> bool:
            return True

    assert Excluding().get_operation("/h/", "/h/", "", "GET", None) is None


@pytest.mark.usefixtures("spectacular")
def test_green_stack_documents_gateway_and_realm_when_configured(settings: Any) -> None:
    use_profile(settings, "green_stack", GATEWAY_NODE="gw-1", REALM="eu")
    headers = generate()["paths"]["/o/crash/"]["get"]["responses"]["200"]["headers"]
    assert {"X-Green-Stack-Gateway-Node", "X-Green-Stack-Realm"} <= set(headers)
    use_profile(settings, "green_stack")
    headers = generate()["paths"]["/o/crash/"]["get"]["responses"]["200"]["headers"]
    assert not {"X-Green-Stack-Gateway-Node", "X-Green-Stack-Realm"} & set(headers)
