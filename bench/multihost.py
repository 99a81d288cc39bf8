"""Workers on several hosts: one web host and two worker hosts, each a network namespace of
its own, share one PostgreSQL, one Redis and one S3 bucket reached over a virtual network.

    sudo .venv/bin/python bench/multihost.py [--applications 12] [--cut-one-host | --compare]

Needs root (``ip netns``), a PostgreSQL accepting ``postgres`` on 127.0.0.1:5432 (as CI's), and
``redis-server``. Everything it uses is its own: a database ``multihost_<pid>``, a Redis server
and an S3 server (moto) bound to the virtual network's host address, the namespaces and their
bridge; all removed at the end. Nothing leaves the machine: the addresses below exist only on
the bridge this script creates.

It submits applications through the web host's API, waits until each is screened, and checks
that both worker hosts screened some and that every evidence image has exactly one result and
every application one screening record. Exit 0 when all holds, 1 otherwise.

With ``--cut-one-host`` (about a minute; try ``--applications 40``) the second worker host is
taken off the network mid-run, once it has screened some: its link goes down and its database
sessions end. The task it held returns to the queue after the visibility timeout (a message it
had popped from Redis but not yet recorded as unacknowledged is lost with it, and beat's sweeper
re-sends that screening) and the first host finishes everything; the checks then also require that the cut host screened nothing after
the cut and that still every application was screened exactly once.

With ``--compare`` the same number of applications, each an honest photograph of a phone's size
(4000x3000 unless ``--photo-size`` says otherwise), is first queued and screened by the first
worker host alone, then by both, each timed from the workers' start to the last screening, and
the two throughputs are printed side by side. Each worker host then runs on a core of its own
(the first on CPU 0, the second on CPU 1), as separate machines would: unpinned, the "hosts"
share this machine's cores with each other, and the comparison would measure two processes
dividing the same cores rather than a host added. The web host, beat, PostgreSQL, Redis and the
S3 server stay unpinned, and the workers run at a lower priority than they (``--worker-nice``,
10 by default), so that a query or a file is answered at once, as by services on machines of
their own; ahead of them, the workers would make each other wait for the services they starve.
Each timed batch is sent by a platform of its own, and four earlier claims of each platform's
product are screened first, untimed, so that each photo of both batches finds as many earlier
look-alikes to check for reuse (the reuse lookup stays within a platform; with one platform the
second batch would also meet the first's photographs, and check more of them). The checker reads progress
with one database query, not through the API, so that it takes no core from the workers. Run it
on an otherwise idle machine.

Two more figures come with ``--compare``: the CPU seconds per application of each part of the
run (worker hosts, web host, PostgreSQL sessions and relay, Redis, the S3 server, this script),
since every core a service takes on this machine is one the second host cannot have; and what
this machine's second core adds to the first for ``python -m screening batch`` alone over the
same photographs (the most any second worker host on it can add: virtual cores that share a
physical one add less than a whole core).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
BIN = Path(PYTHON).parent

# The virtual network: a bridge on the host side and one veth pair per namespace ("host").
BRIDGE, PREFIX = "rhbr0", "10.231.0"
HOST_ADDRESS = f"{PREFIX}.1"
HOSTS = {"rh-web": f"{PREFIX}.10", "rh-w1": f"{PREFIX}.11", "rh-w2": f"{PREFIX}.12"}
WEB_PORT, REDIS_PORT, S3_PORT, PG_PORT = 8000, 6391, 5391, 5432
# The core each worker host runs on with --compare (see the module's docstring).
CORES = {"rh-w1": 0, "rh-w2": 1}
# More than the engine checks in pixels for reuse (screening.services.REUSE_MATCHES_CHECKED).
EARLIER_CLAIMS = 4
BUCKET = "reviewhub-multihost"

SEED = """
import json
from refunds.models import Merchant, Platform, Policy, Product
from refunds.services.catalogue import reference_image_add
from refunds.services.platform import api_key_issue
from django.core.files.uploadedfile import SimpleUploadedFile
from bench.synthetic import jpeg, photo
tenants = {}
for slug in ("solo", "duo"):
    platform = Platform.objects.create(slug=f"multihost-{slug}", name=f"Multihost {slug}")
    Policy.objects.create(platform=platform)
    merchant = Merchant.objects.create(platform=platform, external_ref="shop-1", name="Shop")
    product = Product.objects.create(merchant=merchant, external_ref="sku-1", title="Ceramic cup")
    reference_image_add(product=product, image=SimpleUploadedFile("ref.jpg", jpeg(photo("coffee"), 95), "image/jpeg"))
    key = api_key_issue(platform=platform, name="multihost", scopes=["read", "write"])[1]
    tenants[slug] = {"merchant": str(merchant.public_id), "product": str(product.public_id), "key": key}
