"""The demo data: an account for every staff role, none a superuser but the operator, and work in the queue."""

import pytest
from django.contrib.auth.models import User

from refunds import demo
from refunds.models import RefundApplication
from refunds.services import application_record_screening
from refunds.states import ApplicationState, RiskLevel
from screening.core import FindingCode
from screening.models import Finding, ReuseLink
from screening.services import application_screen_evidence

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_reviewer_a_senior_reviewer_and_an_auditor_and_applications_to_review():
    accounts = demo.seed()
    roles = {role: (username, password) for role, username, password in accounts.staff()}
    for role, group in (("reviewer", "Reviewers"), ("senior reviewer", "Senior reviewers"), ("auditor", "Auditors")):
        username, password = roles[role]
        user = User.objects.get(username=username)
        assert user.check_password(password) and user.is_staff and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [group]
    in_review = RefundApplication.objects.filter(state=ApplicationState.IN_REVIEW)
    assert in_review.count() == 2
    assert all(application.rebuttal.attachments.count() == 1 for application in in_review)
    assert {application.risk_level for application in in_review} == {"forged", "clean"}


def test_the_demo_tells_a_clean_claim_a_painted_crack_a_sent_back_catalogue_photo_and_a_reused_photo():
    demo.seed()
    for application in RefundApplication.objects.filter(state=ApplicationState.SUBMITTED).order_by("created_at"):
        application_screen_evidence(application_id=application.public_id)
        application_record_screening(application_id=application.public_id)
    risk = dict(RefundApplication.objects.values_list("buyer_ref", "risk_level"))
    assert risk == {
        "buyer-001": RiskLevel.CLEAN,  # the buyer's own photo: the other view of the stereo pair
        "buyer-002": RiskLevel.FORGED,  # the catalogue photo with a crack drawn on
        "buyer-003": RiskLevel.FORGED,  # the catalogue photo itself
        "buyer-004": RiskLevel.FORGED,  # buyer-001's photo sent again
        "buyer-005": RiskLevel.CLEAN,
    }
    painted = Finding.objects.get(result__evidence__application__buyer_ref="buyer-002", code=FindingCode.LOCAL_EDIT)
    assert painted.regions
    reused = ReuseLink.objects.get(evidence__application__buyer_ref="buyer-004")
    assert (reused.kind, reused.earlier.application.buyer_ref) == (ReuseLink.Kind.SAME_FILE, "buyer-001")


def test_rundemo_on_a_busy_port_stops_before_starting_anything(monkeypatch):
    import socket
    import subprocess

    from django.core.management import CommandError, call_command

    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda *args, **kwargs: started.append(args))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(CommandError):
            call_command("rundemo", f"127.0.0.1:{busy.getsockname()[1]}")
    assert started == []
