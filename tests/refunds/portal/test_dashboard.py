"""The dashboard: claims needing a response first, soonest deadline on top; counts and money at stake."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.models import RefundApplication
from refunds.portal.selectors import dashboard_for_merchant
from refunds.services import Actor, application_withdraw
from tests.factories import screen, submit

pytestmark = pytest.mark.django_db


def test_claims_waiting_for_the_merchant_come_soonest_deadline_first(owner_client, product, merchant):
    late = screen(submit(product, order_ref="order-late"))
    soon = screen(submit(product, order_ref="order-soon"))
    RefundApplication.objects.filter(pk=soon.pk).update(merchant_deadline=timezone.now() + timedelta(hours=2))
    page = owner_client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.index("order-soon") < page.index("order-late")
    assert [a.order_ref for a in dashboard_for_merchant(merchant=merchant).needing_response] == [
        "order-soon",
        "order-late",
    ]
    assert f'data-deadline="{int(late.merchant_deadline.timestamp())}"' in page


def test_counts_by_state_and_this_weeks_open_amount(owner_client, product, merchant):
    screen(submit(product, order_ref="o-1", amount="10.00"))
    screen(submit(product, order_ref="o-2", amount="5.50"))
    withdrawn = submit(product, order_ref="o-3", amount="99.00")
    application_withdraw(application_id=withdrawn.public_id, actor=Actor.system("test"))
    old = screen(submit(product, order_ref="o-old", amount="1000.00"))
    RefundApplication.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    board = dashboard_for_merchant(merchant=merchant)
    counts = {state: count for state, _label, count in board.counts}
    assert counts["awaiting_merchant"] == 3 and counts["withdrawn"] == 1 and counts["decided"] == 0
    assert board.at_stake == [("CNY", Decimal("15.50"))]
    page = owner_client.get("/portal/").content.decode()
    assert 'data-state="awaiting_merchant">3<' in page and "15.50" in page


def test_the_dashboard_shows_only_the_members_shop(owner_client, awaiting, other_shop_application):
    page = owner_client.get("/portal/").content.decode()
    assert "order-clean" in page and "order-other" not in page


def test_the_list_of_applications_filters_by_state_and_pages(owner_client, product):
    from refunds.models import Evidence

    for n in range(52):
        submit(product, order_ref=f"order-{n:02d}")
    assert Evidence.objects.count() == 52
    first = owner_client.get("/portal/applications/?state=submitted").content.decode()
    assert first.count('class="card"') == 50 and "order-51" in first and 'rel="next"' in first
    second = owner_client.get("/portal/applications/?state=submitted&page=2").content.decode()
    assert second.count('class="card"') == 2 and "order-00" in second
    assert owner_client.get("/portal/applications/?state=decided").content.decode().count('class="card"') == 0
