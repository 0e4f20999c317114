"""The example project: the index links one endpoint per catalog code, and each answers it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from counterbalance_errors.catalog import CATALOG
from counterbalance_errors.testing import assert_error
from example_project.views import DEMOS, Demo


@pytest.fixture(autouse=True)
def example_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "example_project.urls"
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "demo-node-1"}
    cache.clear()


def test_index_links_every_code_of_the_catalog(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert {demo.code for demo in DEMOS} == set(CATALOG)
    for demo in DEMOS:
        assert demo.url.replace("&", "&amp;") in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("demo", DEMOS, ids=lambda d: f"{d.code}-{d.url}")
def test_every_demo_answers_its_code(demo: Demo) -> None:
    # The demos raise in views (process_exception, the DRF handler answer them, DEBUG or not);
    # the DEBUG paths of the others are test_django_paths.py's.
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    if demo.code == "RequestThrottled":
        for _ in range(3):
            client.get(demo.url)
    response = client.generic(demo.method, demo.url)
    assert_error(response, demo.code)
    assert response["X-Counterbalance-Compute-Node"] == "demo-node-1"


@pytest.mark.django_db
def test_shop_api_success_and_errors(client: Client) -> None:
    created = client.post(
        "/api/products/",
        {"sku": "A-1", "name": "Anvil", "price": "12.50"},
        content_type="application/json",
    )
    assert created.status_code == 201
    duplicate = client.post(
        "/api/products/",
        {"sku": "A-1", "name": "Anvil", "price": "12.50"},
        content_type="application/json",
    )
    error = assert_error(duplicate, "InvalidArgument", status=400, logged=True)
    assert error["details"] == [
        {"field": "sku", "code": "unique", "message": "product with this sku already exists."}
    ]
    assert_error(client.get("/api/products/424242/"), "ResourceNotFound", status=404, logged=False)
