"""Beat jobs of the refund workflow. Each catches up with everything overdue."""

from celery import shared_task

from refunds import services
from refunds.integration import idempotency, outbox, webhooks


@shared_task(name="refunds.close_expired_windows", acks_late=True)
def close_expired_windows() -> int:
    return services.close_expired_windows()


@shared_task(name="refunds.release_expired_claims", acks_late=True)
def release_expired_claims() -> int:
    return services.release_expired_claims()


@shared_task(name="refunds.purge_idempotency_records", acks_late=True)
def purge_idempotency_records() -> int:
    return idempotency.purge_expired()


@shared_task(name="refunds.deliver_webhooks", acks_late=True)
def deliver_webhooks(endpoint_pk: int, application_pk: int) -> int:
    return webhooks.deliver_pending(endpoint_pk=endpoint_pk, application_pk=application_pk)


@shared_task(name="refunds.retry_due_webhooks", acks_late=True)
def retry_due_webhooks() -> int:
    return webhooks.retry_due()


@shared_task(name="refunds.purge_unused_evidence_uploads", acks_late=True)
def purge_unused_evidence_uploads() -> int:
    return services.evidence_uploads_purge()


@shared_task(name="refunds.relay_outbox", acks_late=True)
def relay_outbox() -> int:
    return outbox.relay()
