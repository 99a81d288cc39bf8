"""Check an evidence dossier: every file against its SHA-256, and the audit chain link by link.

This file is copied into every dossier as ``verify.py`` and runs there with nothing but the
Python standard library (3.8 or later), so that anyone holding the dossier can check it
without this system:

    python verify.py [DOSSIER_FOLDER]

The exit code is 0 when everything matches, 1 when something was changed, added or removed
(each problem is printed), 2 when the dossier cannot be read at all.

The audit hashes are computed exactly as ``refunds.audit`` computes them on the server; a
test holds the two to the same answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

GENESIS = "0" * 64
SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
CHAIN = "audit/chain.json"
# The two manifests do not list themselves; everything else in the folder must be listed.
UNLISTED = {SUMS, MANIFEST}
CHUNK = 1 << 20


def canonical(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def digest(payload: object) -> str:
    return hashlib.sha256(canonical(payload)).hexdigest()


def event_hash(application: str, event: dict) -> str:
    """Return the hash of one audit event as the server computed it when recording it."""
    return digest(
        {
            "application": application,
            "seq": event["seq"],
            "action": event["action"],
            "from": event["from_state"],
            "to": event["to_state"],
            "actor_kind": event["actor_kind"],
            "actor_label": event["actor_label"],
            "at": event["at"],
            "reason": event["reason"],
            "payload_digest": event["payload_digest"],
            "prev_hash": event["prev_hash"],
        }
    )


def file_sha256(path: str) -> tuple[str, int]:
    sha, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def read_sums(folder: str) -> dict[str, str]:
    listed = {}
    with open(os.path.join(folder, SUMS), encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line:
                checksum, _, name = line.partition("  ")
                listed[name] = checksum
    return listed


def check_files(folder: str) -> tuple[list[str], int]:
    """Return the problems with the dossier's files, and how many files were checked."""
    problems = []
    sums = read_sums(folder)
    with open(os.path.join(folder, MANIFEST), encoding="utf-8") as handle:
        manifest = {entry["path"]: entry for entry in json.load(handle)["files"]}
    for name in sorted(set(sums) ^ set(manifest)):
        problems.append(f"{name}: listed in only one of {SUMS} and {MANIFEST}")
    for name in sorted(manifest):
        entry = manifest[name]
        if sums.get(name, entry["sha256"]) != entry["sha256"]:
            problems.append(f"{name}: {SUMS} and {MANIFEST} give different SHA-256")
        path = os.path.join(folder, *name.split("/"))
        if not os.path.isfile(path):
            problems.append(f"{name}: missing")
            continue
        checksum, size = file_sha256(path)
        if checksum != entry["sha256"] or size != entry["size"]:
            problems.append(
                f"{name}: modified (SHA-256 {checksum}, {size} bytes; "
                f"the manifest says {entry['sha256']}, {entry['size']} bytes)"
            )
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for file in files:
            name = os.path.relpath(os.path.join(root, file), folder).replace(os.sep, "/")
            if name not in manifest and name not in UNLISTED:
                problems.append(f"{name}: not listed in the manifest (added afterwards)")
    return problems, len(manifest)


def recorded_hashes(folder: str) -> dict[str, str]:
    """Return the SHA-256 each original file had when it was uploaded, by its path in the dossier."""
    recorded = {}
    with open(os.path.join(folder, "application.json"), encoding="utf-8") as handle:
        application = json.load(handle)
    stored = list(application["evidence"]) + list((application.get("rebuttal") or {}).get("attachments", []))
    with open(os.path.join(folder, "screening.json"), encoding="utf-8") as handle:
        stored += [
            row["result"]["matched_reference"]
            for row in json.load(handle)
            if row.get("result") and row["result"].get("matched_reference")
        ]
    for item in stored:
        if item.get("file"):
            recorded[item["file"]] = item["sha256"]
    return recorded


def check_originals(folder: str) -> list[str]:
    """Return the original files whose content differs from what was uploaded: caught even
    when the manifests were rewritten to match the changed file."""
    problems = []
    for name, checksum in sorted(recorded_hashes(folder).items()):
        path = os.path.join(folder, *name.split("/"))
        if os.path.isfile(path) and file_sha256(path)[0] != checksum:
            problems.append(f"{name}: differs from the SHA-256 recorded when it was uploaded ({checksum})")
    return problems


def check_chain(folder: str) -> tuple[list[str], dict]:
    """Recompute the audit chain; return its problems and the chain as read."""
    with open(os.path.join(folder, *CHAIN.split("/")), encoding="utf-8") as handle:
        chain = json.load(handle)
    problems = []
    expected_prev = GENESIS
    events = chain["events"]
    for position, event in enumerate(events, start=1):
        where = f"audit event #{event.get('seq', position)}"
        if event["seq"] != position:
            problems.append(f"{where}: sequence gap, an event is missing before it")
        if event["payload_digest"] != digest(event["payload"]):
            problems.append(f"{where}: payload does not match its digest")
        if event["prev_hash"] != expected_prev:
            problems.append(f"{where}: previous hash does not match the event before it")
        if event["hash"] != event_hash(chain["application"], event):
            problems.append(f"{where}: hash does not match the content")
        expected_prev = event["hash"]
    if chain.get("count") != len(events):
        problems.append(f"audit chain: {len(events)} events, but it says {chain.get('count')}")
    if chain.get("head") != (events[-1]["hash"] if events else GENESIS):
        problems.append("audit chain: its head is not the last event's hash (events removed or added at the end)")
    return problems, chain


def main(argv: list[str]) -> int:
    folder = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    try:
        file_problems, count = check_files(folder)
        file_problems += check_originals(folder)
        chain_problems, chain = check_chain(folder)
        with open(os.path.join(folder, SUMS), "rb") as handle:
            sums_digest = hashlib.sha256(handle.read()).hexdigest()
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"UNREADABLE / 无法读取: {error}")
        return 2
    problems = file_problems + chain_problems
    for problem in problems:
        print(f"TAMPERED / 已被篡改: {problem}")
    print(f"{SUMS} SHA-256: {sums_digest}")
    print(f"audit chain head / 审计链末端: {chain.get('head')}")
    if problems:
        print(f"FAILED / 校验失败: {len(problems)} problem(s) / 个问题")
        return 1
    print(f"OK / 校验通过: {count} files / 个文件, {len(chain['events'])} audit events / 条审计记录")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
