"""Repeated failed sign-ins lock out one user name from one address for a while (django-axes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

pytestmark = pytest.mark.django_db


def sign_in(client, password: str, address: str = "203.0.113.7"):
    return client.post(
        "/accounts/login/", {"username": "owner", "password": password}, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en"
    )


def test_the_owner_is_locked_out_after_repeated_failures_even_with_the_right_password(client, merchant_owner):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "guess").status_code == 200
    locked = sign_in(client, "guess")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode() and "15 minutes" in locked.content.decode()
    assert sign_in(client, "pw-owner").status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_address_so_strangers_cannot_lock_the_owner_out(client, merchant_owner):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "guess", address="198.51.100.9")
    assert sign_in(client, "pw-owner", address="203.0.113.7").status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, merchant_owner):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "guess")
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)):
        assert sign_in(client, "pw-owner").status_code == 302


def test_the_admin_sign_in_is_locked_out_too(client, reviewer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "reviewer", "password": "guess"}, REMOTE_ADDR="203.0.113.8")
    response = client.post(
        "/admin/login/", {"username": "reviewer", "password": "pw-reviewer"}, REMOTE_ADDR="203.0.113.8"
    )
    assert response.status_code == 429
