"""The one hook the workflow calls on every transition (refunds/services/_base.py ``apply``):
the transitions counter, and the application and actor for the log lines that follow."""

from __future__ import annotations

from typing import Any

from reviewhub import instruments, logs


def transition_applied(application: Any, *, action: str, from_state: str, actor: Any) -> None:
    instruments.transition_counted(action=action, from_state=from_state, to_state=application.state)
    logs.bind(application_id=str(application.public_id), actor=logs.actor_text(actor))
