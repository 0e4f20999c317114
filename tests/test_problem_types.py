"""problem_details: a type URI per code when PROBLEM_TYPE_URI is set, about:blank otherwise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from counterbalance_errors.catalog import CATALOG

TEMPLATE = "https://api.example.com/problems/{code}"


@pytest.fixture
def problem_details(settings: Any) -> Any:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": "problem_details"}
    return settings


def problem(url: str) -> dict[str, Any]:
    response = Client(raise_request_exception=False).get(url)
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response.content)
    return body


def test_type_is_about_blank_by_default(problem_details: Any) -> None:
    body = problem("/drf/raise/drf-not-found/")

    assert body["type"] == "about:blank"
    assert body["title"] == "Not Found"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/drf/raise/drf-not-found/", "ResourceNotFound"),
        ("/plain/raise/conflict/", "Conflict"),
        ("/no/such/endpoint/", "EndpointNotFound"),
    ],
)
def test_type_is_the_uri_of_the_code(problem_details: Any, url: str, code: str) -> None:
    problem_details.COUNTERBALANCE_ERRORS = {
        "PROFILE": "problem_details",
        "PROBLEM_TYPE_URI": TEMPLATE,
    }

    body = problem(url)

    assert body["type"] == f"https://api.example.com/problems/{code}"
    assert body["code"] == code


def schema_of_type(settings: Any) -> dict[str, Any]:
    settings.ROOT_URLCONF = "tests.openapi_urls"
    generator = SchemaGenerator(urlconf="tests.openapi_urls", api_version="v1")
    schema = generator.get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    property_schema: dict[str, Any] = components["ProblemDetails"]["properties"]["type"]
    for part in property_schema.pop("allOf", []):  # drf-spectacular moves enums to components
        property_schema.update(components[part["$ref"].rsplit("/", 1)[-1]])
    return property_schema


def test_openapi_lists_every_type_uri(problem_details: Any) -> None:
    problem_details.COUNTERBALANCE_ERRORS = {
        "PROFILE": "problem_details",
        "PROBLEM_TYPE_URI": TEMPLATE,
    }

    type_schema = schema_of_type(problem_details)

    assert type_schema["enum"] == sorted(TEMPLATE.replace("{code}", code) for code in CATALOG)


def test_openapi_type_without_uris_is_any_uri_reference(problem_details: Any) -> None:
    type_schema = schema_of_type(problem_details)

    assert "enum" not in type_schema
    assert type_schema["format"] == "uri-reference"
