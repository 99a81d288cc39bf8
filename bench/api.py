"""Benchmark of the API under gunicorn against bare Django views doing the same work.

Usage: .venv/bin/python bench/api.py [--requests N] [--rounds R] [--clients C] [--workers W]

Starts gunicorn on 127.0.0.1 (a fresh SQLite database and file broker in a temporary
folder unless DATABASE_URL / REDIS_URL are set) and measures, in one run:
  (a) POST /api/v1/applications with a 1 MB JPEG (auth, validation with a full decode,
      content-addressed storage, rows, audit, outbox, enqueue on commit);
  (b) a bare Django view that reads, decodes and stores the same upload;
  (c) GET /api/v1/applications/{id};
  (d) a bare Django view that reads the same row as JSON.
and prints requests per second and the ratios (goals: (a) at least 0.85 of (b), (c) at least 0.7 of (d)).
Every request goes to the local server only, and each phase sends a fixed number.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def one_megabyte_jpeg() -> bytes:
    """Return a photo-like JPEG of about 1 MB (a bundled photo, enlarged, with sensor grain)."""
    import skimage.data as skd

    rng = np.random.default_rng(7)
    base = Image.fromarray(skd.coffee()).resize((2100, 1400), Image.BICUBIC)
    pixels = np.asarray(base).astype(np.float32) + rng.normal(0, 7, (1400, 2100, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=94)
    return buffer.getvalue()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def request(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=60) as response:
        return response.status, response.read()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(base: str) -> None:
    """Poll the server's health URL until it answers (at most 20 s)."""
    for _ in range(100):
        try:
            request(f"{base}/healthz")
            return
        except OSError:
            time.sleep(0.2)


def rate(count: int, clients: int, call) -> float:  # noqa: ANN001
    """Return requests per second for `count` calls spread over `clients` threads; fail on any non-2xx."""
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(lambda i: call(i)[0], range(count)))
    elapsed = time.perf_counter() - started
    bad = [s for s in statuses if not 200 <= s < 300]
    if bad:
        raise SystemExit(f"unexpected statuses: {bad[:5]}")
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="reviewhub-api-bench-"))
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="bench.api_site",
        REVIEWHUB_VAR_DIR=str(folder),
        DEBUG="0",
        PYTHONWARNINGS="ignore",
        API_RATE_LIMIT="1000000/min",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    (folder / "broker").mkdir()
    (folder / "broker-control").mkdir()
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    seed = subprocess.run([python, "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    ids = json.loads(seed.stdout.strip().splitlines()[-1])

    port = free_port()
    server = subprocess.Popen(
        [
            python,
            "-m",
            "gunicorn",
            "bench.api_site_wsgi:application",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base)
        photo = one_megabyte_jpeg()
        auth = {"Authorization": f"Bearer {ids['key']}"}
        fields = {
            "merchant": ids["merchant"],
            "product": ids["product"],
            "amount": "39.90",
            "currency": "CNY",
            "reason_code": "damaged",
            "order_ref": "bench",
        }

        def create(i: int) -> tuple[int, bytes]:
            body, content_type = multipart({**fields, "buyer_ref": f"b{i}"}, {"evidence": ("photo.jpg", photo)})
            return request(f"{base}/api/v1/applications", data=body, headers={**auth, "Content-Type": content_type})

        def bare_create(i: int) -> tuple[int, bytes]:
            body, content_type = multipart({}, {"evidence": ("photo.jpg", photo)})
            return request(f"{base}/bench/bare-upload", data=body, headers={"Content-Type": content_type})

        status, body = create(-1)
        application = json.loads(body)["id"]

        def read(i: int) -> tuple[int, bytes]:
            return request(f"{base}/api/v1/applications/{application}", headers=auth)

        def bare_read(i: int) -> tuple[int, bytes]:
            return request(f"{base}/bench/bare-read/{application}")

        for call in (create, bare_create, read, bare_read):  # warm every worker and path
            rate(args.clients * 2, args.clients, call)
        # Interleaved rounds, so a slow spell of the machine hits both sides of each ratio alike;
        # the medians are reported.
        rounds: dict[str, list[float]] = {name: [] for name in ("create", "bare upload", "detail read", "bare read")}
        for _ in range(args.rounds):
            rounds["create"].append(rate(args.requests, args.clients, create))
            rounds["bare upload"].append(rate(args.requests, args.clients, bare_create))
            rounds["detail read"].append(rate(args.requests * 3, args.clients, read))
            rounds["bare read"].append(rate(args.requests * 3, args.clients, bare_read))
        results = {name: statistics.median(values) for name, values in rounds.items()}
        ratios = {
            "create": statistics.median(c / b for c, b in zip(rounds["create"], rounds["bare upload"], strict=True)),
            "detail": statistics.median(d / b for d, b in zip(rounds["detail read"], rounds["bare read"], strict=True)),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"photo: {len(photo) / 1e6:.2f} MB JPEG; gunicorn workers: {args.workers}; clients: {args.clients}; "
        f"cores: {os.cpu_count()}"
    )
    for name, value in results.items():
        print(f"{name:<14} {value:8.1f} requests/s")
    print(f"create / bare upload = {ratios['create']:.2f}  (goal >= 0.85; median of {args.rounds} interleaved rounds)")
    print(f"detail / bare read   = {ratios['detail']:.2f}  (goal >= 0.7)")
    return 0


SEED = """
import django, json
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from refunds.services.platform import api_key_issue
from refunds.demo import catalogue_photo
from refunds.models import Merchant, Platform, Policy, Product
from refunds.services.catalogue import reference_image_add
platform = Platform.objects.create(slug="bench", name="Bench")
Policy.objects.create(platform=platform)
merchant = Merchant.objects.create(platform=platform, external_ref="shop", name="Shop")
product = Product.objects.create(merchant=merchant, external_ref="sku", title="Cup")
reference_image_add(product=product, image=SimpleUploadedFile("cup.jpg", catalogue_photo("coffee")))
key = api_key_issue(platform=platform, name="bench", scopes=["read", "write"])[1]
print(json.dumps({"key": key, "merchant": str(merchant.public_id), "product": str(product.public_id)}))
"""

if __name__ == "__main__":
    sys.exit(main())