print(json.dumps(tenants))
"""

VERIFY = """
import json
from django.db.models import Count
from refunds.models import AuditEvent, Evidence, RefundApplication
from screening.models import ScreeningResult
apps = RefundApplication.objects.all()
per_evidence = list(Evidence.objects.annotate(n=Count("screening")).values_list("n", flat=True))
screens = AuditEvent.objects.filter(action="screen").values("application").annotate(n=Count("id"))
print(json.dumps({
    "applications": apps.count(),
    "states": sorted({a.state for a in apps}),
    "results_per_evidence": sorted(set(per_evidence)),
    "screen_records": sorted({row["n"] for row in screens}),
    "screened_applications": len(screens),
}))
"""


def run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kwargs)


def netns_up() -> None:
    run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "add", f"{HOST_ADDRESS}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")
    for index, (ns, address) in enumerate(HOSTS.items()):
        outside, inside = f"rhv{index}", f"rhv{index}p"
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        run("ip", "link", "set", inside, "netns", ns)
        run("ip", "link", "set", outside, "master", BRIDGE)
        run("ip", "link", "set", outside, "up")
        run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{address}/24", "dev", inside)
        run("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up")
        run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")


def netns_down() -> None:
    for index, ns in enumerate(HOSTS):
        run("ip", "link", "del", f"rhv{index}", check=False)
        run("ip", "netns", "del", ns, check=False)
    run("ip", "link", "del", BRIDGE, check=False)


# Open relayed connections by the client's address, so that cutting a host off can end its
# database sessions as the server would once TCP keepalive gave up on them.
RELAYED: dict[str, list[socket.socket]] = {}


def drop_connections_of(address: str) -> None:
    for sock in RELAYED.pop(address, []):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def forward(listen: tuple[str, int], target: tuple[str, int], stop: threading.Event) -> threading.Thread:
    """Relay TCP connections from the bridge to PostgreSQL on loopback (which listens there only)."""
    server = socket.create_server(listen, reuse_port=False)
    server.settimeout(0.2)

    def pipe(a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while not stop.is_set():
                for key, _ in sel.select(0.5):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, peer = server.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(target, timeout=5)
            RELAYED.setdefault(peer[0], []).extend([client, upstream])
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        server.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return thread


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class CpuLedger:
    """CPU seconds spent by each part of the run, read from /proc every two seconds.

    With --compare, the services that separate machines would run (PostgreSQL, Redis, the S3
    server, this script's relay) share this machine's two cores with the worker hosts; how much
    they take per application is what a second host on the same cores cannot have. A process is
    counted in the group of the nearest ancestor registered with `add`; PostgreSQL's sessions by
    their database's name in the process title. A process that ends keeps its last reading (so
    up to two seconds of a short session's time is missed)."""

    def __init__(self, database: str) -> None:
        self.database, self.roots, self.readings = database, {os.getpid(): "this script"}, {}
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def add(self, pid: int, group: str) -> None:
        with self.lock:
            self.roots[pid] = group

    def _scan(self) -> None:
        parents, seconds = {}, {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            pid = int(entry.name)
            # After the name: state, ppid, ... utime and stime are the 12th and 13th (proc(5)).
            parents[pid], seconds[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        with self.lock:
            for pid, cpu in seconds.items():
                group, ancestor = None, pid
                while ancestor > 1 and group is None:
                    group = self.roots.get(ancestor)
                    ancestor = parents.get(ancestor, 1)
                if group is None and self._is_session(pid):
                    group = "PostgreSQL"
                if group is not None:
                    self.readings[pid] = (group, cpu)

    def _is_session(self, pid: int) -> bool:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return title.startswith(b"postgres: ") and f" {self.database} ".encode() in title

    def _watch(self) -> None:
        # Every two seconds: a scan of /proc costs about 6 ms, taken from the cores it measures.
        while not self.stop.wait(2):
            self._scan()

    def totals(self) -> dict[str, float]:
        self._scan()
        with self.lock:
            totals: dict[str, float] = {}
            for group, cpu in self.readings.values():
                totals[group] = totals.get(group, 0.0) + cpu
            return totals

    @staticmethod
    def report(before: dict[str, float], after: dict[str, float], applications: int) -> str:
        spent = {group: after[group] - before.get(group, 0.0) for group in after}
        parts = ", ".join(f"{group} {cpu / applications:.2f}" for group, cpu in sorted(spent.items()) if cpu > 0)
        return f"CPU seconds per application: {parts}"


def wait_port(host: str, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answers on {host}:{port}")


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = f"----multihost{time.monotonic_ns()}"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data in files:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n".encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def api(method: str, url: str, key: str, body: bytes | None = None, content_type: str | None = None) -> dict:
    request = urllib.request.Request(url, data=body, method=method, headers={"Authorization": f"Bearer {key}"})
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def evidence_photo(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = (rng.random((size[1], size[0], 3)) * 255).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def own_core(core: int, *, nice: int) -> None:
    """Run this process (and what it starts) on `core` alone, as a worker host with a core of its
    own would, at the given niceness against the shared services on this machine."""
    os.sched_setaffinity(0, {core})
    os.setpriority(os.PRIO_PROCESS, 0, nice)


def honest_photograph(seed: int, size: tuple[int, int]) -> bytes:
    """A new photograph of the seeded product's reference, printed, placed in a scene and taken at
    `size` with sensor grain: it aligns with the reference and takes the engine's costly path, as
    most evidence in production does."""
    import cv2
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from bench.synthetic import background_scene, photo, rephotograph

    rng = np.random.default_rng(seed)
    scene = background_scene(rng, [photo("brick"), photo("grass"), photo("gravel")], (1600, 1200))
    small = cv2.imdecode(np.frombuffer(rephotograph(photo("coffee"), scene, rng)[0], np.uint8), cv2.IMREAD_COLOR)
    taken = cv2.resize(small, size, interpolation=cv2.INTER_CUBIC).astype(np.float32)
    taken += rng.normal(0, 2.5, taken.shape).astype(np.float32)
    ok, data = cv2.imencode(".jpg", np.clip(taken, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


def second_core_adds(workdir: Path, photos: list[bytes], *, nice: int) -> float:
    """What this machine's second core adds to the first for the engine alone, with nothing else
    running: ``python -m screening batch`` over `photos` on CPU 0 alone, then the same batch on
    CPU 0 and, at once, on CPU 1. Virtual cores that share a physical one, or a busy host, give
    less than 1.0; that ceiling holds for the worker hosts too, whatever the services cost."""
    sys.path.insert(0, str(ROOT))
    from bench.synthetic import jpeg, photo

    folder = workdir / "second-core"
    folder.mkdir()
    reference = folder / "reference.jpg"
    reference.write_bytes(jpeg(photo("coffee"), 95))
    manifest = folder / "manifest.jsonl"
    with manifest.open("w") as lines:
        for n, data in enumerate(photos):
            (folder / f"{n}.jpg").write_bytes(data)
            lines.write(json.dumps({"evidence": str(folder / f"{n}.jpg"), "references": [str(reference)]}) + "\n")

    def batch_on(*cores: int) -> float:
        began = time.monotonic()
        running = [
            subprocess.Popen(
                [PYTHON, "-m", "screening", "batch", "--jobs", "1", str(manifest)],
                cwd=ROOT,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
                stdout=subprocess.DEVNULL,
                preexec_fn=lambda core=core: own_core(core, nice=nice),  # type: ignore[misc]
            )
            for core in cores
        ]
        if any(process.wait() != 0 for process in running):
            raise SystemExit("screening batch failed")
        return time.monotonic() - began

    alone = batch_on(CORES["rh-w1"])
    both = batch_on(CORES["rh-w1"], CORES["rh-w2"])
    return 2 * alone / both - 1


def screened_by(log: Path) -> set[str]:
    """Applications this worker screened, from its JSON log lines."""
    found = set()
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "succeeded" in record.get("message", "") and "'screened'" in record["message"]:
            found.add(record.get("application_id"))
    return found - {None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--applications",
        type=int,
        help="applications per run (default 12; with --compare 32 per batch, so that what each worker host "
        "does once, analysing the reference and the earlier claims it compares with, weighs little)",
    )
    parser.add_argument("--timeout", type=float, default=45, help="seconds to wait for the screenings")
    parser.add_argument(
        "--cut-one-host",
        action="store_true",
        help="take the second worker host off the network once it has screened some (its unfinished "
        "task returns to the queue after the visibility timeout, shortened here to 20 s)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="first screen the same number of honest photographs with one worker host alone, then with "
        "both, each host on a core of its own, and print the two throughputs side by side",
    )
    parser.add_argument(
        "--photo-size",
        default="4000x3000",
        help="with --compare, the honest photographs' size, WIDTHxHEIGHT (default: a 12-megapixel phone's)",
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="with --compare, the worker hosts' niceness: above the shared services' 0, so that they "
        "answer at once as on machines of their own (default 10)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the hosts' logs even when every check passes")
    args = parser.parse_args(argv)
    try:
        photo_size = tuple(int(n) for n in args.photo_size.lower().split("x"))
        if len(photo_size) != 2 or min(photo_size) < 64:
            raise ValueError
    except ValueError:
        parser.error(f"--photo-size: {args.photo_size!r} is not WIDTHxHEIGHT with sides of at least 64")
    if args.applications is None:
        args.applications = 32 if args.compare else 12
    if args.cut_one_host:
        args.timeout = max(args.timeout, 90)
    if args.compare:
        args.timeout = max(args.timeout, 10 * args.applications)

    database = f"multihost_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="reviewhub-multihost-"))
    processes: list[subprocess.Popen] = []
    stop = threading.Event()
    # Every host reaches the shared services at the bridge's host address.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MEDIA_ROOT", "PROMETHEUS_MULTIPROC_DIR"}
    }
    env.update(
        DATABASE_URL=f"postgres://postgres@{HOST_ADDRESS}:{PG_PORT}/{database}",
        REDIS_URL=f"redis://{HOST_ADDRESS}:{REDIS_PORT}/0",
        MEDIA_STORAGE="s3",
        MEDIA_S3_BUCKET=BUCKET,
        MEDIA_S3_ENDPOINT_URL=f"http://{HOST_ADDRESS}:{S3_PORT}",
        MEDIA_S3_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="multihost",
        AWS_SECRET_ACCESS_KEY="multihost-secret",
        MEDIA_ROOT=str(workdir / "media-unused"),
        ALLOWED_HOSTS=HOSTS["rh-web"],
        LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
    )
    if args.cut_one_host:
        # A task taken by the lost host waits the visibility timeout before another host gets
        # it; shortened (with the limits that must stay below it) so the run takes a minute.
        env.update(
            CELERY_VISIBILITY_TIMEOUT="20",
            CELERY_UNACKED_RESTORE_INTERVAL="2",
            SCREENING_TIME_LIMIT="12",
            SCREENING_SOFT_TIME_LIMIT="10",
            SCREENING_RETRY_BACKOFF_MAX="5",
            SCREENING_STALE_AFTER="15",
            BEAT_INTERVAL_SECONDS="5",
        )
    ok, ledger = False, None
    try:
        netns_down()  # what an interrupted earlier run left
        netns_up()
        run("createdb", "-h", "127.0.0.1", "-U", "postgres", database)
        ledger = CpuLedger(database)
        if args.compare and shutil.which("socat"):
            # A relay in C: the Python one below took about a tenth of a core's second per
            # application from the cores the worker hosts are compared on. Only --cut-one-host
            # needs the Python relay, to end one host's sessions.
            processes.append(
                subprocess.Popen(
                    [
                        "socat",
                        f"TCP-LISTEN:{PG_PORT},bind={HOST_ADDRESS},fork,reuseaddr",
                        "TCP:127.0.0.1:5432",
                    ]
                )
            )
            ledger.add(processes[-1].pid, "PostgreSQL relay")
            wait_port(HOST_ADDRESS, PG_PORT)
        else:
            forward((HOST_ADDRESS, PG_PORT), ("127.0.0.1", 5432), stop)
        processes.append(
            subprocess.Popen(
                [
                    shutil.which("redis-server") or "redis-server",
                    "--bind",
                    HOST_ADDRESS,
                    "--port",
                    str(REDIS_PORT),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    # Bound to the bridge of this script's own namespaces only.
                    "--protected-mode",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        ledger.add(processes[-1].pid, "Redis")
        processes.append(
            subprocess.Popen(
                [PYTHON, "-m", "moto.server", "-H", HOST_ADDRESS, "-p", str(S3_PORT)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        ledger.add(processes[-1].pid, "S3 server")
        wait_port(HOST_ADDRESS, REDIS_PORT)
        wait_port(HOST_ADDRESS, S3_PORT)
        import boto3

        boto3.client(
            "s3",
            endpoint_url=env["MEDIA_S3_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="multihost",
            aws_secret_access_key="multihost-secret",
        ).create_bucket(Bucket=BUCKET)

        manage = [PYTHON, str(ROOT / "manage.py")]
        run(*manage, "migrate", "--noinput", env=env, cwd=ROOT)
        # Two platforms alike: with --compare each timed batch has one of its own, so that both
        # meet the same earlier claims for the reuse check (the lookup stays within a platform);
        # one batch's photos would otherwise be look-alikes the other's reuse check compares with.
        tenants = json.loads(run(*manage, "shell", "-c", SEED, env=env, cwd=ROOT).stdout.strip().splitlines()[-1])
        seed = tenants["duo"]

        pin = args.compare and len(os.sched_getaffinity(0)) >= len(CORES)
        if args.compare and not pin:
            print("  fewer cores than worker hosts: the hosts share them, and the comparison shows it")

        def on_host(ns: str, command: list[str], log: Path) -> None:
            handle = log.open("w")
            core = CORES.get(ns) if pin else None
            processes.append(
                subprocess.Popen(
                    ["ip", "netns", "exec", ns, *command],
                    env=env,
                    cwd=ROOT,
                    stdout=handle,
                    stderr=handle,
                    # Inherited through `ip netns exec` by the worker and its pool.
                    preexec_fn=None if core is None else (lambda: own_core(core, nice=args.worker_nice)),
                )
            )
            ledger.add(processes[-1].pid, "web host" if ns == "rh-web" else "worker hosts")

        web = f"http://{HOSTS['rh-web']}:{WEB_PORT}"
        on_host(
            "rh-web",
            [str(BIN / "gunicorn"), "reviewhub.wsgi", "--bind", f"{HOSTS['rh-web']}:{WEB_PORT}", "--workers", "2"],
            workdir / "web.log",
        )
        # Exactly one beat, on the web host: its sweeper re-sends a screening whose message was
        # lost (a worker cut off between taking a message from Redis and recording it as unacked).
        on_host(
            "rh-web",
            [str(BIN / "celery"), "-A", "reviewhub", "beat", "--schedule", str(workdir / "beat-schedule")],
            workdir / "beat.log",
        )
        logs = {ns: workdir / f"{ns}.log" for ns in ("rh-w1", "rh-w2")}

        def start_workers(*hosts: str, log_suffix: str = "") -> list[subprocess.Popen]:
            started_here = []
            for ns in hosts:
                log = logs[ns].with_name(f"{ns}{log_suffix}.log")
                command = [str(BIN / "celery"), "-A", "reviewhub", "worker", "--concurrency", "1", "-n", f"{ns}@%h"]
                on_host(ns, [*command, "--without-gossip", "--without-mingle", "--loglevel", "INFO"], log)
                started_here.append(processes[-1])
            # Workers listening before the first application, so that none gets them all.
            deadline = time.monotonic() + 30
            while not all(
                "ready" in logs[ns].with_name(f"{ns}{log_suffix}.log").read_text(errors="replace") for ns in hosts
            ):
                if time.monotonic() > deadline:
                    raise SystemExit("the workers did not start")
                time.sleep(0.2)
            return started_here

        size = photo_size if args.compare else (320, 240)

        def submit(n: int, tenant: dict[str, str] = seed) -> str:
            body, content_type = multipart(
                {
                    "merchant": tenant["merchant"],
                    "product": tenant["product"],
                    "buyer_ref": f"buyer-{n}",
                    "order_ref": f"order-{n}",
                    "amount": "20.00",
                    "currency": "CNY",
                    "reason_code": "damaged",
                },
                [
                    (
                        "evidence",
                        f"photo-{n}.jpg",
                        honest_photograph(n, size) if args.compare else evidence_photo(n, size),
                    )
                ],
            )
            return api("POST", f"{web}/api/v1/applications", tenant["key"], body, content_type)["id"]

        watcher: list = []

        def watcher_connection():  # noqa: ANN202
            if not watcher:
                import psycopg

                watcher.append(
                    psycopg.connect(f"postgresql://postgres@127.0.0.1:{PG_PORT}/{database}", autocommit=True)
                )
            return watcher[0]

        def still_submitted(ids: set[str]) -> set[str]:
            if args.compare:
                # One query on one kept connection, so that watching the queue drain takes next to
                # no core from the workers (a new session costs PostgreSQL a process).
                rows = (
                    watcher_connection()
                    .execute(
                        "SELECT public_id::text FROM refunds_refundapplication "
                        "WHERE state = 'submitted' AND public_id::text = ANY(%s)",
                        (list(ids),),
                    )
                    .fetchall()
                )
                return {row[0] for row in rows}
            return {i for i in ids if api("GET", f"{web}/api/v1/applications/{i}", seed["key"])["state"] == "submitted"}

        wait_port(HOSTS["rh-web"], WEB_PORT)
        one_host, solo_ids, ceiling = None, set(), None
        if args.compare:

            def screened_by_the_first_host_alone(batch: set[str], log_suffix: str) -> float:
                """Start the first host's worker on the queued batch; return the seconds from its
                start to the batch's last screening."""
                (solo,) = start_workers("rh-w1", log_suffix=log_suffix)
                began, alone, spent_before = time.monotonic(), batch, ledger.totals()
                while alone and time.monotonic() - began < args.timeout * 2:
                    alone = still_submitted(alone)
                    time.sleep(0.2)
                took = time.monotonic() - began
                if log_suffix == "-alone":
                    print(f"  one worker host: {CpuLedger.report(spent_before, ledger.totals(), len(batch))}")
                solo.terminate()
                solo.wait(timeout=30)
                return took

            # Earlier claims on each batch's platform, screened before either timed batch: the
            # photos of both batches then find as many earlier look-alikes to check for reuse (the
            # engine checks the closest few), and the second batch does not find the first's.
            earlier = {
                submit(2 * args.applications + EARLIER_CLAIMS * t + n, tenant)
                for t, tenant in enumerate((tenants["solo"], seed))
                for n in range(EARLIER_CLAIMS)
            }
            screened_by_the_first_host_alone(earlier, "-earlier")
            # Throughput of the workers alone: the applications wait in the queue before any
            # worker starts, and the clock runs from the workers' start to the last screening.
            solo_ids = {submit(args.applications + n, tenants["solo"]) for n in range(args.applications)}
            one_host = args.applications / screened_by_the_first_host_alone(solo_ids, "-alone")
            ceiling = (
                second_core_adds(
                    workdir,
                    [honest_photograph(3 * args.applications + n, photo_size) for n in range(args.applications)],
                    nice=args.worker_nice,
                )
                if pin
                else None
            )
            solo_ids |= earlier
            queued = [submit(n) for n in range(args.applications)]
            start_workers("rh-w1", "rh-w2")
            began, spent_before = time.monotonic(), ledger.totals()
        else:
            start_workers("rh-w1", "rh-w2")

        started = time.monotonic()
        ids: list[str] = []
        cut_after: set[str] | None = None

        def cut_when_busy() -> None:
            """Cut rh-w2 off mid-run, once it has screened some: link down, database sessions ended."""
            nonlocal cut_after
            if not args.cut_one_host or cut_after is not None or not screened_by(logs["rh-w2"]):
                return
            run("ip", "link", "set", "rhv2", "down")
            drop_connections_of(HOSTS["rh-w2"])
            time.sleep(0.5)  # a task that committed just before the cut has written its line by now
            cut_after = screened_by(logs["rh-w2"])
            print(
                f"  rh-w2 cut off after {time.monotonic() - started:.1f} s, {len(ids)} of {args.applications} submitted"
            )

        if args.compare:
            ids, started = queued, began
        for n in range(0 if args.compare else args.applications):
            cut_when_busy()
            ids.append(submit(n))
        pending = set(ids)
        while pending and time.monotonic() - started < args.timeout:
            cut_when_busy()
            pending = still_submitted(pending)
            time.sleep(0.3)
        elapsed = time.monotonic() - started
        if args.compare:
            print(f"  two worker hosts: {CpuLedger.report(spent_before, ledger.totals(), len(ids))}")

        verify = json.loads(run(*manage, "shell", "-c", VERIFY, env=env, cwd=ROOT).stdout.strip().splitlines()[-1])
        everything = set(ids) | solo_ids
        per_host = {
            ns: (
                screened_by(log)
                | (
                    screened_by(log.with_name(f"{ns}-alone.log")) | screened_by(log.with_name(f"{ns}-earlier.log"))
                    if args.compare and ns == "rh-w1"
                    else set()
                )
            )
            & everything
            for ns, log in logs.items()
        }
        print(f"applications submitted: {len(ids)}, still submitted after {elapsed:.1f} s: {len(pending)}")
        for ns, found in per_host.items():
            print(f"  {ns} ({HOSTS[ns]}) screened {len(found)}")
        print(
            f"  results per evidence image: {verify['results_per_evidence']}; screening records per application: {verify['screen_records']}"
        )
        if one_host is not None:
            two_hosts = len(ids) / elapsed
            print(
                f"  throughput, honest {size[0]}x{size[1]} photographs: one worker host {one_host:.2f}/s, two {two_hosts:.2f}/s"
            )
            print(f"  the second host adds {two_hosts / one_host - 1:.2f}x the first's throughput (goal: 0.8x)")
            if ceiling is not None:
                print(
                    f"  this machine's second core adds {ceiling:.2f}x the first's to `screening batch` alone, "
                    "the most a second worker host on it can add"
                )
        overlap = per_host["rh-w1"] & per_host["rh-w2"]
        checks = {
            "every application screened": not pending and verify["screened_applications"] == len(everything),
            "both worker hosts screened some": all(per_host.values()),
            "no application screened on both hosts": not overlap,
            "exactly one result per evidence image": verify["results_per_evidence"] == [1],
            "exactly one screening record per application": verify["screen_records"] == [1],
            "the hosts' counts add up": sum(len(v) for v in per_host.values()) == len(everything),
        }
        if args.cut_one_host:
            checks["rh-w2 was cut off mid-run"] = cut_after is not None
            checks["rh-w2 screened nothing after the cut"] = cut_after is not None and per_host["rh-w2"] <= cut_after
        for name, passed in checks.items():
            print(f"  {'ok  ' if passed else 'FAIL'} {name}")
        ok = all(checks.values())
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        stop.set()
        if ledger is not None:
            ledger.stop.set()
        netns_down()
        run("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", database, check=False)
        if ok and not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs kept in {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
