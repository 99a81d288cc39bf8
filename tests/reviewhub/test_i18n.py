"""Chinese and English, chosen per request."""

import pytest
from django.utils import translation

from refunds.states import ApplicationState

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("language", "text"), [("en", "reviewhub review"), ("zh-hans", "审核")])
def test_the_admin_speaks_the_requested_language(client, language, text):
    page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE=language)
    assert text in page.content.decode()


def test_states_are_translated():
    with translation.override("zh-hans"):
        assert str(ApplicationState.AWAITING_MERCHANT.label) == "等待商家回应"
    with translation.override("en"):
        assert str(ApplicationState.AWAITING_MERCHANT.label) == "Awaiting merchant"


def test_api_errors_follow_accept_language(client):
    response = client.get(
        "/api/v1/applications/x", HTTP_ACCEPT_LANGUAGE="zh-hans", HTTP_AUTHORIZATION="Bearer rh_nope_nope"
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] != "Invalid or revoked API key."


def test_every_message_has_a_chinese_translation():
    from pathlib import Path

    po = (Path(__file__).resolve().parents[2] / "locale/zh_Hans/LC_MESSAGES/django.po").read_text(encoding="utf-8")
    entries = [entry for entry in po.split("\n\n")[1:] if "msgid" in entry and not entry.lstrip().startswith("#~")]
    untranslated = [entry for entry in entries if entry.rstrip().endswith('msgstr ""')]
    assert not untranslated, untranslated[:3]
    assert "#, fuzzy" not in po
