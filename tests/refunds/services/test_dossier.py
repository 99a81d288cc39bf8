"""The evidence dossier of a decided application: its files are the stored ones byte for byte,
its audit chain verifies with the script it carries, a tampered copy is caught, and its
generation is recorded without breaking the chain."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest
import time_machine
from django.utils import timezone

from refunds import audit, services
from refunds.errors import Conflict
from refunds.models import AuditEvent, RefundApplication, WebhookEvent
from refunds.services import Actor
from refunds.services.dossier import Audience, application_dossier_generate, dossier_linked_claims
from refunds.services.dossier_verify import event_hash
from refunds.states import ActorKind, Outcome
from refunds.vocab import AuditAction
from tests.factories import FORGED_CUP, jpeg, screen, submit, upload

pytestmark = pytest.mark.django_db

REVIEWER_ACTOR = Actor(ActorKind.REVIEWER, None, "reviewer")


def contested(product, *, evidence=None, **fields) -> RefundApplication:
    """A claim the merchant contested with a packing photo, now in review."""
    application = screen(submit(product, evidence=evidence or [FORGED_CUP], **fields))
    services.application_contest(
        application_id=application.public_id,
        actor=Actor(ActorKind.MERCHANT, None, "owner"),
        statement="杯子出库时完好无损。The cup left intact.",
        reason_codes=["evidence_edited"],
        attachments=[upload(jpeg(seed=7), "packing.jpg")],
    )
    return RefundApplication.objects.get(pk=application.pk)


def rejected(application: RefundApplication, reviewer) -> RefundApplication:
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    services.application_decide(
        application_id=application.public_id,
        reviewer=reviewer,
        outcome=Outcome.REJECTED,
        reason_codes=["evidence_derived"],
        note="The catalogue photo with paint on it.",
    )
    return RefundApplication.objects.get(pk=application.pk)


def decided_application(product, reviewer) -> RefundApplication:
    """Acme's forged cup claim, contested with a packing photo and rejected; an earlier claim
    of another buyer used the very same file."""
    screen(submit(product, evidence=[FORGED_CUP], buyer_ref="buyer-0", order_ref="order-0"))
    return rejected(contested(product), reviewer)


@pytest.fixture
def decided(product, reviewer) -> RefundApplication:
    return decided_application(product, reviewer)


def generate(
    application: RefundApplication, audience: Audience = Audience.REVIEWER, actor: Actor = REVIEWER_ACTOR
) -> bytes:
    dossier = application_dossier_generate(application_id=application.public_id, actor=actor, audience=audience)
    try:
        return dossier.handle.read()
    finally:
        dossier.close()


def extract(data: bytes, into: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(into)
        (root,) = {name.split("/")[0] for name in archive.namelist()}
    return into / root


def verify(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "verify.py"], cwd=folder, capture_output=True, text=True, timeout=60)


def rewrite_manifests(folder: Path, name: str) -> None:
    """Make both manifests agree with the file as it is now, as a careful forger would."""
    data = (folder / name).read_bytes()
    checksum = hashlib.sha256(data).hexdigest()
    sums = folder / "SHA256SUMS"
    sums.write_text(
        "".join(
            f"{checksum}  {name}\n" if line.endswith(f"  {name}") else line + "\n"
            for line in sums.read_text().splitlines()
        )
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["path"] == name:
            entry.update(sha256=checksum, size=len(data))
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_the_dossier_holds_every_original_file_byte_for_byte(decided, tmp_path):
    folder = extract(generate(decided), tmp_path)
    manifest = {entry["path"]: entry for entry in json.loads((folder / "manifest.json").read_text())["files"]}
    screening = decided.evidence.get().screening
    stored = [decided.evidence.get(), *decided.rebuttal.attachments.all(), screening.matched_reference]
    application = json.loads((folder / "application.json").read_text())
    paths = {item["id"]: item["file"] for item in [*application["evidence"], *application["rebuttal"]["attachments"]]}
    paths[str(screening.matched_reference.public_id)] = json.loads((folder / "screening.json").read_text())[0][
        "result"
    ]["matched_reference"]["file"]
    for item in stored:
        path = paths[str(item.public_id)]
        with item.file.open("rb") as handle:
            assert (folder / path).read_bytes() == handle.read()
        assert manifest[path]["sha256"] == item.sha256 and manifest[path]["size"] == item.byte_size
    heatmaps = [path for path, entry in manifest.items() if entry["kind"] == "heatmap"]
    assert heatmaps and all((folder / path).read_bytes().startswith(b"\x89PNG") for path in heatmaps)


def test_the_sums_file_lists_every_other_file_with_its_hash(decided, tmp_path):
    folder = extract(generate(decided), tmp_path)
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in lines}
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {"SHA256SUMS", "manifest.json"}
    assert set(listed) == on_disk
    assert all(
        hashlib.sha256((folder / name).read_bytes()).hexdigest() == checksum for name, checksum in listed.items()
    )


def test_the_included_script_verifies_the_files_and_the_audit_chain(decided, tmp_path):
    folder = extract(generate(decided), tmp_path)
    run = verify(folder)
    assert run.returncode == 0, run.stdout
    assert "OK" in run.stdout
    chain = json.loads((folder / "audit" / "chain.json").read_text())
    # The decision may be followed by its drawing for a blind second review (the policy's
    # qa_sample_rate, a draw keyed on the application's random id); the chain holds it and
    # ends on the last event recorded before the export.
    assert "decide" in [e["action"] for e in chain["events"]]
    last = chain["events"][-1]
    assert chain["head"] == last["hash"] == decided.audit_events.get(seq=last["seq"]).hash


def test_the_instructions_say_how_to_verify_in_chinese_and_english(decided, tmp_path):
    readme = (extract(generate(decided), tmp_path) / "README.txt").read_text()
    assert "python verify.py" in readme
    assert "校验方法：用 Python 3.8 或更高版本运行（无需其他软件）：" in readme
    assert "To check it, run with Python 3.8 or later (nothing else is needed):" in readme


def test_the_script_computes_each_event_hash_as_the_server_does(decided, tmp_path):
    chain = json.loads((extract(generate(decided), tmp_path) / "audit" / "chain.json").read_text())
    for event in chain["events"]:
        stored = AuditEvent.objects.get(application=decided, seq=event["seq"])
        assert event_hash(chain["application"], event) == audit._event_hash(decided, stored) == stored.hash


def test_one_changed_byte_of_an_evidence_file_is_caught(decided, tmp_path):
    folder = extract(generate(decided), tmp_path)
    (evidence,) = (folder / "files" / "evidence").iterdir()
    data = bytearray(evidence.read_bytes())
    data[len(data) // 2] ^= 0x01
    evidence.write_bytes(bytes(data))
    run = verify(folder)
    assert run.returncode == 1
    assert f"files/evidence/{evidence.name}: modified" in run.stdout


def test_an_edited_audit_event_is_caught_even_with_its_file_hash_updated(decided, tmp_path):
    folder = extract(generate(decided), tmp_path)
    chain_path = folder / "audit" / "chain.json"
    chain = json.loads(chain_path.read_text())
    decide = next(e for e in chain["events"] if e["action"] == "decide")
    decide["payload"]["outcome"] = "approved"
    chain_path.write_text(json.dumps(chain, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    rewrite_manifests(folder, "audit/chain.json")  # so only the chain itself can tell
    run = verify(folder)
    assert run.returncode == 1
    assert f"audit event #{decide['seq']}: payload does not match its digest" in run.stdout


def test_a_replaced_evidence_file_is_caught_by_its_upload_hash_even_with_the_manifests_rewritten(decided, tmp_path):
    folder = extract(generate(decided), tmp_path)
    (evidence,) = (folder / "files" / "evidence").iterdir()
    evidence.write_bytes(jpeg(seed=99))
    name = f"files/evidence/{evidence.name}"
    rewrite_manifests(folder, name)
    run = verify(folder)
    assert run.returncode == 1
    assert (
        f"{name}: differs from the SHA-256 recorded when it was uploaded ({decided.evidence.get().sha256})"
        in run.stdout
    )


def test_a_removed_file_and_an_added_file_are_both_named(decided, tmp_path):
    folder = extract(generate(decided), tmp_path)
    (folder / "summary.pdf").unlink()
    (folder / "files" / "extra.jpg").write_bytes(b"not ours")
    run = verify(folder)
    assert run.returncode == 1
    assert "summary.pdf: missing" in run.stdout and "files/extra.jpg: not listed in the manifest" in run.stdout


def test_an_undecided_application_has_no_dossier(product):
    application = screen(submit(product))
    with pytest.raises(Conflict) as refused:
        generate(application)
    assert refused.value.code == "not_decided"
    assert not application.audit_events.filter(action=AuditAction.DOSSIER_GENERATED).exists()


def test_the_generation_is_recorded_in_the_chain_which_still_verifies(decided):
    webhook_events = WebhookEvent.objects.count()
    dossier = application_dossier_generate(
        application_id=decided.public_id, actor=REVIEWER_ACTOR, audience=Audience.REVIEWER
    )
    dossier.close()
    assert WebhookEvent.objects.count() == webhook_events  # no change of state, nothing to announce
    event = decided.audit_events.order_by("seq").last()
    assert event.action == AuditAction.DOSSIER_GENERATED and event.actor_label == "reviewer"
    assert event.from_state == event.to_state == "decided"
    assert event.payload["sha256sums"] == dossier.sums_sha256
    assert audit.verify_chain(RefundApplication.objects.get(pk=decided.pk)).ok


def test_the_dossier_says_when_and_for_whom_it_was_made(decided, tmp_path):
    moment = timezone.now().replace(microsecond=0)
    with time_machine.travel(moment, tick=False):
        folder = extract(generate(decided, actor=Actor(ActorKind.REVIEWER, None, "auditor")), tmp_path)
    made = json.loads((folder / "dossier.json").read_text())
    assert made["generated_at"] == moment.isoformat()
    assert made["generated_for"] == {"kind": "reviewer", "label": "auditor"}


def test_generating_twice_changes_only_the_generation_time(decided, tmp_path):
    first_at = timezone.now()
    with time_machine.travel(first_at, tick=False):
        first = generate(decided)
    with time_machine.travel(first_at, tick=False):
        again = generate(decided)
    assert again == first  # the same moment: the very same archive
    with time_machine.travel(first_at + timedelta(hours=3), tick=False):
        later = extract(generate(decided), tmp_path / "later")
    earlier = extract(first, tmp_path / "earlier")
    differing = {
        str(p.relative_to(earlier))
        for p in earlier.rglob("*")
        if p.is_file() and p.read_bytes() != (later / p.relative_to(earlier)).read_bytes()
    }
    assert differing == {"dossier.json", "summary.pdf", "SHA256SUMS", "manifest.json"}
    made = [json.loads((folder / "dossier.json").read_text()) for folder in (earlier, later)]
    assert made[0].pop("generated_at") != made[1].pop("generated_at") and made[0] == made[1]


def test_the_summary_is_a_pdf_in_chinese_and_english(decided, tmp_path):
    folder = extract(generate(decided), tmp_path)
    reader = pypdf.PdfReader(folder / "summary.pdf")
    text = "\n".join(page.extract_text() for page in reader.pages)
    for words in (
        "证据档案",
        "Evidence dossier",
        "已驳回",
        "Rejected",
        "39.90 CNY",
        "Linked claims",
        "关联申请",
        "杯子出库时完好无损。",
        "同一文件",
        "the same file",
        "79.80 CNY claimed",
    ):
        assert words in text, words
    # A hash is wrapped over two lines of its narrow column.
    assert decided.evidence.get().sha256 in text.replace("\n", "")
    assert reader.metadata.title == f"Evidence dossier / 证据档案 {decided.public_id}"


def test_the_linked_claims_are_the_stored_group_with_each_application_and_the_totals(decided, tmp_path):
    folder = extract(generate(decided), tmp_path)
    linked = json.loads((folder / "linked_claims.json").read_text())
    group = dossier_linked_claims(decided)
    (earlier,) = [member.application for member in group.members]
    assert linked == {
        "group": str(group.group.public_id),
        "claims": [
            {
                "id": str(earlier.public_id),
                "relation": "same_file",
                "state": earlier.state,
                "outcome": None,
                "amount": "39.90",
                "currency": "CNY",
                "approved_amount": None,
                "submitted_at": earlier.created_at.isoformat(),
            }
        ],
        "claimed": {"CNY": "79.80"},
        "refunded": {"CNY": "0.00"},
    }


def test_a_merchant_learns_only_how_many_claims_of_other_shops_are_linked(product, other_merchant, reviewer, tmp_path):
    from tests.factories import make_product

    screen(submit(make_product(other_merchant, ref="sku-o"), evidence=[FORGED_CUP], buyer_ref="b-9", order_ref="o-9"))
    application = rejected(contested(product), reviewer)
    folder = extract(generate(application, Audience.MERCHANT, Actor(ActorKind.MERCHANT, None, "owner")), tmp_path)
    linked = json.loads((folder / "linked_claims.json").read_text())
    assert linked["claims"] == [] and linked["in_other_shops"] == 1
    assert "claimed" not in linked and "refunded" not in linked
