"""Every page of the admin and the portal, walked by link as each persona would, reads wholly in
Chinese: no English string of a catalogue left untranslated, no raw vocabulary code, no bare
True/False/None. Runs on the demo's data, with one application decided."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from django.contrib.auth.models import User

from refunds import demo, services
from refunds.models import Rebuttal, RefundApplication
from refunds.states import ApplicationState
from tests.support.rendered import raw_codes, untranslated, visible_text

pytestmark = pytest.mark.django_db

# Not pages: files, downloads, the API, sign-out, and the admin's pop-up and raw-id helpers.
SKIP = re.compile(r"/files/|/dossier|/api/|/logout|/password_change|_popup=|/jsi18n|/r/\d|/autocomplete/|\.(zip|pdf)$")
MAX_PAGES = 400
MAX_VARIANTS = 2  # query-string variants of one path (filters, sorting): enough to see their words
MAX_OBJECTS = 3  # pages of one kind of object (/…/7/change/): their words are the same


def links(html: str) -> list[str]:
    return re.findall(r'<a\s[^>]*href="([^"#][^"]*)"', html)


def walk(client, starts: list[str]) -> dict[str, str]:
    """Return {url: html} of every page reachable by GET links from ``starts``, within limits."""
    seen: dict[str, str] = {}
    variants: Counter[str] = Counter()
    queue = list(starts)
    while queue and len(seen) < MAX_PAGES:
        url = urldefrag(queue.pop(0).replace("&amp;", "&"))[0]
        parts = urlsplit(url)
        if parts.netloc or url in seen or SKIP.search(url) or not parts.path.startswith(("/admin/", "/portal/")):
            continue
        if parts.query:
            if variants[parts.path] >= MAX_VARIANTS:
                continue
            variants[parts.path] += 1
        kind = re.sub(r"/[0-9a-f-]{1,36}/", "/<id>/", parts.path)
        if kind != parts.path:
            if variants[kind] >= MAX_OBJECTS:
                continue
            variants[kind] += 1
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN")
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        seen[url] = html
        queue.extend(urljoin(url, link) for link in links(html))
    return seen


@pytest.fixture
def demo_data():
    accounts = demo.seed()
    senior = User.objects.get(username="senior")
    application = RefundApplication.objects.filter(state=ApplicationState.IN_REVIEW).first()
    services.application_claim(application_id=application.public_id, reviewer=senior)
    services.application_decide(
        application_id=application.public_id,
        reviewer=senior,
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="The catalogue photo with a painted crack.",
    )
    return accounts


def typed_by_people() -> frozenset[str]:
    """Text people typed (statements, notes, names): it may be English on a Chinese page."""
    typed = set(User.objects.values_list("username", flat=True))
    typed |= set(Rebuttal.objects.values_list("statement", flat=True))
    typed |= set(RefundApplication.objects.values_list("description", flat=True))
    # The language switcher names each language in itself.
    typed |= {"English", "简体中文"}
    return frozenset(" ".join(text.split()) for text in typed if text)


@pytest.mark.parametrize(
    ("username", "starts"),
    [
        ("admin", ["/admin/"]),
        ("reviewer", ["/admin/refunds/refundapplication/", "/admin/refunds/refundapplication/statistics/", "/admin/"]),
        ("auditor", ["/admin/refunds/refundapplication/", "/admin/"]),
        ("merchant", ["/portal/"]),
    ],
)
def test_every_page_a_persona_reaches_reads_in_chinese(client, demo_data, username, starts):
    client.force_login(User.objects.get(username=username))
    if username != "merchant":
        # Every application's page and History first: the reviewer's own pages.
        for application in RefundApplication.objects.order_by("pk"):
            starts = [f"/admin/refunds/refundapplication/{application.pk}/change/", *starts]
            starts.append(f"/admin/refunds/refundapplication/{application.pk}/history/")
    pages = walk(client, starts)
    assert len(pages) > 5, pages.keys()
    data = typed_by_people()
    problems = {}
    for url, html in pages.items():
        texts = visible_text(html)
        found = untranslated(texts, data=data) + raw_codes(texts)
        if found:
            problems[url] = sorted(set(found))
    assert problems == {}, f"{len(problems)} of {len(pages)} pages: {problems}"


def test_the_check_catches_untranslated_strings_raw_codes_and_raw_values():
    html = """<h1>已领取</h1><p>Claimed.</p><td>in_review</td><img src="x" alt="True">
    <p>Decided: Rejected, 0.00 CNY; reasons: Other.</p><td>2 days, 0:00:00</td>
    <p title="application.state_changed">申请</p><script>var s = "in_review";</script><code>in_review</code>"""
    texts = visible_text(html)
    assert untranslated(texts) == ["Claimed.", "Decided: Rejected, 0.00 CNY; reasons: Other."]
    assert raw_codes(texts) == ["in_review", "True", "2 days, 0:00:00", "application.state_changed"]
    assert untranslated(["Claimed."], data=frozenset({"Claimed."})) == []
