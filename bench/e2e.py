"""End-to-end benchmark: applications through the API and the workers, against raw screening.

Usage: .venv/bin/python bench/e2e.py [--applications N] [--clients C] [--web-workers W] [--concurrency K]

Builds N evidence JPEGs of 12 megapixels with their catalogue references (the files of
bench/screening.py), then measures in one run, over the same files:
  (a) `python -m screening batch` on them: images screened per second, all cores;
  (b) the whole product: gunicorn serving the API and a Celery worker, N applications
      submitted by C client threads with one evidence file each, timed from the first POST
      until the last application has been screened and routed by policy (left `submitted`).
and prints applications/s, the ratio (b)/(a) (goal >= 0.6) and the API's p99 latency over
the submissions (goal < 1 s). Uses DATABASE_URL / REDIS_URL when set, else a fresh SQLite
database and the file broker in a temporary folder. Every request goes to loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import free_port, multipart, request, wait_until_serving  # noqa: E402
from bench.screening import build  # noqa: E402


def batch_rate(directory: Path, jobs: list[tuple[Path, list[Path]]]) -> float:
    manifest = directory / "manifest.jsonl"
    manifest.write_text(
        "".join(json.dumps({"evidence": str(p), "references": [str(r) for r in refs]}) + "\n" for p, refs in jobs)
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "screening", "batch", str(manifest)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    assert len(done.stdout.strip().splitlines()) == len(jobs)
    return len(jobs) / wall


SEED = """
import django, json, sys, uuid
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from refunds.services.platform import api_key_issue
from refunds.models import Merchant, Platform, Policy, Product
from refunds.services.catalogue import reference_image_add
groups = json.loads(sys.stdin.read())
platform = Platform.objects.create(slug="e2e-" + uuid.uuid4().hex[:8], name="End to end")
Policy.objects.create(platform=platform)
merchant = Merchant.objects.create(platform=platform, external_ref="shop", name="Shop")
products = {}
for index, references in enumerate(groups):
    product = Product.objects.create(merchant=merchant, external_ref=f"sku-{index}", title="Item")
    for path in references:
        with open(path, "rb") as handle:
            reference_image_add(product=product, image=SimpleUploadedFile(path.rsplit("/", 1)[-1], handle.read()))
    products["|".join(references)] = str(product.public_id)
key = api_key_issue(platform=platform, name="e2e", scopes=["read", "write"])[1]
print(json.dumps({"key": key, "merchant": str(merchant.public_id), "products": products}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=48)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="reviewhub-e2e-bench-"))
    files = folder / "files"
    files.mkdir()
    started = time.perf_counter()
    # build() also names each image's kind; this benchmark screens them all alike.
    jobs = [(path, references) for path, references, _kind in build(files, args.applications)]
    print(
        f"built {len(jobs)} evidence files of 12 MP in {time.perf_counter() - started:.0f} s "
        f"(mean {statistics.mean(p.stat().st_size for p, _ in jobs) / 1e6:.1f} MB)",
        flush=True,
    )

    screened_per_second = batch_rate(files, jobs)
    print(f"screening batch: {screened_per_second:.2f} images/s", flush=True)

    env = dict(
        os.environ,
        REVIEWHUB_VAR_DIR=str(folder),
        DEBUG="0",
        PYTHONWARNINGS="ignore",
        API_RATE_LIMIT="1000000/min",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
        MEDIA_ROOT=str(folder / "media"),
    )
    env.setdefault("DJANGO_SETTINGS_MODULE", "reviewhub.settings")
    for sub in ("broker", "broker-control", "media"):
        (folder / sub).mkdir()
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    groups = sorted({tuple(str(r) for r in refs) for _, refs in jobs})
    seed = subprocess.run(
        [python, "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True, text=True, input=json.dumps(groups)
    )
    ids = json.loads(seed.stdout.strip().splitlines()[-1])

    port = free_port()
    server = subprocess.Popen(
        [
            python,
            "-m",
            "gunicorn",
            "reviewhub.wsgi:application",
            "-w",
            str(args.web_workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    worker = subprocess.Popen(
        [
            python,
            "-m",
            "celery",
            "-A",
            "reviewhub",
            "worker",
            "--concurrency",
            str(args.concurrency),
            "--loglevel",
            "WARNING",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {ids['key']}"}
    latencies: list[float] = []

    def submit(job: tuple[Path, list[Path]]) -> str:
        evidence, references = job
        product = ids["products"]["|".join(str(r) for r in references)]
        body, content_type = multipart(
            {
                "merchant": ids["merchant"],
                "product": product,
                "amount": "39.90",
                "currency": "CNY",
                "reason_code": "damaged",
                "order_ref": f"o-{uuid.uuid4().hex[:10]}",
                "buyer_ref": "b",
            },
            {"evidence": (evidence.name, evidence.read_bytes())},
        )
        sent = time.perf_counter()
        status, answer = request(
            f"{base}/api/v1/applications", data=body, headers={**auth, "Content-Type": content_type}
        )
        latencies.append(time.perf_counter() - sent)
        if status != 201:
            raise SystemExit(f"unexpected status {status}")
        return json.loads(answer)["id"]

    # Polled in this process (one light query), not through the API, to load the server as
    # little as possible.
    os.environ.update(env)
    import django

    django.setup()
    from refunds.models import RefundApplication

    def routed(application_ids: list[str]) -> int:
        return (
            RefundApplication.objects.filter(public_id__in=application_ids)
            .exclude(state__in=["submitted", "auto_screened"])
            .count()
        )

    def wait_routed(application_ids: list[str], timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while routed(application_ids) < len(application_ids):
            if time.monotonic() > deadline:
                raise SystemExit("applications were not screened in time")
            time.sleep(0.25)

    try:
        wait_until_serving(base)
        # Warm-up: every gunicorn and pool process loads its code and each reference's analysis.
        warm = [submit(job) for job in jobs[: len(groups)]]
        wait_routed(warm)
        latencies.clear()

        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            submitted = list(pool.map(submit, jobs))
        api_done = time.perf_counter() - started
        wait_routed(submitted)
        elapsed = time.perf_counter() - started
    finally:
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    end_to_end = len(jobs) / elapsed
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
    print(
        f"database: {'PostgreSQL' if 'DATABASE_URL' in os.environ else 'SQLite'}; "
        f"broker: {'Redis' if 'REDIS_URL' in os.environ else 'file'}; cores: {os.cpu_count()}; "
        f"gunicorn workers: {args.web_workers}; worker concurrency: {args.concurrency}; clients: {args.clients}"
    )
    print(f"submissions accepted in {api_done:.1f} s; all {len(jobs)} routed after {elapsed:.1f} s")
    print(f"end to end: {end_to_end:.2f} applications/s; batch: {screened_per_second:.2f} images/s")
    print(f"API p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (goal < 1000 ms)")
    print(f"e2e / batch = {end_to_end / screened_per_second:.2f}, API p99 {p99 * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
