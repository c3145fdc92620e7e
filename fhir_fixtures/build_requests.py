"""Writes the hook-request fixtures in fhir_fixtures/requests/ and the encounter Bundle in fhir_fixtures/fhir/.

The JSON files are the fixtures (tests, the playground and `cds-service evaluate` read them); this script
only keeps their many resources consistent. Run: `.venv/bin/python fhir_fixtures/build_requests.py`.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCT = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PT, ENC, DAY = "pt-1", "enc-1", "2024-03-04"
DR_A, DR_B = "Practitioner/dr-a", "Practitioner/dr-b"

SIDES = {
    "right": {"coding": [{"system": SCT, "code": "44788007", "display": "Right pleura"}]},
    "left": {"coding": [{"system": SCT, "code": "53727004", "display": "Left pleura"}]},
    "left-qualifier": {"coding": [{"system": SCT, "code": "7771000", "display": "Left"}], "text": "pleural space"},
    "bilateral": {"coding": [{"system": SCT, "code": "51440002", "display": "Right and left"}]},
    "right-text": {"text": "right pleural space"},
    "rlq": {"text": "Right lower quadrant of abdomen"},
}
KINDS = {
    "thoracentesis": {"system": SCT, "code": "91602002", "display": "Thoracentesis"},
    "drain": {"system": SCT, "code": "264957007", "display": "Insertion of pleural tube drain"},
    "paracentesis": {"system": SCT, "code": "89305009", "display": "Abdominal paracentesis"},
    "appendectomy": {"system": SCT, "code": "80146002", "display": "Appendectomy"},
}


def at(clock: str, day: str = DAY) -> str:
    return f"{day}T{clock}:00-05:00"


def ref(key: str) -> dict:
    return {"reference": key}


def patient(pid: str = PT) -> dict:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": "Testpatient", "given": ["Alex"]}],
            "gender": "female", "birthDate": "1950-05-01"}


def encounter(cls: str = "IMP", eid: str = ENC, pid: str = PT) -> dict:
    names = {"IMP": "inpatient encounter", "AMB": "ambulatory", "EMER": "emergency"}
    return {"resourceType": "Encounter", "id": eid, "status": "in-progress",
            "class": {"system": ACT, "code": cls, "display": names.get(cls, cls)},
            "subject": ref(f"Patient/{pid}"), "period": {"start": at("07:00")}}


def condition(cid: str, code: str, display: str, active: bool = True, eid: str = ENC, pid: str = PT) -> dict:
    return {
        "resourceType": "Condition", "id": cid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active" if active else "resolved"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "code": "confirmed"}]},
        "code": {"coding": [{"system": ICD, "code": code, "display": display}], "text": display},
        "subject": ref(f"Patient/{pid}"), "encounter": ref(f"Encounter/{eid}"),
    }


def procedure(pid_: str, kind: str = "thoracentesis", start: str = "10:00", end: str | None = "10:25",
              side: str | None = "right", performer: str = DR_A, notes: list[str] | None = None,
              cpt: str | None = None, status: str = "completed", focal_device: bool = False,
              status_reason: str | None = None, complication: bool = False, reason: str | None = None,
              day: str = DAY, eid: str = ENC, pid: str = PT, text_only: str | None = None) -> dict:
    code: dict = {"coding": [KINDS[kind]]} if text_only is None else {"text": text_only}
    if cpt:
        code.setdefault("coding", []).append({"system": CPT, "code": cpt})
    resource: dict = {"resourceType": "Procedure", "id": pid_, "status": status, "code": code,
                      "subject": ref(f"Patient/{pid}"), "encounter": ref(f"Encounter/{eid}")}
    if status_reason:
        resource["statusReason"] = {"text": status_reason}
    if end:
        resource["performedPeriod"] = {"start": at(start, day), "end": at(end, day)}
    else:
        resource["performedDateTime"] = at(start, day)
    resource["performer"] = [{"actor": ref(performer)}]
    if reason:
        resource["reasonCode"] = [{"coding": [{"system": ICD, "code": reason}]}]
    if side:
        resource["bodySite"] = [SIDES[side]]
    if focal_device:
        resource["focalDevice"] = [{"manipulated": {"display": "8.5 Fr pleural drainage catheter"}}]
    if complication:
        resource["complication"] = [{"text": "small pneumothorax, observed"}]
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    return resource


def order(sid: str, kind: str | None = "thoracentesis", side: str | None = "right", cpt: str | None = None,
          reason: str | None = None, text: str | None = None) -> dict:
    code: dict = {"coding": []}
    if kind:
        code["coding"].append(KINDS[kind])
    if cpt:
        code["coding"].append({"system": CPT, "code": cpt})
    if text:
        code["text"] = text
    resource: dict = {"resourceType": "ServiceRequest", "id": sid, "status": "draft", "intent": "order",
                      "code": code, "subject": ref(f"Patient/{PT}"), "encounter": ref(f"Encounter/{ENC}"),
                      "occurrenceDateTime": at("15:00"), "requester": ref(DR_A)}
    if side:
        resource["bodySite"] = [SIDES[side]]
    if reason:
        resource["reasonCode"] = [{"coding": [{"system": ICD, "code": reason}]}]
    return resource


def imaging(sid: str, started: str, modality: str = "US", instances: int = 3, procedure_id: str | None = None,
            based_on: str | None = None, day: str = DAY, eid: str = ENC, pid: str = PT) -> dict:
    resource: dict = {
        "resourceType": "ImagingStudy", "id": sid, "status": "available",
        "modality": [{"system": DCM, "code": modality}],
        "subject": ref(f"Patient/{pid}"), "encounter": ref(f"Encounter/{eid}"), "started": at(started, day),
        "numberOfSeries": 1, "numberOfInstances": instances,
        "series": [{"uid": f"2.25.{zlib.crc32(sid.encode())}", "modality": {"system": DCM, "code": modality},
                    "numberOfInstances": instances}],
    }
    if procedure_id:
        resource["procedureReference"] = ref(f"Procedure/{procedure_id}")
    if based_on:
        resource["basedOn"] = [ref(based_on)]
    return resource


def volume(oid: str, procedure_id: str, value: float, unit: str = "mL", eid: str = ENC, pid: str = PT) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"text": "Volume of fluid removed"}, "subject": ref(f"Patient/{pid}"),
            "encounter": ref(f"Encounter/{eid}"), "partOf": [ref(f"Procedure/{procedure_id}")],
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def document(did: str, text: str, related: list[str], content_type: str = "text/plain", raw: str | None = None,
             eid: str = ENC, pid: str = PT) -> dict:
    data = raw if raw is not None else base64.b64encode(text.encode()).decode()
    return {"resourceType": "DocumentReference", "id": did, "status": "current",
            "type": {"text": "Procedure note"}, "subject": ref(f"Patient/{pid}"),
            "content": [{"attachment": {"contentType": content_type, "data": data}}],
            "context": {"encounter": [ref(f"Encounter/{eid}")], "related": [ref(r) for r in related]}}


def coverage(payor: str = "Medicare Part B", pid: str = PT) -> dict:
    return {"resourceType": "Coverage", "id": "cov-1", "status": "active", "beneficiary": ref(f"Patient/{pid}"),
            "payor": [{"display": payor}]}


def bundle(resources: list[dict]) -> dict | None:
    if not resources:
        return None
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"http://fhir.example.org/{r['resourceType']}/{r['id']}", "resource": r}
                      for r in resources]}


FULL_NOTE = ("Procedure note. Indication: pleural effusion. Time-out performed. 1200 mL of straw-colored fluid "
             "removed. Catheter removed at the end. Specimens sent for cell count, LDH and cytology. "
             "No complications. Post-procedure chest x-ray: no pneumothorax.")


def discharge(resources: list[dict], cls: str = "IMP", payor: str = "Medicare Part B") -> dict:
    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    return {
        "hook": "encounter-discharge",
        "hookInstance": "00000000-0000-4000-8000-000000000000",
        "context": {"userId": f"{DR_A}", "patientId": PT, "encounterId": ENC},
        "prefetch": {
            "patient": patient(),
            "encounter": encounter(cls),
            "conditions": bundle(by_type.get("Condition", [])),
            "procedures": bundle(by_type.get("Procedure", [])),
            "imagingStudies": bundle(by_type.get("ImagingStudy", [])),
            "observations": bundle(by_type.get("Observation", [])),
            "documents": bundle(by_type.get("DocumentReference", [])),
            "coverage": bundle([coverage(payor)]),
            "medications": bundle(by_type.get("MedicationAdministration", [])),
        },
    }


def note_sign(note: dict, resources: list[dict], cls: str = "IMP") -> dict:
    call = discharge(resources, cls)
    call["hook"] = "org.procedure-coding.note-sign"
    call["context"]["note"] = note
    return call


def order_call(hook: str, orders: list[dict], conditions: list[dict]) -> dict:
    context: dict = {"userId": DR_A, "patientId": PT, "encounterId": ENC,
                     "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                     "entry": [{"resource": o} for o in orders]}}
    if hook == "order-select":
        context["selections"] = [f"ServiceRequest/{orders[0]['id']}"]
    return {
        "hook": hook,
        "hookInstance": "00000000-0000-4000-8000-000000000001",
        "context": context,
        "prefetch": {"patient": patient(), "encounter": encounter(), "conditions": bundle(conditions),
                     "coverage": bundle([coverage()])},
    }


J90 = condition("c-effusion", "J90", "Pleural effusion, not elsewhere classified")
DYSPNEA = condition("c-dyspnea", "R06.02", "Shortness of breath")
ASCITES = condition("c-ascites", "R18.8", "Other ascites")


def scenarios() -> dict[str, dict]:
    s: dict[str, dict] = {}
    note = document("note-1", FULL_NOTE, ["Procedure/p1"])
    s["thoracentesis-us-guided.note-sign"] = note_sign(note, [
        J90, procedure("p1"), imaging("img-1", "10:02", procedure_id="p1"), note])
    claim = document("note-1", "Ultrasound-guided thoracentesis of the right pleural space. 800 mL removed. "
                     "No complications.", ["Procedure/p1"])
    s["thoracentesis-no-images.note-sign"] = note_sign(claim, [
        J90, procedure("p1", cpt="32555"), imaging("img-1", "10:02", procedure_id="p1", instances=0), claim])
    s["thoracentesis-bilateral.encounter-discharge"] = discharge([
        J90, procedure("p-right", start="10:00", end="10:20", notes=[FULL_NOTE]),
        procedure("p-left", start="10:35", end="10:55", side="left", notes=[FULL_NOTE]),
        imaging("img-right", "09:55", procedure_id="p-right"), imaging("img-left", "10:33", procedure_id="p-left"),
        procedure("p-guidance", kind="appendectomy", start="10:00", end="10:55", cpt="76942", side=None,
                  text_only="Ultrasound guidance for needle placement"),
    ])
    drain_note = document("note-1", "Ultrasound-guided right thoracentesis drained 600 mL, then an 8.5 Fr "
                          "catheter was placed, sutured in place and connected to drainage. No complications.",
                          ["Procedure/p1", "Procedure/p2"])
    s["pleural-drain.note-sign"] = note_sign(drain_note, [
        J90, procedure("p1", start="10:00", end="10:15"),
        procedure("p2", kind="drain", start="10:20", end="10:40", focal_device=True),
        imaging("img-1", "09:58", procedure_id="p1"), imaging("img-2", "10:19", procedure_id="p2"), drain_note])
    s["dry-tap.encounter-discharge"] = discharge([
        J90, procedure("p1", status="not-done", end=None,
                       status_reason="Bedside ultrasound showed too little fluid to drain safely"),
        imaging("img-1", "09:58", procedure_id="p1", instances=2)])
    para_note = document("note-1", "Ultrasound-guided paracentesis, 4.5 L of ascites removed. Specimen sent for "
                         "cell count. No complications.", ["Procedure/p1"])
    s["paracentesis-us-guided.encounter-discharge"] = discharge([
        ASCITES, procedure("p1", kind="paracentesis", side="rlq"), imaging("img-1", "09:30"), para_note],
        cls="AMB")
    s["thoracentesis-with-guidance-order.order-sign"] = order_call("order-sign", [
        order("sr-1"), order("sr-guidance", kind=None, side=None, cpt="76942",
                             text="Ultrasound guidance for needle placement")], [J90])
    s["thoracentesis.order-select"] = order_call("order-select", [order("sr-1", side=None)], [DYSPNEA])

    # --- further positive and negative cases, one rule each ---
    s["thoracentesis-order-coded-with-imaging.order-sign"] = order_call("order-sign", [
        order("sr-1", side="left", cpt="32555", reason="J91.8")], [])
    s["thoracentesis-order-unguided.order-sign"] = order_call("order-sign", [order("sr-1")], [J90])
    s["drain-left-in-place-text.encounter-discharge"] = discharge([
        J90, procedure("p1", side="left-qualifier", notes=[
            "Thoracentesis with pigtail catheter; catheter left in place to drain. 500 mL. No complications."])])
    s["thoracentesis-guidance-based-on.encounter-discharge"] = discharge([
        J90, dict(procedure("p1", side="right-text", notes=[FULL_NOTE]), basedOn=[ref("ServiceRequest/sr-9")]),
        imaging("img-1", "08:00", based_on="ServiceRequest/sr-9")])
    s["thoracentesis-old-ct.encounter-discharge"] = discharge([
        J90, procedure("p1", notes=[FULL_NOTE]), imaging("img-ct", "09:00", modality="CT", day="2024-03-01"),
        imaging("img-dx", "10:05", modality="DX", instances=1)])
    s["thoracentesis-text-claim-no-study.encounter-discharge"] = discharge([
        J90, procedure("p1", notes=["Thoracentesis under ultrasound guidance. " + FULL_NOTE])])
    s["thoracentesis-single-bilateral.encounter-discharge"] = discharge([
        J90, procedure("p1", side="bilateral", notes=[FULL_NOTE]), imaging("img-1", "10:01", procedure_id="p1")])
    s["thoracentesis-bilateral-rt-lt-payer.encounter-discharge"] = discharge([
        J90, procedure("p1", side="bilateral", notes=[FULL_NOTE]), imaging("img-1", "10:01", procedure_id="p1")],
        payor="Example Commercial Health Plan")
    s["thoracentesis-two-sessions.encounter-discharge"] = discharge([
        J90, procedure("p-right", start="08:00", end="08:20", notes=[FULL_NOTE]),
        procedure("p-left", start="14:00", end="14:20", side="left", notes=[FULL_NOTE]),
        imaging("img-right", "07:58", procedure_id="p-right"), imaging("img-left", "13:59", procedure_id="p-left")])
    s["ncci-guided-and-unguided.encounter-discharge"] = discharge([
        J90, procedure("p-right", start="10:00", end="10:20", notes=[FULL_NOTE]),
        procedure("p-left", start="10:40", end="10:55", side="left", notes=[FULL_NOTE]),
        imaging("img-right", "09:58", procedure_id="p-right")])
    tube = {"coding": [{"system": CPT, "code": "32551"}], "text": "Tube thoracostomy"}
    s["ncci-distinct-sides.encounter-discharge"] = discharge([
        J90, procedure("p1", start="10:00", end="10:20", notes=[FULL_NOTE]),
        imaging("img-1", "09:58", procedure_id="p1"),
        dict(procedure("p2", start="10:30", end="10:50", side="left", notes=[FULL_NOTE]), code=tube)])
    s["ncci-same-side.encounter-discharge"] = discharge([
        J90, procedure("p1", start="10:00", end="10:20", notes=[FULL_NOTE]),
        imaging("img-1", "09:58", procedure_id="p1"),
        dict(procedure("p2", start="10:30", end="10:50", notes=[FULL_NOTE]), code=tube)])
    s["drain-opposite-side.encounter-discharge"] = discharge([
        J90, procedure("p1", start="10:00", end="10:15", notes=[FULL_NOTE]),
        procedure("p2", kind="drain", start="10:20", end="10:40", side="left", focal_device=True,
                  notes=["Catheter connected to drainage. 300 mL. No complications. Specimen sent."]),
        imaging("img-1", "09:58", procedure_id="p1"), imaging("img-2", "10:19", procedure_id="p2")])
    s["thoracentesis-repeat-same-performer.encounter-discharge"] = discharge([
        J90, procedure("p1", start="08:00", end="08:20", notes=[FULL_NOTE]),
        procedure("p2", start="15:00", end="15:20", notes=[FULL_NOTE]),
        imaging("img-1", "07:58", procedure_id="p1"), imaging("img-2", "14:58", procedure_id="p2")])
    s["thoracentesis-repeat-other-performer.encounter-discharge"] = discharge([
        J90, procedure("p1", start="08:00", end="08:20", notes=[FULL_NOTE]),
        procedure("p2", start="15:00", end="15:20", performer=DR_B, notes=[FULL_NOTE]),
        imaging("img-1", "07:58", procedure_id="p1"), imaging("img-2", "14:58", procedure_id="p2")])
    para_full = "Paracentesis. 3 L removed. No complications. Specimen sent for cell count."
    s["paracentesis-repeat-mue.encounter-discharge"] = discharge([
        ASCITES, procedure("p1", kind="paracentesis", start="08:00", end="08:30", side=None, notes=[para_full]),
        procedure("p2", kind="paracentesis", start="16:00", end="16:30", side=None, notes=[para_full])], cls="AMB")
    s["paracentesis-unguided-coded-49083.encounter-discharge"] = discharge([
        procedure("p1", kind="paracentesis", side=None, cpt="49083", reason="K70.31", notes=[para_full])], cls="AMB")
    s["dry-tap-outpatient-paracentesis.encounter-discharge"] = discharge([
        ASCITES, procedure("p1", kind="paracentesis", side=None, status="not-done", end=None,
                           status_reason="Dry tap: no drainable ascites on ultrasound"),
        imaging("img-1", "09:58", procedure_id="p1", instances=2)], cls="AMB")
    s["not-done-declined.encounter-discharge"] = discharge([
        J90, procedure("p1", status="not-done", end=None, status_reason="Patient declined the procedure")])
    s["thoracentesis-volume-observation.encounter-discharge"] = discharge([
        J90, procedure("p1", complication=True), imaging("img-1", "10:02", procedure_id="p1"),
        volume("obs-1", "p1", 1.1, "L")])
    s["thoracentesis-undocumented.encounter-discharge"] = discharge([
        DYSPNEA, condition("c-old", "J90", "Pleural effusion", active=False), procedure("p1", side=None),
        procedure("p-unrelated", kind="appendectomy", side=None, start="12:00", end="13:00")])
    bad = document("note-1", "", ["Procedure/p1"], raw="%%% not base64 %%%")
    s["note-bad-base64.note-sign"] = note_sign(bad, [J90, procedure("p1"),
                                                     imaging("img-1", "10:02", procedure_id="p1"), bad])
    markup = document("note-1", "<script>alert(1)</script> [click](http://evil.example) " + FULL_NOTE,
                      ["Procedure/p1"], content_type="text/markdown")
    hostile = procedure("p1")
    hostile["bodySite"] = [{"text": "right <img src=x onerror=alert(1)> pleura"}]
    hostile_dx = condition("c-hostile", "J90", "Pleural effusion <img src=x onerror=alert(1)> **bold**")
    s["note-with-markup.note-sign"] = note_sign(
        markup, [hostile_dx, hostile, imaging("img-1", "10:02", procedure_id="p1"), markup])
    s.update(pleural_round_two())
    return s


IPC_TEXT = "Tunneled pleural catheter insertion (PleurX)"
IPC_NOTE = ("Tunneled indwelling pleural catheter placed under real-time ultrasound guidance; the cuff sits in the "
            "subcutaneous tunnel. 1000 mL drained. No complications. Post-procedure chest x-ray: no pneumothorax.")
IPC_NOTE_BARE = ("PleurX catheter placed through a subcutaneous tunnel, cuff positioned. 900 mL drained. "
                 "No complications. Follow-up chest x-ray: no pneumothorax.")


def pleural_round_two() -> dict[str, dict]:
    """Issue 13: the tunneled catheter (32550) and its separately billable guidance (75989), removal (32552),
    pleurodesis (32560), fibrinolysis day sequence (32561/32562), NCCI pairs per date of service."""
    s: dict[str, dict] = {}
    ipc = dict(text_only=IPC_TEXT)
    # 32550 under ultrasound with saved images, facility encounter: 32550-RT plus 75989-26 (PC/TC 1), no side.
    s["tunneled-catheter-us-guided.encounter-discharge"] = discharge([
        J90, procedure("p1", notes=[IPC_NOTE], **ipc), imaging("img-1", "09:58", procedure_id="p1")])
    # Negative: no imaging study, ambulatory: 32550 alone (no 75989, no saved-images gap: nothing claimed).
    s["tunneled-catheter-unguided.encounter-discharge"] = discharge([
        J90, procedure("p1", notes=[IPC_NOTE_BARE], **ipc)], cls="AMB")
    # Fluoroscopy in an ambulatory encounter: 75989 without 26; the note does not describe the guidance.
    s["tunneled-catheter-fluoro-no-report.encounter-discharge"] = discharge([
        J90, procedure("p1", notes=[IPC_NOTE_BARE], **ipc),
        imaging("img-1", "09:59", modality="RF", procedure_id="p1")], cls="AMB")
    # Selected by the note: a drain SNOMED code, but the note says PleurX through a tunnel -> 32550; a separate
    # 76942 charge is not billable with it.
    s["tunneled-catheter-selected-by-note.encounter-discharge"] = discharge([
        J90, procedure("p1", kind="drain", focal_device=True, notes=[IPC_NOTE]),
        imaging("img-1", "09:58", procedure_id="p1"),
        procedure("p-guidance", kind="appendectomy", start="10:00", end="10:20", cpt="76942", side=None,
                  text_only="Ultrasound guidance for needle placement")])
    # Same side, same session: the tunneled catheter absorbs the thoracentesis (before the NCCI pairs).
    s["tunneled-catheter-absorbs-tap.encounter-discharge"] = discharge([
        J90, procedure("p1", start="10:00", end="10:10", notes=[FULL_NOTE]),
        imaging("img-1", "09:58", procedure_id="p1"),
        procedure("p2", start="10:15", end="10:40", notes=[IPC_NOTE], **ipc),
        imaging("img-2", "10:14", procedure_id="p2")])
    # Guidance claimed in the note, but the study kept no images: no 75989, and the card asks for the images.
    s["tunneled-catheter-images-not-saved.encounter-discharge"] = discharge([
        J90, procedure("p1", notes=[IPC_NOTE], **ipc),
        imaging("img-1", "09:58", procedure_id="p1", instances=0)], cls="AMB")
    # No side recorded on the tunneled catheter: it takes the side of the thoracentesis it includes.
    s["tunneled-catheter-side-from-absorbed-tap.encounter-discharge"] = discharge([
        J90, procedure("p1", start="10:00", end="10:10", notes=[FULL_NOTE]),
        imaging("img-1", "09:58", procedure_id="p1"),
        procedure("p2", start="10:15", end="10:40", side=None, notes=[IPC_NOTE_BARE], **ipc)], cls="AMB")
    # Same side, same session: a pigtail drain placed first is absorbed too.
    s["tunneled-catheter-absorbs-drain.encounter-discharge"] = discharge([
        J90, procedure("p1", kind="drain", start="10:00", end="10:10", focal_device=True,
                       notes=["Pigtail catheter sutured in place and connected to drainage. 400 mL. No complications."]),
        procedure("p2", start="10:15", end="10:40", notes=[IPC_NOTE], **ipc),
        imaging("img-2", "10:14", procedure_id="p2")], cls="AMB")
    # Opposite sides: the NCCI pairs apply (32550/32555 and 32555/75989, indicator 1): XS on the column-2 lines.
    s["tunneled-catheter-opposite-tap.encounter-discharge"] = discharge([
        J90, procedure("p1", start="10:00", end="10:10", side="left", notes=[FULL_NOTE]),
        imaging("img-1", "09:58", procedure_id="p1"),
        procedure("p2", start="10:15", end="10:40", notes=[IPC_NOTE], **ipc),
        imaging("img-2", "10:14", procedure_id="p2")])

    # 32552: removal of the tunneled catheter; its card names the 10-day global period.
    s["tunneled-catheter-removal.encounter-discharge"] = discharge([
        J90, procedure("p1", text_only="Removal of tunneled pleural catheter (PleurX)", notes=[
            "Cuff freed by blunt dissection, catheter removed intact. No complications."])], cls="AMB")
    s["tunneled-catheter-removal-by-cpt.note-sign"] = note_sign(REMOVAL_NOTE, [
        J90, procedure("p1", side="left", cpt="32552", text_only="Pleural catheter removal"), REMOVAL_NOTE],
        cls="AMB")
    # 32560: talc slurry through the chest tube, agent and dose recorded; negative: no dose -> agent-and-dose.
    s["pleurodesis-talc.encounter-discharge"] = discharge([
        J91, procedure("p1", text_only="Talc slurry pleurodesis via chest tube", notes=[
            "Talc 4 g in 50 mL saline instilled through the right chest tube, clamped for 1 hour. "
            "No complications."])])
    s["pleurodesis-no-dose.encounter-discharge"] = discharge([
        J91, procedure("p1", text_only="Chemical pleurodesis", notes=[
            "Doxycycline instilled through the existing pleural catheter. No complications."])])
    # Never confused: a fibrinolytic through the same tube is 32561, not 32560; thoracoscopic poudrage is
    # neither (no card).
    s["pleural-instillations-not-confused.encounter-discharge"] = discharge([
        EMPYEMA, procedure("p1", start="09:00", end="09:15", text_only="Intrapleural alteplase and dornase",
                           notes=[FIB_NOTE]),
        procedure("p2", start="14:00", end="14:30", side="left", text_only="Intrapleural doxycycline instillation",
                  notes=["Doxycycline 500 mg instilled through the left chest tube. No complications."]),
        procedure("p3", start="16:00", end="17:00", side="left", text_only="Thoracoscopic talc poudrage pleurodesis",
                  performer=DR_B)])
    # 32561/32562: a course in one encounter: first day, a later day, a second instillation that later day
    # (one unit a day: included); MUE 1 never exceeded.
    s["fibrinolysis-course.encounter-discharge"] = discharge([
        EMPYEMA,
        procedure("p1", day="2024-03-02", start="10:00", end="10:15", text_only="Intrapleural tPA/DNase",
                  notes=[FIB_NOTE]),
        procedure("p2", start="09:00", end="09:15", text_only="Intrapleural tPA/DNase", notes=[FIB_NOTE]),
        procedure("p3", start="21:00", end="21:15", text_only="Intrapleural tPA/DNase", notes=[FIB_NOTE])])
    # A later day whose first day was in an earlier encounter the client prefetched with it (3 days before).
    s["fibrinolysis-earlier-encounter-prefetched.encounter-discharge"] = discharge([
        EMPYEMA,
        procedure("p0", day="2024-03-01", text_only="Intrapleural tPA/DNase", eid="enc-0", notes=[FIB_NOTE]),
        procedure("p1", text_only="Intrapleural tPA/DNase", notes=[FIB_NOTE])])
    # Negative: the earlier instillation was 20 days before in another encounter: a new course, first day.
    s["fibrinolysis-old-course.encounter-discharge"] = discharge([
        EMPYEMA,
        procedure("p0", day="2024-02-13", text_only="Intrapleural tPA/DNase", eid="enc-0", notes=[FIB_NOTE]),
        procedure("p1", text_only="Intrapleural tPA/DNase", notes=[FIB_NOTE])])
    # Negative: no dose recorded -> agent-and-dose.
    s["fibrinolysis-no-dose.encounter-discharge"] = discharge([
        EMPYEMA, procedure("p1", text_only="Intrapleural fibrinolytic therapy", notes=[
            "Alteplase and dornase instilled through the right chest tube, dwell 1 hour. No complications."])])
    # NCCI pairs per date of service: same performer, other session of the same day. Indicator 1 -> XE;
    # indicator 0 -> not separately billable; another performer -> the pair does not apply.
    tube = {"coding": [{"system": CPT, "code": "32551"}], "text": "Tube thoracostomy"}
    s["ncci-same-day-other-session-xe.encounter-discharge"] = discharge([
        J90, procedure("p1", start="08:00", end="08:20", notes=[FULL_NOTE]),
        imaging("img-1", "07:58", procedure_id="p1"),
        dict(procedure("p2", start="15:00", end="15:30", notes=[FULL_NOTE]), code=tube)])
    s["ncci-same-day-other-session-indicator-0.encounter-discharge"] = discharge([
        J90, procedure("p1", start="08:00", end="08:20", notes=[FULL_NOTE]),
        imaging("img-1", "07:58", procedure_id="p1"),
        procedure("p2", start="15:00", end="15:20", side="left", notes=[FULL_NOTE])])
    s["ncci-same-day-other-performer.encounter-discharge"] = discharge([
        J90, procedure("p1", start="08:00", end="08:20", notes=[FULL_NOTE]),
        imaging("img-1", "07:58", procedure_id="p1"),
        procedure("p2", start="15:00", end="15:20", side="left", performer=DR_B, notes=[FULL_NOTE])])
    # 32550 and pleurodesis the same day, same side, one session: 32560 is column 2 (indicator 1) -> included.
    s["pleurodesis-with-tunneled-catheter.encounter-discharge"] = discharge([
        J91, procedure("p1", start="10:00", end="10:30", notes=[IPC_NOTE], **ipc),
        imaging("img-1", "09:58", procedure_id="p1"),
        procedure("p2", start="10:35", end="10:45", text_only="Talc slurry pleurodesis", notes=[
            "Talc 4 g instilled through the new catheter. No complications."])])
    # Negative of the tunneled catheter: a plan that mentions one does not make a thoracentesis 32550.
    s["thoracentesis-plan-mentions-pleurx.encounter-discharge"] = discharge([
        J90, procedure("p1", notes=[FULL_NOTE + " Plan: consider a PleurX catheter if it recurs; we will place a "
                                    "tunneled catheter rather than repeat the tap."]),
        imaging("img-1", "09:58", procedure_id="p1")])
    # Order-sign: a tunneled catheter ordered with 75989 (its own line, no delete) and with 77002 (not billed
    # with it: a delete of that order is suggested).
    s["tunneled-catheter-with-guidance-orders.order-sign"] = order_call("order-sign", [
        order("sr-1", kind=None, cpt="32550", text="Tunneled pleural catheter placement"),
        order("sr-75989", kind=None, side=None, cpt="75989", text="Imaging guidance for catheter drainage"),
        order("sr-77002", kind=None, side=None, cpt="77002", text="Fluoroscopic guidance for needle placement")],
        [J91])
    # The note says a later day of the course whose first day was not read: 32562.
    fib_day2 = document("note-1", "tPA/DNase treatment day 2 via the right chest tube: alteplase 10 mg and dornase "
                        "5 mg instilled, clamped 1 h. No complications.", ["Procedure/p1"])
    s["fibrinolysis-later-day-by-note.note-sign"] = note_sign(fib_day2, [
        EMPYEMA, procedure("p1", text_only="Intrapleural tPA/DNase"), fib_day2])
    return s


# --- joints (arthrocentesis pack): sites, sides, digits, ultrasound with images and a report, drugs ---
JOINT_SITES = {
    "knee": {"coding": [{"system": SCT, "code": "72696002", "display": "Knee"}]},
    "both-knees": {"coding": [{"system": SCT, "code": "36701003", "display": "Both knees"}]},
    "ankle": {"coding": [{"system": SCT, "code": "344001", "display": "Ankle"}]},
    "right": {"coding": [{"system": SCT, "code": "24028007", "display": "Right"}]},
    "left": {"coding": [{"system": SCT, "code": "7771000", "display": "Left"}]},
}
OA_KNEE = condition("c-oa", "M17.11", "Unilateral primary osteoarthritis, right knee")
GOUT = condition("c-gout", "M10.9", "Gout, unspecified")
US_REPORT = ("Ultrasound images saved to PACS; the needle tip was visualized within the joint recess. ")


def joint(pid_: str, sites: list, text: str = "Arthrocentesis", notes: list[str] | None = None,
          start: str = "10:00", end: str = "10:15", performer: str = DR_A, eid: str = ENC) -> dict:
    """A joint procedure coded by text only (no SNOMED concept for it was verified); `sites` are JOINT_SITES
    keys or bodySite texts."""
    resource = procedure(pid_, start=start, end=end, side=None, performer=performer, notes=notes, text_only=text,
                         eid=eid)
    resource["bodySite"] = [JOINT_SITES.get(s, {"text": s}) for s in sites]
    return resource


def administration(mid: str, procedure_id: str, drug: str, value: float | None, unit: str = "mg") -> dict:
    resource: dict = {"resourceType": "MedicationAdministration", "id": mid, "status": "completed",
                      "medicationCodeableConcept": {"text": drug}, "subject": ref(f"Patient/{PT}"),
                      "context": ref(f"Encounter/{ENC}"), "effectiveDateTime": at("10:05"),
                      "partOf": [ref(f"Procedure/{procedure_id}")]}
    if value is not None:
        resource["dosage"] = {"route": {"text": "intra-articular"},
                              "dose": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                                       "code": unit}}
    return resource


def joint_scenarios() -> dict[str, dict]:
    s: dict[str, dict] = {}
    knee_note = ("Right knee arthrocentesis. Time-out performed. 30 mL of straw-colored fluid aspirated. Injected "
                 "40 mg triamcinolone acetonide with 3 mL of 1% lidocaine. No complications.")
    s["joint-knee-triamcinolone.encounter-discharge"] = discharge(
        [OA_KNEE, joint("p1", ["knee", "right"], notes=[knee_note])], cls="AMB")
    us_note = ("Left knee aspiration and injection under ultrasound guidance. " + US_REPORT + "80 mg of "
               "methylprednisolone acetate injected. No complications.")
    note = document("note-1", us_note, ["Procedure/p1"])
    s["joint-knee-us-guided.note-sign"] = note_sign(note, [
        OA_KNEE, joint("p1", ["left knee"]), imaging("img-1", "10:01", procedure_id="p1"), note,
        procedure("p-guidance", kind="appendectomy", start="10:00", end="10:10", cpt="76942", side=None,
                  text_only="Ultrasound guidance for needle placement")], cls="AMB")
    s["joint-us-no-report.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["right knee"], notes=["Aspiration of the knee, 20 mL. No complications."]),
        imaging("img-1", "10:01", procedure_id="p1")], cls="AMB")
    s["joint-us-no-images.encounter-discharge"] = discharge([
        GOUT, joint("p1", ["Left wrist"], notes=["Wrist aspiration under ultrasound guidance, 2 mL of cloudy "
                                                 "fluid sent for crystals. No complications."])], cls="AMB")
    both = "Both knees injected, 40 mg triamcinolone each. No complications."
    s["joint-both-knees.encounter-discharge"] = discharge([
        OA_KNEE, joint("p-right", ["knee", "right"], notes=[both]),
        joint("p-left", ["knee", "left"], start="10:20", end="10:30", notes=[both])], cls="AMB")
    s["joint-both-knees-rt-lt-payer.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["both-knees"], notes=["Aspiration of both knees, no drug injected."])],
        cls="AMB", payor="Example Commercial Health Plan")
    s["joint-three-joints.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["right knee", "right shoulder", "left wrist"],
                       notes=["Aspiration of three joints. No complications."])], cls="AMB")
    s["joint-fingers-and-toe.encounter-discharge"] = discharge([
        GOUT, joint("p1", ["right index finger PIP joint", "right middle finger PIP joint", "left toe"],
                    notes=["Small joint aspirations for crystal analysis. No complications."])], cls="AMB")
    s["joint-mue-three-major.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["right knee", "right shoulder"], notes=["Aspirations. No complications."]),
        joint("p2", ["left hip"], start="10:20", end="10:30", notes=["Hip aspiration. No complications."])],
        cls="AMB")
    s["joint-no-site.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", [], notes=["Joint aspiration performed. 10 mL removed. No complications."])],
        cls="AMB")
    s["joint-methylprednisolone-administration.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["right shoulder"], text="Shoulder injection", notes=["No complications."]),
        administration("ma-1", "p1", "Methylprednisolone acetate 40 mg/mL injectable suspension", 80),
        administration("ma-2", "p1", "Lidocaine 1% injection", 2, "mL")], cls="AMB")
    s["joint-drug-without-dose.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["right knee"], notes=["Knee injected with Depo-Medrol. No complications."])],
        cls="AMB")
    s["joint-betamethasone-ml.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["ankle", "left"], notes=["Ankle injection: Celestone Soluspan 1 mL. No "
                                                         "complications."])], cls="AMB")
    s["joint-dexamethasone-and-lidocaine.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["left elbow"], notes=["Elbow injection with 4 mg dexamethasone sodium phosphate "
                                                     "and 1 mL lidocaine. No complications."])], cls="AMB")
    s["joint-aspiration-lidocaine-only.encounter-discharge"] = discharge([
        GOUT, joint("p1", ["right knee"], notes=["Skin anesthetized with 2 mL lidocaine; 25 mL aspirated and "
                                                 "sent for crystals. No complications."])], cls="AMB")
    s["joint-fluoroscopic-guidance.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["left hip"], notes=["Hip injection under fluoroscopic guidance, 40 mg "
                                                  "triamcinolone. Contrast confirmed intra-articular position; "
                                                  "images saved. No complications."]),
        imaging("img-1", "09:58", modality="RF", procedure_id="p1", instances=2)], cls="IMP")
    s["joint-fluoroscopy-no-report.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["left hip"], notes=["Hip injection under fluoroscopic guidance. No complications."]),
        imaging("img-1", "09:58", modality="RF", procedure_id="p1", instances=2)], cls="AMB")
    s["joint-ct-guided-two-joints.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", ["right hip", "right shoulder"], notes=[
            "CT-guided aspiration of two joints; CT images show the needle tip in each joint. No complications."]),
        imaging("img-1", "09:58", modality="CT", procedure_id="p1", instances=12)], cls="AMB")
    s["joint-fingers-us-and-unguided.encounter-discharge"] = discharge([
        GOUT, joint("p1", ["left thumb CMC joint"], notes=[
            "Thumb injection under ultrasound guidance. " + US_REPORT + "10 mg triamcinolone. No complications."]),
        imaging("img-1", "10:01", procedure_id="p1"),
        joint("p2", ["left ring finger PIP joint"], start="10:20", end="10:25",
              notes=["Ring finger aspiration. No complications."])], cls="AMB")
    each = document("note-1", "Bilateral knee injections. 40 mg triamcinolone acetonide into each knee. No "
                    "complications.", ["Procedure/p-right", "Procedure/p-left"])
    s["joint-shared-note-each-knee.note-sign"] = note_sign(each, [
        OA_KNEE, joint("p-right", ["knee", "right"]), joint("p-left", ["knee", "left"], start="10:20", end="10:30"),
        each], cls="AMB")
    split = document("note-1", "Right knee: 40 mg triamcinolone injected. Left knee: aspiration only, 15 mL. No "
                     "complications.", ["Procedure/p-right", "Procedure/p-left"])
    s["joint-shared-note-one-knee-injected.note-sign"] = note_sign(split, [
        OA_KNEE, joint("p-right", ["knee", "right"]), joint("p-left", ["knee", "left"], start="10:20", end="10:30"),
        split], cls="AMB")
    s["joint-site-from-note.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", [], notes=["History of right hip replacement. The left knee was aspirated, 25 mL of "
                                         "clear fluid. No complications."])], cls="AMB")
    s["joint-planned-drug-and-past-site.encounter-discharge"] = discharge([
        OA_KNEE, joint("p1", [], notes=["The left knee was aspirated, 30 mL of cloudy fluid sent for culture. "
                                         "Previous right shoulder injection in 2019 helped. Plan: inject "
                                         "triamcinolone 40 mg at the next visit if cultures are negative. No "
                                         "complications."])], cls="AMB")
    coded = joint("p1", [], text="Injection of joint", notes=["Injection performed. No complications."])
    coded["code"]["coding"] = [{"system": CPT, "code": "20610"}]
    s["joint-cpt-without-site.encounter-discharge"] = discharge([OA_KNEE, coded], cls="AMB")
    s["joint-hip-with-fluoroscopy-order.order-sign"] = order_call("order-sign", [
        dict(order("sr-1", kind=None, side=None, text="Hip joint injection"), bodySite=[{"text": "left hip"}]),
        order("sr-fluoro", kind=None, side=None, cpt="77002", text="Fluoroscopic guidance for needle placement")],
        [OA_KNEE])
    s["joint-knee-with-guidance-order.order-sign"] = order_call("order-sign", [
        dict(order("sr-1", kind=None, side=None, text="Knee joint injection"), bodySite=[{"text": "right knee"}]),
        order("sr-guidance", kind=None, side=None, cpt="76942", text="Ultrasound guidance for needle placement")],
        [OA_KNEE])
    return s


J91 = condition("c-malignant-effusion", "J91.0", "Malignant pleural effusion")
EMPYEMA = condition("c-empyema", "J86.9", "Pyothorax without fistula")
FIB_NOTE = ("Alteplase 10 mg and dornase 5 mg instilled through the right chest tube, clamped for 1 hour. "
            "No complications.")
REMOVAL_NOTE = document("note-1", "Left PleurX catheter: cuff freed, catheter removed. No complications.",
                        ["Procedure/p1"])


def encounter_bundle() -> dict:
    """One encounter for the integration tests: left US-guided thoracentesis, fully documented."""
    pid, eid = "pt-thora-1", "enc-thora-1"
    text = ("Left thoracentesis under ultrasound guidance. Indication: pleural effusion. 900 mL of serous fluid "
            "removed; catheter removed. Specimens sent for cell count and cytology. No complications. "
            "Post-procedure chest x-ray: no pneumothorax.")
    resources = [
        patient(pid),
        encounter("IMP", eid, pid),
        condition("cond-thora-1", "J90", "Pleural effusion, not elsewhere classified", eid=eid, pid=pid),
        condition("cond-thora-2", "R06.02", "Shortness of breath", eid=eid, pid=pid),
        procedure("proc-thora-1", side="left", eid=eid, pid=pid),
        imaging("img-thora-1", "10:02", procedure_id="proc-thora-1", eid=eid, pid=pid),
        volume("obs-thora-1", "proc-thora-1", 900, eid=eid, pid=pid),
        document("doc-thora-1", text, ["Procedure/proc-thora-1"], eid=eid, pid=pid),
        dict(coverage(pid=pid), id="cov-thora-1"),
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r,
         "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}


def course_bundle() -> dict:
    """Two patients for the fetch-mode tests of the fibrinolysis course (issue 13): pt-fib-1 had a first day
    three days before in another encounter; pt-fib-2 had one 20 days before (a new course)."""
    resources: list[dict] = []
    for pid, eid, earlier_eid, earlier_day in (("pt-fib-1", "enc-fib-1", "enc-fib-0", "2024-03-01"),
                                               ("pt-fib-2", "enc-fib-2", "enc-fib-old", "2024-02-13")):
        note = document(f"doc-{eid}", FIB_NOTE, [f"Procedure/proc-{eid}"], eid=eid, pid=pid)
        resources += [
            patient(pid), encounter("IMP", earlier_eid, pid), encounter("IMP", eid, pid),
            condition(f"cond-{eid}", "J86.9", "Pyothorax without fistula", eid=eid, pid=pid),
            procedure(f"proc-{earlier_eid}", day=earlier_day, eid=earlier_eid, pid=pid, notes=[FIB_NOTE],
                      text_only="Intrapleural tPA/DNase"),
            procedure(f"proc-{eid}", eid=eid, pid=pid, text_only="Intrapleural tPA/DNase"), note,
        ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r,
         "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}


def write(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    for name, call in {**scenarios(), **joint_scenarios()}.items():
        write(HERE / "requests" / f"{name}.json", call)
    write(HERE / "fhir" / "encounter-e-thoracentesis.bundle.json", encounter_bundle())
    write(HERE / "fhir" / "fibrinolysis-course.bundle.json", course_bundle())
