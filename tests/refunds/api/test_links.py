"""The schema's links: every create leads to each operation that takes the id it returns, so
that generated clients and the schema tests' stateful phase can follow an object through."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

# Operations that take a created object's id in a query parameter rather than in their path.
BY_QUERY = {
    "merchants_create": {"products_list": "merchant", "applications_list": "merchant"},
}


@pytest.fixture
def schema():
    return Client().get("/api/v1/schema/?format=json").json()


def creates(schema):
    """(operation, its path, its 201 answer) of every POST that makes an object with an id."""
    for path, operations in schema["paths"].items():
        post = operations.get("post")
        if post and "201" in post["responses"]:
            yield post, path, post["responses"]["201"]


def users_of(schema, collection):
    """The operations whose path takes an id of the collection's objects, and the parameter.
    A path naming a second object too (an appeal under its application) is reached from the
    create of that object, which returns both ids."""
    prefix = f"{collection}/{{public_id}}"
    return {
        operation["operationId"]: "public_id"
        for path, operations in schema["paths"].items()
        if (path == prefix or path.startswith(prefix + "/")) and path.count("{") == 1
        for operation in operations.values()
    }


def test_every_create_links_to_every_operation_that_takes_its_id(schema):
    missing = []
    for create, path, answer in creates(schema):
        wanted = {**users_of(schema, path), **BY_QUERY.get(create["operationId"], {})}
        links = {
            (link["operationId"], name)
            for link in answer.get("links", {}).values()
            for name, value in link["parameters"].items()
            if value == "$response.body#/id"
        }
        missing += [(create["operationId"], op, param) for op, param in wanted.items() if (op, param) not in links]
    assert missing == []


def test_a_new_application_leads_to_its_actions_its_dossier_and_its_buyer(schema):
    links = schema["paths"]["/api/v1/applications"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in links.values()} == {
        "applications_retrieve",
        "applications_accept_create",
        "applications_contest_create",
        "applications_withdraw_create",
        "applications_evidence_create",
        "applications_audit_events_list",
        "applications_dossier_retrieve",
        "applications_appeals_list",
        "applications_appeals_create",
        "applications_evidence_requests_list",
        "buyers_retrieve",
    }
    assert links["GetBuyer"]["parameters"] == {"buyer_ref": "$response.body#/buyer_ref"}


def test_a_new_appeal_leads_to_itself_and_its_withdrawal(schema):
    answer = schema["paths"]["/api/v1/applications/{public_id}/appeals"]["post"]["responses"]["201"]
    for link in answer["links"].values():
        assert link["parameters"] == {"public_id": "$response.body#/application", "appeal_id": "$response.body#/id"}
    assert {link["operationId"] for link in answer["links"].values()} == {
        "applications_appeals_retrieve",
        "applications_appeals_withdraw_create",
    }


def test_every_link_names_an_operation_of_the_schema_and_its_parameters(schema):
    parameters = {
        operation["operationId"]: {p["name"] for p in operation.get("parameters", [])}
        for operations in schema["paths"].values()
        for operation in operations.values()
    }
    wrong = [
        (name, link["operationId"])
        for operations in schema["paths"].values()
        for operation in operations.values()
        for answer in operation["responses"].values()
        for name, link in answer.get("links", {}).items()
        if link["operationId"] not in parameters or not set(link["parameters"]) <= parameters[link["operationId"]]
    ]
    assert wrong == []
