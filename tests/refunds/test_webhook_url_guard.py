"""The webhook URL guard: with it on (production), URLs leading to loopback, private,
link-local or metadata addresses are refused at registration and again at delivery, where
the connection goes to the address that was checked (no DNS rebinding), and redirects are
never followed. No test lets a request leave this machine: names resolve through a stub."""

import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from refunds.errors import InvalidInput
from refunds.integration import url_guard, webhooks
from refunds.models import WebhookDelivery, WebhookEndpoint
from refunds.services import platform as platform_services
from refunds.services.platform import api_key_issue
from tests.factories import submit
from tests.refunds.api.test_applications import client_with

pytestmark = pytest.mark.django_db

OPS = platform_services.settings_actor_for_command("test")
# A public address the stub resolver answers with; no test ever connects to it.
PUBLIC = "93.184.215.14"


class Receiver:
    """A local endpoint answering every POST with ``status`` (and a redirect target for 3xx)."""

    def __init__(self, status: int = 200, location: str = ""):
        self.requests: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(self.headers.get("Host", ""))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def guard_on(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False


@pytest.fixture
def dns(monkeypatch):
    """A stub resolver: host name → addresses; a name it does not know fails to resolve."""
    table: dict[str, list[str]] = {}

    def resolve(host, port):
        if host in table:
            return table[host]
        try:  # an address literal resolves to itself, without any lookup
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            raise OSError(f"stub resolver does not know {host}") from None

    monkeypatch.setattr(url_guard, "_resolve", resolve)
    return table


@pytest.fixture
def webhooks_key_a(platform_a):
    return api_key_issue(platform=platform_a, name="hooks", scopes=["webhooks"])[1]


REFUSED = [
    "http://127.0.0.1:8000/api/v1/applications",
    "http://localhost/",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://v6-loopback.example/",
    "http://v6-metadata.example/",
    "http://v6-link-local.example/",
    "http://v4-mapped.example/",
    "http://224.0.0.1/",
    "http://rebinder.example/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_link_local_and_metadata_urls_are_refused_at_registration(guard_on, dns, webhooks_key_a, url):
    dns.update(
        {
            "localhost": ["127.0.0.1"],
            "metadata.google.internal": ["169.254.169.254"],
            "v6-loopback.example": ["::1"],
            "v6-metadata.example": ["fd00:ec2::254"],
            "v6-link-local.example": ["fe80::1%eth0"],
            "v4-mapped.example": ["::ffff:127.0.0.1"],
            "rebinder.example": [PUBLIC, "10.1.2.3"],
        }
    )  # one private answer among public ones is enough
    response = client_with(webhooks_key_a).post("/api/v1/webhook-endpoints", {"url": url}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "webhook_url_not_public"
    assert not WebhookEndpoint.objects.exists()


def test_an_address_literal_in_brackets_is_not_taken(guard_on, webhooks_key_a):
    response = client_with(webhooks_key_a).post("/api/v1/webhook-endpoints", {"url": "http://[::1]/"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["details"]["param"] == "url"


def test_a_name_that_does_not_resolve_is_refused(guard_on, dns, platform_a):
    with pytest.raises(InvalidInput) as refused:
        platform_services.webhook_endpoint_create(platform=platform_a, url="https://nowhere.example/hooks", actor=OPS)
    assert refused.value.code == "webhook_url_unresolvable"


def test_a_public_name_is_accepted(guard_on, dns, platform_a):
    dns["hooks.example"] = [PUBLIC]
    endpoint = platform_services.webhook_endpoint_create(platform=platform_a, url="https://hooks.example/rh", actor=OPS)
    assert endpoint.active


def test_https_is_required_where_the_setting_says_so(settings, webhooks_key_a):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    response = client_with(webhooks_key_a).post(
        "/api/v1/webhook-endpoints", {"url": "http://hooks.example/"}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "webhook_url_not_https"


def test_a_patch_to_a_private_url_is_refused(guard_on, dns, platform_a, webhooks_key_a):
    dns["hooks.example"] = [PUBLIC]
    endpoint = platform_services.webhook_endpoint_create(platform=platform_a, url="https://hooks.example/rh", actor=OPS)
    response = client_with(webhooks_key_a).patch(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}", {"url": "http://169.254.169.254/"}, format="json"
    )
    assert response.status_code == 400
    assert WebhookEndpoint.objects.get().url == "https://hooks.example/rh"


def deliver_all(application):
    for endpoint_pk in WebhookEndpoint.objects.values_list("pk", flat=True):
        webhooks.deliver_pending(endpoint_pk=endpoint_pk, application_pk=application.pk)


def test_a_name_rebound_to_loopback_after_registration_is_refused_at_delivery(
    guard_on, dns, receiver, platform_a, product
):
    dns["rebinder.example"] = [PUBLIC]
    platform_services.webhook_endpoint_create(
        platform=platform_a, url=f"http://rebinder.example:{receiver.port}/hooks", actor=OPS
    )
    dns["rebinder.example"] = ["127.0.0.1"]  # the attacker's DNS answers differently now
    application = submit(product)
    deliver_all(application)
    delivery = WebhookDelivery.objects.get()
    assert receiver.requests == []
    assert delivery.status == "pending" and delivery.attempts == 1
    assert "webhook_url_not_public" in delivery.last_error


def test_an_endpoint_stored_with_a_private_address_is_refused_at_delivery(
    guard_on, receiver, platform_a, product, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    platform_services.webhook_endpoint_create(
        platform=platform_a, url=f"http://127.0.0.1:{receiver.port}/hooks", actor=OPS
    )
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    deliver_all(submit(product))
    assert receiver.requests == []
    assert "refused by the URL guard" in WebhookDelivery.objects.get().last_error


def test_delivery_connects_to_the_address_that_was_checked(guard_on, dns, receiver, platform_a, product, monkeypatch):
    # Let loopback pass the check for this test only, so that the pinned connection has
    # somewhere local to go: the host name itself resolves nowhere outside the stub.
    monkeypatch.setattr(url_guard, "address_is_public", lambda address: address == "127.0.0.1")
    dns["pinned.example"] = ["127.0.0.1"]
    platform_services.webhook_endpoint_create(
        platform=platform_a, url=f"http://pinned.example:{receiver.port}/hooks", actor=OPS
    )
    deliver_all(submit(product))
    assert WebhookDelivery.objects.get().status == "delivered"
    assert receiver.requests == [f"pinned.example:{receiver.port}"]


def test_redirects_are_not_followed(platform_a, product):
    target = Receiver()
    redirecting = Receiver(status=302, location=f"http://127.0.0.1:{target.port}/elsewhere")
    try:
        platform_services.webhook_endpoint_create(
            platform=platform_a, url=f"http://127.0.0.1:{redirecting.port}/hooks", actor=OPS
        )
        deliver_all(submit(product))
        assert len(redirecting.requests) == 1 and target.requests == []
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending" and delivery.last_status_code == 302
    finally:
        target.close()
        redirecting.close()


@pytest.mark.parametrize(
    "address, public",
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("::ffff:10.0.0.1", False),
        ("fc00::1", False),
    ],
)
def test_which_addresses_are_public(address, public):
    assert url_guard.address_is_public(address) is public


class KeepAliveReceiver:
    """A local endpoint speaking HTTP/1.1, as a platform's server does: a connection carries
    request after request until one side closes it. ``close_when_idle``: it closes each
    connection after answering, without saying so, as a server whose keep-alive timeout ran out."""

    def __init__(self, *, close_when_idle: bool = False):
        self.requests: list[tuple[int, str]] = []  # (the sender's port, the Host header)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.client_address[1], self.headers.get("Host", "")))
                self.send_response(204)
                self.end_headers()
                self.close_connection = close_when_idle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def connections(self) -> int:
        return len({port for port, _ in self.requests})

    def close(self):
        url_guard.close_connections()
        self.server.shutdown()


@pytest.fixture
def keep_alive_receiver():
    server = KeepAliveReceiver()
    yield server
    server.close()


@pytest.fixture
def pinned_name(guard_on, dns, monkeypatch):
    """pinned.example resolves to loopback, which the guard lets pass for these tests only."""
    monkeypatch.setattr(url_guard, "address_is_public", lambda address: address == "127.0.0.1")
    dns["pinned.example"] = ["127.0.0.1"]
    return dns


def test_deliveries_share_one_kept_connection_to_the_address_that_was_checked(
    pinned_name, keep_alive_receiver, platform_a, product
):
    platform_services.webhook_endpoint_create(
        platform=platform_a, url=f"http://pinned.example:{keep_alive_receiver.port}/hooks", actor=OPS
    )
    for n in range(3):
        deliver_all(submit(product, order_ref=f"order-{n}"))
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert [host for _, host in keep_alive_receiver.requests] == [f"pinned.example:{keep_alive_receiver.port}"] * 3
    assert keep_alive_receiver.connections() == 1


def test_a_kept_connection_is_not_used_once_the_name_leads_to_a_refused_address(
    pinned_name, keep_alive_receiver, platform_a, product
):
    platform_services.webhook_endpoint_create(
        platform=platform_a, url=f"http://pinned.example:{keep_alive_receiver.port}/hooks", actor=OPS
    )
    deliver_all(submit(product, order_ref="order-1"))  # leaves its connection open
    pinned_name["pinned.example"] = ["10.0.0.5"]  # rebound: every request is checked again

    deliver_all(submit(product, order_ref="order-2"))

    assert len(keep_alive_receiver.requests) == 1
    refused = WebhookDelivery.objects.get(event__application__order_ref="order-2")
    assert refused.status == "pending" and "webhook_url_not_public" in refused.last_error


def test_a_kept_connection_is_not_used_once_the_guard_refuses_private_addresses(
    keep_alive_receiver, platform_a, product, settings
):
    platform_services.webhook_endpoint_create(platform=platform_a, url=keep_alive_receiver.url, actor=OPS)
    deliver_all(submit(product, order_ref="order-1"))  # private addresses allowed: delivered, kept open
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    deliver_all(submit(product, order_ref="order-2"))

    assert len(keep_alive_receiver.requests) == 1
    assert "refused by the URL guard" in WebhookDelivery.objects.get(event__application__order_ref="order-2").last_error


def test_a_connection_the_receiver_closed_while_idle_is_opened_anew_not_failed_on(platform_a, product):
    receiver = KeepAliveReceiver(close_when_idle=True)
    try:
        platform_services.webhook_endpoint_create(platform=platform_a, url=receiver.url, actor=OPS)
        for n in range(3):
            deliver_all(submit(product, order_ref=f"order-{n}"))
    finally:
        receiver.close()
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}
    assert receiver.connections() == 3
