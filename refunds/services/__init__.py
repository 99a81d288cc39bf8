"""The service layer: the only code that changes an application's state.

API views, admin actions, portal views, Celery tasks and beat jobs all call these.
"""

from refunds.services._base import Actor
from refunds.services.appeals import appeal_claim, appeal_decide, appeal_file, appeal_rights, appeal_withdraw
from refunds.services.evidence_requests import (
    evidence_request_answer,
    evidence_request_cancel,
    evidence_request_create,
    evidence_request_expire,
    evidence_request_permissions,
    expire_evidence_requests,
)
from refunds.services.media import (
    rebuttal_video_fail,
    rebuttal_video_prepare,
    rebuttal_videos_requeue_stale,
)
from refunds.services.merchant import (
    application_accept,
    application_contest,
    application_expire_window,
    close_expired_windows,
)
from refunds.services.quality import qa_review_claim, qa_review_record, qa_review_resolve, qa_review_rights
from refunds.services.review import (
    application_claim,
    application_claim_next,
    application_decide,
    application_decision_check,
    application_release_claim,
    decision_amount,
    decision_permissions,
    release_expired_claims,
)
from refunds.services.screening import (
    application_give_up_screening,
    application_record_screening,
    application_register_delivery,
    application_requeue_stale_screenings,
)
from refunds.services.screening_queue import SCREEN_TASK, enqueue_screening
from refunds.services.second_view import evidence_request_compare_views
from refunds.services.submission import (
    application_add_evidence,
    application_submit,
    evidence_upload_create,
    evidence_uploads_purge,
)
from refunds.services.withdrawal import application_withdraw

__all__ = [
    "SCREEN_TASK",
    "Actor",
    "appeal_claim",
    "appeal_decide",
    "appeal_file",
    "appeal_rights",
    "appeal_withdraw",
    "application_add_evidence",
    "application_accept",
    "application_claim",
    "application_claim_next",
    "application_contest",
    "application_decide",
    "application_decision_check",
    "decision_amount",
    "decision_permissions",
    "application_expire_window",
    "application_give_up_screening",
    "application_record_screening",
    "application_register_delivery",
    "application_requeue_stale_screenings",
    "application_release_claim",
    "application_submit",
    "application_withdraw",
    "qa_review_claim",
    "qa_review_record",
    "qa_review_resolve",
    "qa_review_rights",
    "rebuttal_video_fail",
    "rebuttal_video_prepare",
    "rebuttal_videos_requeue_stale",
    "close_expired_windows",
    "evidence_request_answer",
    "evidence_request_cancel",
    "evidence_request_compare_views",
    "evidence_request_create",
    "evidence_request_expire",
    "evidence_request_permissions",
    "expire_evidence_requests",
    "enqueue_screening",
    "evidence_upload_create",
    "evidence_uploads_purge",
    "release_expired_claims",
]
