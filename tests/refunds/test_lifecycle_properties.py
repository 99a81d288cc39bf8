"""Random sequences of workflow events, with the invariants checked after every step."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from refunds import services
from refunds.audit import verify_chain
from refunds.errors import DomainError
from refunds.models import Decision, EvidenceRequest, Policy, RefundApplication
from refunds.services import Actor
from refunds.states import TERMINAL_STATES, ActorKind, ApplicationState, EvidenceRequestState, Outcome
from tests.factories import CUP, GENUINE_CUP, jpeg, submit, upload

pytestmark = pytest.mark.django_db


def run_lifecycle_machine(product, reviewers, merchant_owner):
    class Lifecycle(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.travel = time_machine.travel(timezone.now(), tick=False)
            self.clock = self.travel.start()
            # Each example runs in a savepoint rolled back at its end, so examples do not see
            # each other's applications (which would turn a replayed photo into "reuse").
            self.savepoint = transaction.atomic()
            self.savepoint.__enter__()
            self.application = None

        def teardown(self):
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)
            self.travel.stop()

        # Listed riskiest first: Hypothesis draws (and shrinks towards) early elements most.
        @initialize(
            evidence=st.sampled_from(["catalogue", "two", "genuine"]),
            fast_track=st.sampled_from([True, False]),
            expiry_approves=st.sampled_from([True, False]),
            amount=st.sampled_from(["9.99", "300.00"]),
        )
        def submit(self, evidence, fast_track, expiry_approves, amount):
            Policy.objects.filter(platform=product.merchant.platform).update(
                fast_track_enabled=fast_track, fast_track_ceiling=Decimal("10.00"), expiry_auto_approves=expiry_approves
            )
            files = {"genuine": [GENUINE_CUP], "catalogue": [CUP], "two": [GENUINE_CUP, jpeg(seed=4)]}[evidence]
            self.application = submit(product, evidence=files, amount=amount)
            self.terminal_state = None

        # --- events --------------------------------------------------------------------

        @property
        def app_id(self):
            return self.application.public_id

        def attempt(self, call):
            try:
                return call()
            except DomainError:
                return None

        @rule(times=st.integers(1, 2))
        def screening_delivered(self, times):
            from refunds.tasks import screen_application

            for _ in range(times):  # redelivery and retries are no-ops after the first
                screen_application.run(str(self.app_id))

        # Giving up and withdrawing end the story early, so they fire on a fraction of draws
        # only: otherwise few sequences would get far enough to reach the deciders.
        @rule(draw=st.integers(0, 5))
        def screening_gives_up(self, draw):
            if draw:
                return
            services.application_give_up_screening(application_id=self.app_id, explanation="retries exhausted")

        @rule()
        def merchant_accepts(self):
            before = self.current()
            done = self.attempt(
                lambda: services.application_accept(
                    application_id=self.app_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
                )
            )
            if done:
                assert before.state == ApplicationState.AWAITING_MERCHANT and timezone.now() < before.merchant_deadline

        @rule()
        def merchant_contests(self):
            before = self.current()
            done = self.attempt(
                lambda: services.application_contest(
                    application_id=self.app_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner), statement="No."
                )
            )
            if done:
                assert timezone.now() < before.merchant_deadline

        @rule(hours=st.sampled_from([1, 47, 49, 100]), worker_ran=st.booleans())
        def time_passes_and_beat_runs(self, hours, worker_ran):
            if worker_ran:  # the queued screening (or the sweeper's re-enqueue) ran meanwhile
                self.screening_delivered(1)
            self.clock.shift(timedelta(hours=hours))
            services.close_expired_windows()
            services.release_expired_claims()
            services.expire_evidence_requests()

        @rule(who=st.integers(0, 1))
        def reviewer_claims(self, who):
            self.attempt(lambda: services.application_claim(application_id=self.app_id, reviewer=reviewers[who]))

        @rule(who=st.integers(0, 1), outcome=st.sampled_from(Outcome.values))
        def reviewer_decides(self, who, outcome):
            self.attempt(
                lambda: services.application_decide(
                    application_id=self.app_id,
                    reviewer=reviewers[who],
                    outcome=outcome,
                    reason_codes=["other"],
                    approved_amount=Decimal("1.00"),
                    note="checked",
                )
            )

        @rule(who=st.integers(0, 1))
        def reviewer_asks_for_another_photo(self, who):
            self.attempt(
                lambda: services.evidence_request_create(
                    application_id=self.app_id, actor=Actor.of_user(ActorKind.REVIEWER, reviewers[who])
                )
            )

        @rule(image=st.sampled_from(["catalogue", "fresh"]))
        def platform_answers_the_request(self, image):
            request = EvidenceRequest.objects.filter(application=self.application).order_by("-pk").first()
            if request is None:
                return
            data = CUP if image == "catalogue" else jpeg(seed=98)
            self.attempt(
                lambda: services.evidence_request_answer(
                    request_id=request.public_id, actor=Actor(ActorKind.PLATFORM, None, "api"), evidence=[upload(data)]
                )
            )

        @rule(who=st.integers(0, 1))
        def reviewer_cancels_the_request(self, who):
            request = EvidenceRequest.objects.filter(application=self.application).order_by("-pk").first()
            if request is None:
                return
            self.attempt(
                lambda: services.evidence_request_cancel(
                    request_id=request.public_id, actor=Actor.of_user(ActorKind.REVIEWER, reviewers[who])
                )
            )

        @rule(image=st.sampled_from(["catalogue", "fresh"]))
        def platform_adds_evidence(self, image):
            data = CUP if image == "catalogue" else jpeg(seed=99)
            self.attempt(
                lambda: services.application_add_evidence(
                    application_id=self.app_id, evidence=[upload(data)], actor=Actor(ActorKind.PLATFORM, None, "api")
                )
            )

        @rule(draw=st.integers(0, 5))
        def platform_withdraws(self, draw):
            if draw:
                return
            self.attempt(
                lambda: services.application_withdraw(
                    application_id=self.app_id, actor=Actor(ActorKind.PLATFORM, None, "api")
                )
            )

        # --- invariants ----------------------------------------------------------------

        def current(self):
            return RefundApplication.objects.get(pk=self.application.pk)

        @invariant()
        def one_decision_exactly_when_decided(self):
            if self.application is None:
                return
            application = self.current()
            decisions = Decision.objects.filter(application=application).count()
            assert decisions == (1 if application.state == ApplicationState.DECIDED else 0)

        @invariant()
        def system_approvals_only_after_clean_screening(self):
            if self.application is None:
                return
            decision = Decision.objects.filter(application=self.application, actor_kind=ActorKind.SYSTEM).first()
            if decision is not None:
                application = self.current()
                assert not application.unscreened
                for evidence in application.evidence.all():
                    assert evidence.screening.completed
                    assert not evidence.screening.findings.filter(score__gte=0.5).exists()

        @invariant()
        def while_a_photo_is_awaited_the_review_clock_stands_still(self):
            if self.application is None:
                return
            application = self.current()
            waiting = EvidenceRequest.objects.filter(application=application, state=EvidenceRequestState.OPEN)
            assert waiting.count() <= 1
            if waiting.exists():
                assert application.state == ApplicationState.IN_REVIEW
                assert application.review_due_at is None and application.claimed_by_id is None
            elif application.state == ApplicationState.IN_REVIEW:
                assert application.review_due_at is not None

        @invariant()
        def terminal_states_stay_terminal(self):
            if self.application is None:
                return
            state = self.current().state
            if self.terminal_state is not None:
                assert state == self.terminal_state
            elif state in TERMINAL_STATES:
                self.terminal_state = state

        @invariant()
        def the_audit_chain_verifies_and_follows_the_state(self):
            if self.application is None:
                return
            application = self.current()
            assert verify_chain(application).ok
            events = list(application.audit_events.order_by("seq"))
            assert all(b.from_state == a.to_state for a, b in zip(events, events[1:]))
            assert events[-1].to_state == application.state

    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=100,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


def test_random_event_sequences_keep_every_invariant(product, reviewer, second_reviewer, merchant_owner):
    run_lifecycle_machine(product, [reviewer, second_reviewer], merchant_owner)
