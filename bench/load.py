"""Soak under faults: applications through the whole product while its infrastructure breaks.

Usage: DATABASE_URL=postgres://... [REDIS_URL=redis://.../N] .venv/bin/python bench/load.py
       [--applications N (default 10000)] [--clients C] [--web-workers W] [--concurrency K]
       [--beat-late S] [--no-faults] [--redis private|url] [--distinct]

Starts on loopback gunicorn, a Celery worker (prefork) and beat on PostgreSQL and Redis, and a
webhook receiver that refuses one delivery in thirty. Client threads submit N applications
(one 640 x 480 photo each, from 500 distinct ones, or all distinct with ``--distinct``)
with an Idempotency-Key each, retrying on 503/429 after Retry-After and on connection errors
with the same key, and replaying one request in twenty after its success. A merchant thread
accepts or contests (or lets the window run out: its deadline is moved into the past, as if
48 hours went by) and reviewer threads claim and decide, all through the services. Faults
on a schedule through the run: Redis restarted (a private redis-server; with ``--redis url``
the connections of REDIS_URL's database are killed instead), the worker SIGKILLed while it
screens, every PostgreSQL connection of the database ended with pg_terminate_backend, beat
stopped for ``--beat-late`` seconds while windows expire. At the end it waits until every
application is decided and every webhook delivered, runs the invariant audit
(refunds/invariants.py, as ``manage.py check_invariants``) and prints a table whose
counts must all be zero, then the throughput. Exit 1 if any is not.

It refuses CI's database ``test`` and Redis database 15 unless ``--allow-ci-resources``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import free_port, multipart, wait_until_serving  # noqa: E402


def evidence_jpeg(seed: int) -> bytes:
    """A small photo-like JPEG unlike every other seed's (smooth colour blobs plus grain)."""
    rng = np.random.default_rng(seed)
    blobs = Image.fromarray(rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)).resize((640, 480), Image.BICUBIC)
    pixels = np.asarray(blobs).astype(np.float32) + rng.normal(0, 4, (480, 640, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


class Stack:
    """The product's processes, each in its own session so a fault can kill it whole."""

    def __init__(self, env: dict[str, str], *, web_workers: int, concurrency: int) -> None:
        self.env = env
        self.port = free_port()
        self.commands = {
            "web": [
                sys.executable,
                "-m",
                "gunicorn",
                "reviewhub.wsgi:application",
                "-w",
                str(web_workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
            ],
            "worker": [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "reviewhub",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "ERROR",
            ],
            "beat": [sys.executable, "-m", "celery", "-A", "reviewhub", "beat", "--loglevel", "ERROR"],
        }
        self.processes: dict[str, subprocess.Popen | None] = {}
        self.stopped = False
        self.expected_down: set[str] = set()
        self.unexpected_exits: Counter[str] = Counter()
        self.log = open(Path(env["REVIEWHUB_VAR_DIR"]) / "stack.log", "ab")  # noqa: SIM115

    def start(self, name: str) -> None:
        if self.stopped:
            return  # a fault's restart that comes after the run ended
        self.processes[name] = subprocess.Popen(
            self.commands[name], cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log, start_new_session=True
        )
        self.expected_down.discard(name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.get(name)
        self.expected_down.add(name)
        if process is not None and process.poll() is None:
            os.killpg(process.pid, sig)
            process.wait(timeout=60)

    def watch(self) -> None:
        """Count and restart a process that exited without a fault asking it to (a crash)."""
        for name, process in self.processes.items():
            if name not in self.expected_down and process is not None and process.poll() is not None:
                self.unexpected_exits[name] += 1
                self.start(name)

    def stop(self) -> None:
        self.stopped = True
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM)


class PrivateRedis:
    """A redis-server of the run's own on a free loopback port, restartable without touching
    anything else on the machine."""

    def __init__(self, folder: Path) -> None:
        from tests.support.services import RedisServer

        self.server = RedisServer(folder)
        self.server.start()
        self.url = self.server.url

    def fault(self) -> str:
        self.server.restart()
        return "Redis restarted (its queue and unacknowledged messages lost with it)"

    def close(self) -> None:
        self.server.stop()


class SharedRedis:
    """REDIS_URL's database: the fault kills every client connection on that database only."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = int(urlparse(url).path.lstrip("/") or 0)

    def fault(self) -> str:
        import redis

        admin = redis.Redis.from_url(self.url)
        mine = admin.client_id()
        killed = 0
        for client in admin.client_list():
            if int(client.get("db", -1)) == self.db and int(client["id"]) != mine:
                killed += admin.client_kill_filter(_id=client["id"])
        return f"{killed} Redis connection(s) of db {self.db} cut"

    def close(self) -> None:
        pass


class Receiver:
    """The platform's webhook endpoint on loopback: records every delivery, refuses a few."""

    def __init__(self, refuse_every: int = 30) -> None:
        self.received: dict[str, list[int]] = defaultdict(list)
        self.lock = threading.Lock()
        self.count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1, as a platform's server speaks it: a connection carries one delivery after
            # another (http.server's default, HTTP/1.0, closes it after each answer).
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's spelling
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.count += 1
                    refuse = refuse_every and receiver.count % refuse_every == 0
                    if not refuse:
                        event = json.loads(body)
                        receiver.received[event["data"]["application"]].append(event["sequence"])
                self.send_response(503 if refuse else 204)
                if refuse:
                    self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def terminate_database_connections() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (ended,) = cursor.fetchone()
    return f"{ended} PostgreSQL connection(s) ended with pg_terminate_backend"


def seed(receiver_url: str) -> dict[str, object]:
    from django.contrib.auth.models import Group, User
    from django.core.files.uploadedfile import SimpleUploadedFile

    from refunds.models import MerchantMember
    from refunds.roles import ensure_role_groups
    from refunds.services.catalogue import merchant_create, product_create, reference_image_add
    from refunds.services.platform import (
        api_key_issue,
        platform_create,
        settings_actor_for_command,
        webhook_endpoint_create,
    )

    run = uuid.uuid4().hex[:8]
    actor = settings_actor_for_command("bench/load.py")
    platform = platform_create(name=f"Soak {run}", slug=f"soak-{run}", actor=actor)
    merchant = merchant_create(platform=platform, external_ref="shop", name="Soak shop")
    product = product_create(merchant=merchant, external_ref="sku", title="Soak item")
    reference_image_add(product=product, image=SimpleUploadedFile("reference.jpg", evidence_jpeg(10**9)))
    webhook_endpoint_create(platform=platform, url=receiver_url, actor=actor)
    key = api_key_issue(platform=platform, name="soak", scopes=["read", "write"], actor=actor)[1]
    ensure_role_groups()
    owner = User.objects.create_user(f"soak-owner-{run}")
    MerchantMember.objects.create(user=owner, merchant=merchant, role=MerchantMember.Role.OWNER)
    reviewers = []
    for name, group in (("reviewer", "Reviewers"), ("senior", "Senior reviewers")):
        user = User.objects.create_user(f"soak-{name}-{run}", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        reviewers.append(User.objects.get(pk=user.pk))
    return {
        "run": run,
        "platform": platform,
        "merchant": str(merchant.public_id),
        "product": str(product.public_id),
        "key": key,
        "owner": owner,
        "reviewers": reviewers,
    }


class Clients:
    """Platforms' order systems: submit with an Idempotency-Key, retry as the API asks."""

    def __init__(self, base: str, world: dict[str, object], photo: Callable[[int], bytes]) -> None:
        self.base, self.world, self.photo = base, world, photo
        self.ids: dict[int, str] = {}
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.connection_errors = 0
        self.gave_up: list[int] = []
        self.replay_mismatches = 0
        self.replays = 0
        self.lock = threading.Lock()

    def post(self, body: bytes, content_type: str, key: str) -> tuple[int, dict, dict]:
        request = urllib.request.Request(
            f"{self.base}/api/v1/applications",
            data=body,
            headers={
                "Authorization": f"Bearer {self.world['key']}",
                "Content-Type": content_type,
                "Idempotency-Key": key,
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            payload = error.read()
            try:
                answer = json.loads(payload or b"{}")
            except ValueError:
                answer = {"raw": payload[:200].decode(errors="replace")}
            return error.code, dict(error.headers), answer

    def send(self, body: bytes, content_type: str, key: str) -> tuple[int, dict] | None:
        """POST until the answer is final: after a connection error, a 5xx or a 429, wait (as
        long as Retry-After says, at most 10 s) and send the same request with the same key.
        Return (status, answer), or None if no final answer came within 300 s."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            sent = time.perf_counter()
            try:
                status, headers, answer = self.post(body, content_type, key)
            except OSError:
                with self.lock:
                    self.connection_errors += 1
                time.sleep(0.5)
                continue
            with self.lock:
                self.statuses[status] += 1
                if status == 201:
                    self.latencies.append(time.perf_counter() - sent)
            if status == 429 or status >= 500:
                time.sleep(min(float(headers.get("Retry-After") or 1), 10))
                continue
            return status, answer
        return None

    def submit(self, index: int) -> None:
        body, content_type = multipart(
            {
                "merchant": str(self.world["merchant"]),
                "product": str(self.world["product"]),
                "amount": "39.90",
                "currency": "CNY",
                "reason_code": "damaged",
                "order_ref": f"soak-{self.world['run']}-{index}",
                "buyer_ref": f"buyer-{index % 97}",
            },
            {"evidence": (f"e{index}.jpg", self.photo(index))},
        )
        key = f"soak-{self.world['run']}-{index}"
        final = self.send(body, content_type, key)
        if final is None or final[0] != 201:
            with self.lock:
                self.gave_up.append(index)
            return
        with self.lock:
            self.ids[index] = final[1]["id"]
        if random.random() < 0.05:  # a client that did not hear the answer sends it again
            replay = self.send(body, content_type, key)
            with self.lock:
                self.replays += 1
                if replay is None or replay[0] != 201 or replay[1].get("id") != final[1]["id"]:
                    self.replay_mismatches += 1


class People:
    """The merchant and the reviewers, acting through the services while submissions run."""

    def __init__(self, world: dict[str, object]) -> None:
        self.world = world
        self.conflicts: Counter[str] = Counter()
        self.database_errors = 0
        self.actions: Counter[str] = Counter()
        self.stop = threading.Event()
        self.answered: set[object] = set()

    def _guarded(self, act) -> bool:  # noqa: ANN001
        """Run one action; return False if a fault interrupted it (to be tried again)."""
        from django.db import DatabaseError, InterfaceError, connection

        from refunds.errors import DomainError

        try:
            act()
        except DomainError as error:
            self.conflicts[str(error.code)] += 1
        except (DatabaseError, InterfaceError):
            # A fault ended this thread's connection: open a new one and try again next round.
            self.database_errors += 1
            connection.close()
            return False
        return True

    def merchant(self) -> None:
        from django.utils import timezone

        from refunds.models import RefundApplication
        from refunds.services import Actor, application_accept, application_contest
        from refunds.states import ActorKind, ApplicationState

        actor = Actor.of_user(ActorKind.MERCHANT, self.world["owner"])
        while not self.stop.is_set():

            def round_() -> None:
                waiting = list(
                    # Open windows only: one let run out waits for beat and is not the merchant's.
                    RefundApplication.objects.filter(
                        platform=self.world["platform"],
                        state=ApplicationState.AWAITING_MERCHANT,
                        merchant_deadline__gt=timezone.now(),
                    ).values_list("public_id", flat=True)[:50]
                )
                for public_id in waiting:
                    if public_id in self.answered:
                        continue  # its window was let run out: beat's to close
                    choice = int(hashlib.sha256(str(public_id).encode()).hexdigest(), 16) % 10
                    if choice < 4:
                        action = "merchant accepts"
                        done = self._guarded(lambda p=public_id: application_accept(application_id=p, actor=actor))
                    elif choice < 7:
                        action = "merchant contests"
                        done = self._guarded(
                            lambda p=public_id: application_contest(
                                application_id=p, actor=actor, statement="Packed intact; see the scale photo."
                            )
                        )
                    else:
                        # The window runs out: 48 hours pass for this application (beat decides).
                        action = "windows let expire"
                        done = self._guarded(
                            lambda p=public_id: RefundApplication.objects.filter(
                                public_id=p, merchant_deadline__gt=timezone.now()
                            ).update(merchant_deadline=timezone.now())
                        )
                        if done and choice == 9:  # and the merchant answers just as it closes: one wins
                            self._guarded(lambda p=public_id: application_accept(application_id=p, actor=actor))
                            self.actions["merchant accepts at the deadline"] += 1
                    if done:
                        self.answered.add(public_id)
                        self.actions[action] += 1

            self._guarded(round_)
            time.sleep(0.3)

    def reviewer(self, user) -> None:  # noqa: ANN001
        from refunds.models import RefundApplication
        from refunds.services import application_claim, application_decide
        from refunds.states import ApplicationState, DecisionReason, Outcome, RiskLevel

        while not self.stop.is_set():

            def round_() -> None:
                queue = list(
                    RefundApplication.objects.filter(
                        platform=self.world["platform"], state=ApplicationState.IN_REVIEW
                    ).values_list("public_id", "risk_level")[:20]
                )
                random.shuffle(queue)  # both reviewers reach for the same ones now and then
                for public_id, risk in queue:
                    self._guarded(lambda p=public_id: application_claim(application_id=p, reviewer=user))
                    approve = risk == RiskLevel.CLEAN
                    self._guarded(
                        lambda p=public_id, a=approve: application_decide(
                            application_id=p,
                            reviewer=user,
                            outcome=Outcome.APPROVED if a else Outcome.REJECTED,
                            reason_codes=[
                                DecisionReason.EVIDENCE_CONSISTENT if a else DecisionReason.INSUFFICIENT_EVIDENCE
                            ],
                            note="Checked the evidence against the reference.",
                        )
                    )
                    self.actions["reviewer decisions tried"] += 1

            self._guarded(round_)
            time.sleep(0.3)


def main() -> int:  # noqa: C901, PLR0912, PLR0915 - one scripted run, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=10_000, help="how many to submit (default 10 000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads submitting at once")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's pool processes")
    parser.add_argument("--beat-late", type=float, default=45, help="seconds beat stays down while windows expire")
    parser.add_argument("--no-faults", action="store_true", help="the same run without injected faults")
    parser.add_argument("--redis", choices=["private", "url"], default="private")
    parser.add_argument("--allow-ci-resources", action="store_true")
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="a photo of its own for every application, written to files before the run (default: 500 "
        "distinct photos, repeated past 500, each repeat screened as a possible reuse)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the run to settle")
    parser.add_argument(
        "--stale-after",
        type=int,
        default=None,
        help="the sweeper's SCREENING_STALE_AFTER in seconds (default: the product's 60), with the "
        "screening time limits and the broker's visibility timeout scaled to fit under it",
    )
    parser.add_argument(
        "--beat-interval", type=int, default=5, help="seconds between beat's jobs (BEAT_INTERVAL_SECONDS)"
    )
    args = parser.parse_args()
    # Stopped from outside (SIGTERM, or Ctrl-C): leave through the clean-up that stops the stack.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        parser.error("set DATABASE_URL to a PostgreSQL database (faults end its connections)")
    if urlparse(database_url).path.lstrip("/") == "test" and not args.allow_ci_resources:
        parser.error("refusing CI's database 'test' (pass --allow-ci-resources if you mean it)")
    folder = Path(tempfile.mkdtemp(prefix="reviewhub-soak-"))
    if args.redis == "url":
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            parser.error("--redis url needs REDIS_URL")
        if urlparse(redis_url).path.lstrip("/") == "15" and not args.allow_ci_resources:
            parser.error("refusing CI's Redis database 15 (pass --allow-ci-resources if you mean it)")
        redis: PrivateRedis | SharedRedis = SharedRedis(redis_url)
    else:
        redis = PrivateRedis(folder)

    env = dict(
        os.environ,
        REVIEWHUB_VAR_DIR=str(folder),
        MEDIA_ROOT=str(folder / "media"),
        PROMETHEUS_MULTIPROC_DIR=str(folder / "metrics"),
        REDIS_URL=redis.url,
        CELERY_BROKER_URL=redis.url,
        DEBUG="0",
        PYTHONWARNINGS="ignore",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="ERROR",
        API_RATE_LIMIT="1000000/min",
        API_INVALID_KEY_LIMIT="1000000/min",
        BEAT_INTERVAL_SECONDS=str(args.beat_interval),
        WEBHOOK_RETRY_BASE_SECONDS="1",
        WEBHOOK_RETRY_MAX_SECONDS="10",
        DJANGO_SETTINGS_MODULE="reviewhub.settings",
        **recovery_settings(args.stale_after),
    )
    for sub in ("media", "metrics"):
        (folder / sub).mkdir()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from refunds import audit
    from refunds.invariants import audit_database
    from refunds.models import Decision, RefundApplication, WebhookDelivery, WebhookEvent
    from refunds.states import ActorKind, ApplicationState, Outcome
    from reviewhub.heartbeat import WORKER_PREFIX
    from reviewhub.models import Heartbeat

    receiver = Receiver()
    world = seed(receiver.url)
    photo: Callable[[int], bytes]
    if args.distinct:
        # Written to files before the stack starts and read as each is submitted: in memory,
        # 10 000 would take about 460 MB, and made by the clients as they submit, their 22 ms
        # each (on the two-core machine) would be taken from the stack during the measurement.
        print(f"run {world['run']}: writing {args.applications} distinct evidence images", flush=True)
        photos = folder / "photos"
        photos.mkdir()
        for number in range(args.applications):
            (photos / f"{number}.jpg").write_bytes(evidence_jpeg(number))

        def photo(index: int) -> bytes:
            return (photos / f"{index}.jpg").read_bytes()

    else:
        print(f"run {world['run']}: building {min(args.applications, 500)} evidence images", flush=True)
        images = [evidence_jpeg(seed) for seed in range(min(args.applications, 500))]
        # More applications than images: each repeat is a resubmitted photo, which screening
        # compares in pixels with the earlier ones and may flag as reused (a cost the batch
        # never pays); the workflow must hold either way.

        def photo(index: int) -> bytes:
            return images[index % len(images)]

    sample = [photo(index) for index in range(min(args.applications, 100))]

    batch_before = screening_batch_rate(folder / "batch-before", sample)
    if batch_before is not None:
        print(f"screening batch on {len(sample)} of the same images: {batch_before:.2f} images/s", flush=True)

    stack = Stack(env, web_workers=args.web_workers, concurrency=args.concurrency)
    booted = timezone.now()
    for name in ("web", "worker", "beat"):
        stack.start(name)
    base = f"http://127.0.0.1:{stack.port}"
    wait_until_serving(base)
    # End to end measures the pipeline, not the worker's start-up (imports take seconds on a
    # busy machine): the first POST waits until the worker has said it is ready.
    worker_ready = Heartbeat.objects.filter(name__startswith=WORKER_PREFIX, at__gte=booted)
    until = time.monotonic() + 120
    while not worker_ready.exists() and time.monotonic() < until:
        time.sleep(0.2)
    clients = Clients(base, world, photo)
    people = People(world)
    threads = [threading.Thread(target=people.merchant, daemon=True)]
    threads += [threading.Thread(target=people.reviewer, args=(user,), daemon=True) for user in world["reviewers"]]
    for thread in threads:
        thread.start()

    faults: list[tuple[float, str, str]] = []
    started = time.perf_counter()

    def note(kind: str, what: str) -> None:
        faults.append((time.perf_counter() - started, kind, what))
        print(f"  {time.perf_counter() - started:7.1f} s  {kind}: {what}", flush=True)

    def worker_busy() -> bool:
        return RefundApplication.objects.filter(
            platform=world["platform"], state=ApplicationState.SUBMITTED, delivered_at__isnull=False
        ).exists()

    def inject(kind: str) -> None:
        if kind == "redis":
            note("Redis", redis.fault())
        elif kind == "worker":
            # Wait (briefly) until a screening is under way, so the kill lands mid-task.
            until = time.monotonic() + 10
            while not worker_busy() and time.monotonic() < until:
                time.sleep(0.05)
            stack.kill("worker")
            note("worker", "worker and its pool SIGKILLed mid-screening; restarted 2 s later")
            time.sleep(2)
            stack.start("worker")
        elif kind == "postgres":
            note("PostgreSQL", terminate_database_connections())
        elif kind == "beat":
            stack.kill("beat", signal.SIGKILL)
            note("beat", f"beat killed; windows keep expiring; back in {args.beat_late:.0f} s")
            threading.Timer(args.beat_late, lambda: (stack.start("beat"), note("beat", "beat started again"))).start()

    # Progress runs from 0 to 1: the first half while clients submit, the second while the
    # workers screen and route what was submitted, so faults hit both the API and the workers.
    schedule = (
        []
        if args.no_faults
        else [
            (0.10, "redis"),
            (0.25, "postgres"),
            (0.40, "worker"),
            (0.55, "redis"),
            (0.62, "beat"),
            (0.70, "worker"),
            (0.78, "postgres"),
            (0.86, "redis"),
            (0.92, "worker"),
        ]
    )
    routed_count = [0]

    def progress() -> float:
        submitted = len(clients.ids) + len(clients.gave_up)
        return (submitted + routed_count[0]) / (2 * args.applications)

    done = threading.Event()

    def run_faults() -> None:
        pending = list(schedule)
        while pending and not done.is_set():
            stack.watch()
            if progress() >= pending[0][0]:
                inject(pending.pop(0)[1])
            time.sleep(0.1)
        while not done.is_set():
            stack.watch()
            time.sleep(0.5)

    fault_thread = threading.Thread(target=run_faults, daemon=True)
    fault_thread.start()

    mine = RefundApplication.objects.filter(platform=world["platform"])
    try:
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(clients.submit, range(args.applications)))
        submitted_after = time.perf_counter() - started
        print(f"submitted {len(clients.ids)} in {submitted_after:.1f} s", flush=True)

        def settled() -> tuple[int, int]:
            routed = mine.exclude(state__in=[ApplicationState.SUBMITTED, ApplicationState.AUTO_SCREENED]).count()
            open_ = mine.exclude(state__in=[ApplicationState.DECIDED, ApplicationState.WITHDRAWN]).count()
            return routed, open_

        routed_after = None
        give_up_at = time.monotonic() + args.timeout
        while time.monotonic() < give_up_at:
            try:
                routed, open_ = settled()
            except Exception:  # noqa: BLE001 - a fault ended this connection; ask again
                connection.close()
                time.sleep(1)
                continue
            routed_count[0] = routed
            if routed_after is None and routed >= len(clients.ids):
                routed_after = time.perf_counter() - started
            if open_ == 0 and fault_thread.is_alive() and not schedule_pending(schedule, faults):
                break
            time.sleep(1)
        decided_after = time.perf_counter() - started
        people.stop.set()
        for thread in threads:
            thread.join(timeout=30)

        def undelivered() -> int:
            return WebhookDelivery.objects.filter(event__platform=world["platform"]).exclude(status="delivered").count()

        # The drain after the last decision: how far deliveries trail the events.
        drain_started = time.perf_counter()
        pending_at_last_decision = left = undelivered()
        last_report = drain_started
        while left and time.monotonic() < give_up_at:
            time.sleep(1)
            left = undelivered()
            if time.perf_counter() - last_report >= 30:
                last_report = time.perf_counter()
                print(
                    f"  {left} webhook deliveries pending {last_report - drain_started:.0f} s after the last decision",
                    flush=True,
                )
        drain_seconds = time.perf_counter() - drain_started
    finally:
        done.set()
        stack.stop()
        redis.close()
        receiver.server.shutdown()

    # Batch again once the stack is down: the machine's other work changes during a run, and one
    # sample before it made the ratio swing by a factor of three between runs of the same code.
    batch_after = screening_batch_rate(folder / "batch-after", sample)
    measured = [rate for rate in (batch_before, batch_after) if rate is not None]
    batch_rate = statistics.mean(measured) if measured else None
    connection.close()
    events = WebhookEvent.objects.filter(platform=world["platform"])
    expected = defaultdict(set)
    for application, sequence in events.values_list("application__public_id", "sequence"):
        expected[str(application)].add(sequence)
    missing = sum(len(sequences - set(receiver.received.get(app, []))) for app, sequences in expected.items())
    out_of_order = 0
    redelivered = 0
    for sequences in receiver.received.values():
        first_seen = list(dict.fromkeys(sequences))
        out_of_order += sum(1 for a, b in zip(first_seen, first_seen[1:], strict=False) if b < a)
        redelivered += len(sequences) - len(first_seen)

    applications = mine.count()
    keys = len(set(mine.values_list("idempotency_key", flat=True)))
    decisions = Decision.objects.filter(application__platform=world["platform"])
    double_decisions = (
        decisions.values("application_id").annotate(n=Count("pk")).filter(n__gt=1).count()
        + mine.filter(state=ApplicationState.DECIDED).exclude(decision__isnull=False).count()
    )
    known_ids = set(clients.ids.values())
    lost = len(clients.gave_up) + len(known_ids - {str(i) for i in mine.values_list("public_id", flat=True)})
    chains = [audit.verify_chain(application).ok for application in mine.iterator()]
    report = audit_database(grace=None)
    system_approvals = decisions.filter(actor_kind=ActorKind.SYSTEM, outcome=Outcome.APPROVED).count()
    unfinished = mine.exclude(state__in=[ApplicationState.DECIDED, ApplicationState.WITHDRAWN]).count()

    rows: list[tuple[str, object, bool]] = [
        ("applications submitted (201)", len(clients.ids), False),
        ("applications in the database", applications, False),
        ("decisions", decisions.count(), False),
        ("  by merchant / reviewer / system", decision_split(decisions), False),
        ("  system approvals (each needs clean screening)", system_approvals, False),
        ("client requests (all statuses)", dict(sorted(clients.statuses.items())), False),
        ("idempotent replays sent", clients.replays, False),
        ("conflicts refused to merchant/reviewers", dict(people.conflicts), False),
        (
            "webhook events / deliveries received",
            f"{events.count()} / {sum(map(len, receiver.received.values()))}",
            False,
        ),
        ("webhook redeliveries (at-least-once)", redelivered, False),
        ("duplicates (applications beyond one per key)", applications - keys + clients.replay_mismatches, True),
        ("lost (accepted or attempted, not in the database)", lost, True),
        ("HTTP 500 answers", sum(n for status, n in clients.statuses.items() if status >= 500 and status != 503), True),
        ("applications not decided at the end", unfinished, True),
        ("double decisions", double_decisions, True),
        ("audit chains verified / broken", f"{sum(chains)} / {len(chains) - sum(chains)}", False),
        ("broken audit chains", len(chains) - sum(chains), True),
        ("webhook deliveries missing", missing, True),
        ("webhook deliveries out of order", out_of_order, True),
        ("worker/web/beat exits not caused by a fault", sum(stack.unexpected_exits.values()), True),
    ]
    rows += [(f"invariant: {line.split(':')[0]}", int(line.split(": ")[1]), True) for line in report.lines()]
    print()
    print(f"faults injected ({len(faults)}):")
    for at, kind, what in faults:
        print(f"  {at:7.1f} s  {kind}: {what}")
    print()
    width = max(len(name) for name, _, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"| {'-' * width} | ----- |")
    for name, value, must_be_zero in rows:
        print(f"| {name.ljust(width)} | {value}{' (must be 0)' if must_be_zero and value else ''} |")
    p99 = statistics.quantiles(clients.latencies, n=100)[98] if len(clients.latencies) >= 2 else 0
    print()
    print(
        f"PostgreSQL, Redis ({args.redis}), gunicorn x{args.web_workers}, worker prefork x{args.concurrency}, "
        f"beat; {os.cpu_count()} cores; {args.clients} clients; "
        f"{'every photo distinct' if args.distinct else f'{min(args.applications, 500)} distinct photos'}"
    )
    print(
        f"submissions: {len(clients.ids) / submitted_after:.1f}/s over {submitted_after:.0f} s; "
        f"API p50 {statistics.median(clients.latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    if routed_after:
        end_to_end = len(clients.ids) / routed_after
        baseline = (
            "screening batch not measured"
            if batch_rate is None
            else f"screening batch {batch_rate:.2f} images/s (before {batch_before or 0:.2f}, "
            f"after {batch_after or 0:.2f}); ratio {end_to_end / batch_rate:.2f}"
        )
        print(
            f"end to end (first POST to last routed): {end_to_end:.2f} applications/s; {baseline}"
            f"{'' if args.no_faults else ' (under faults)'}"
        )
    print(
        f"all decided after {decided_after:.0f} s"
        if not unfinished
        else f"gave up after {decided_after:.0f} s (--timeout) with {unfinished} not decided"
    )
    delivered_total = sum(map(len, receiver.received.values()))
    print(
        f"webhooks: {delivered_total / (decided_after + drain_seconds):.1f} deliveries/s over the run; "
        f"{pending_at_last_decision} pending at the last decision, drained in {drain_seconds:.0f} s"
        + (f" ({pending_at_last_decision / drain_seconds:.1f}/s)" if drain_seconds >= 1 else "")
    )
    failed = [name for name, value, must_be_zero in rows if must_be_zero and value]
    if failed:
        print("NOT ZERO: " + "; ".join(failed))
    return 1 if failed else 0


def screening_batch_rate(files: Path, images: list[bytes]) -> float | None:
    """Images per second of ``python -m screening batch`` on these evidence images and the
    run's reference, in this run, on this machine's load: the baseline for end to end.
    ``files``: a new folder for the images and the manifest. None (with the error printed) if
    the batch failed: a baseline that could not be measured must not cost the soak's audit."""
    files.mkdir()
    reference = files / "reference.jpg"
    reference.write_bytes(evidence_jpeg(10**9))
    lines = []
    for index, data in enumerate(images):
        path = files / f"e{index}.jpg"
        path.write_bytes(data)
        lines.append(json.dumps({"evidence": str(path), "references": [str(reference)]}) + "\n")
    manifest = files / "manifest.jsonl"
    manifest.write_text("".join(lines))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "screening", "batch", str(manifest)], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"screening batch failed (exit {done.returncode}): {done.stderr[-2000:]}", flush=True)
        return None
    return len(images) / (time.perf_counter() - started)


def recovery_settings(stale_after: int | None) -> dict[str, str]:
    """The settings that make a lost screening come back after ``stale_after`` seconds instead of
    the product's minute, for a short run (CI's): the task's time limits and retry back-off stay
    below the sweeper's wait, and those below the broker's visibility timeout, as the settings
    check demands, so that a screening still running is never sent a second time beside itself."""
    if stale_after is None:
        return {}
    if stale_after < 8:
        raise SystemExit("--stale-after must be at least 8 seconds (a screening needs its time limit)")
    limit = stale_after // 2
    return {
        "SCREENING_STALE_AFTER": str(stale_after),
        "SCREENING_TIME_LIMIT": str(limit),
        "SCREENING_SOFT_TIME_LIMIT": str(limit - 1),
        "SCREENING_RETRY_BACKOFF_MAX": str(max(1, stale_after // 4)),
        "CELERY_VISIBILITY_TIMEOUT": str(2 * stale_after),
    }


def schedule_pending(schedule: list[tuple[float, str]], faults: list[tuple[float, str, str]]) -> bool:
    """True while a scheduled fault has not happened yet or beat is still down."""
    beats = [what for _, kind, what in faults if kind == "beat"]
    beat_down = any(kind == "beat" for _, kind in schedule) and len(beats) % 2 == 1
    return len([f for f in faults if f[1] != "beat" or "killed" in f[2]]) < len(schedule) or beat_down


def decision_split(decisions) -> str:  # noqa: ANN001
    by_kind = Counter(decisions.values_list("actor_kind", flat=True))
    return " / ".join(str(by_kind.get(kind, 0)) for kind in ("merchant", "reviewer", "system"))


if __name__ == "__main__":
    sys.exit(main())
