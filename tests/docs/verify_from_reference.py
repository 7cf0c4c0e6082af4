#!/usr/bin/env python3
"""Verifies a Cohort run folder from docs/reference/signatures.md alone: no Cohort code.

Checks every model file's digest and signature, every model card, every consent (the sites'
files and the coordinator's table), the coordinator's audit chain and each site's own audit log;
then flips one byte in a copy of each kind of object and checks that the verification fails.
Uses the `cryptography` package and Python's standard library only.

Usage: verify_from_reference.py RUN_FOLDER   (prints one JSON object; exit 0 when everything holds)
"""
import base64
import glob
import hashlib
import json
import os
import sqlite3
import struct
import sys
from decimal import Decimal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


# --- canonical JSON ("Canonical JSON") ---------------------------------------------------------

def js_number(x):
    """ECMAScript Number.prototype.toString of a double, by the rules of the reference."""
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    x = float(x)
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("NaN and infinities do not occur in signed documents")
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number(-x)
    sign, digits, exp = Decimal(repr(x)).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    while len(digits) > 1 and digits[0] == 0:
        digits.pop(0)
    d = "".join(str(c) for c in digits)
    k = len(d)
    n = k + exp  # value = 0.d1...dk x 10^n
    if k <= n <= 21:
        return d + "0" * (n - k)
    if 0 < n < k:
        return d[:n] + "." + d[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + d
    e = n - 1
    mant = d[0] + ("." + d[1:] if k > 1 else "")
    return mant + "e" + ("+" if e > 0 else "-") + str(abs(e))


def canonical(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return js_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda s: s.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v[k]) for k in keys) + "}"
    raise TypeError(f"not JSON: {type(v)}")


def canonical_bytes(v):
    return canonical(v).encode("utf-8")


def content_hash(v):
    return hashlib.sha256(canonical_bytes(v)).hexdigest()


# --- keys ("Public keys: where to find them") ---------------------------------------------------

def fingerprint(raw):
    h = hashlib.sha256(raw).hexdigest()[:32]
    return ":".join(h[i:i + 4] for i in range(0, 32, 4))


def key_of(b64, expected_fingerprint=None):
    raw = base64.b64decode(b64)
    assert len(raw) == 32, "a signing key is 32 bytes"
    if expected_fingerprint is not None:
        assert fingerprint(raw) == expected_fingerprint, "fingerprint does not match the key"
    return Ed25519PublicKey.from_public_bytes(raw)


def signed(key, signature_b64, message):
    try:
        sig = base64.b64decode(signature_b64, validate=True)
        if len(sig) != 64:
            return False
        key.verify(sig, message)
        return True
    except (InvalidSignature, ValueError):
        return False


# --- model files ("Model files and their signature") -------------------------------------------

def model_problem(frame, federation, version, signature_b64, coordinator_key, expected_digest=None, expected_spec_hash=None):
    """None if the frame is the signed model, else what is wrong."""
    if len(frame) < 12 + 32 or frame[:4] != b"COHT" or frame[4] != 1 or frame[5:8] != b"\0\0\0":
        return "not a frame"
    (h,) = struct.unpack_from("<I", frame, 8)
    if 12 + h + 32 > len(frame):
        return "header length out of bounds"
    digest = hashlib.sha256(frame[:-32]).hexdigest()
    if digest != frame[-32:].hex():
        return "trailer is not the SHA-256 of the rest"
    try:
        header = json.loads(frame[12:12 + h].decode("utf-8"))
        data_bytes = 4 * sum(_product(t["shape"]) for t in header["tensors"])
        spec_hash = content_hash(header["meta"]["spec"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return "header is not a codec header with meta.spec"
    if 12 + h + data_bytes + 32 != len(frame):
        return "frame length does not match its tensors"
    if expected_digest is not None and digest != expected_digest:
        return "digest differs from the recorded one"
    if expected_spec_hash is not None and spec_hash != expected_spec_hash:
        return "spec hash differs from the recorded one"
    fed = federation.encode("utf-8")
    message = b"cohort/model/v1" + struct.pack("<I", len(fed)) + fed + struct.pack("<I", version) + bytes.fromhex(spec_hash) + bytes.fromhex(digest)
    if not signed(coordinator_key, signature_b64, message):
        return "signature does not verify"
    return None


def _product(shape):
    p = 1
    for s in shape:
        p *= s
    return p


# --- audit ("The audit trail") -----------------------------------------------------------------

def row_body(row):
    _id, ts, federation, kind, actor, subject, data = row[:7]
    return canonical({"seq": _id, "ts": ts, "federation": federation, "kind": kind, "actor": actor, "subject": subject, "data": json.loads(data)})


def chain_problem(entries, key):
    """entries: (seq, prevHash, body, hash, signature) in order. None if intact."""
    prev = "0" * 64
    for k, (seq, prev_hash, body, h, sig) in enumerate(entries, start=1):
        if seq != k:
            return f"entry {k}: seq {seq}"
        if prev_hash != prev:
            return f"entry {k}: previous hash"
        if hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest() != h:
            return f"entry {k}: hash"
        if not signed(key, sig, bytes.fromhex(h)):
            return f"entry {k}: signature"
        prev = h
    return None


def flip(b, at):
    b = bytearray(b)
    b[at] ^= 0x01
    return bytes(b)


def flip_text(s, at):
    """Changes one character of a text (one byte of its ASCII), keeping it printable."""
    c = s[at]
    return s[:at] + ("1" if c == "0" else "0" if c.isdigit() else chr(ord(c) ^ 0x01)) + s[at + 1:]


def main(run):
    report = {"models": 0, "cards": 0, "consents": 0, "auditEvents": 0, "siteLogEvents": 0, "tamperDetected": {}}
    fail = []
    coord_pub = json.load(open(os.path.join(run, "keys", "coordinator.pub.json")))
    coord = key_of(coord_pub["signPublicKey"], coord_pub["fingerprint"])
    db = sqlite3.connect(os.path.join(run, "coordinator.db"))
    inst_keys = {}
    for fed, iid, sk, fp in db.execute("select federation_id, id, sign_public_key, fingerprint from institutions"):
        inst_keys[(fed, iid)] = key_of(sk, fp)

    # Models: every stored version, against its file; cards beside them.
    models = db.execute("select federation_id, version, digest, spec_hash, signature, path, card, card_signature from models order by version").fetchall()
    for fed, version, digest, spec_hash, sig, path, card, card_sig in models:
        frame = open(os.path.join(run, path), "rb").read()
        p = model_problem(frame, fed, version, sig, coord, digest, spec_hash)
        if p:
            fail.append(f"{path}: {p}")
        report["models"] += 1
        card_path = os.path.join(run, path[: -len(".cohort")] + ".card.json")
        if os.path.exists(card_path):
            doc = json.load(open(card_path))
            if not signed(coord, doc["signature"], canonical_bytes(doc["card"])):
                fail.append(f"{card_path}: card signature")
            m = doc["card"]["model"]
            if (m["digest"], m["specHash"], m["signature"]) != (digest, spec_hash, sig):
                fail.append(f"{card_path}: card names another model")
            if card is None or not signed(coord, card_sig, canonical_bytes(json.loads(card))):
                fail.append(f"models row v{version}: card signature")
            report["cards"] += 1

    # Consents: the sites' files and the coordinator's table.
    fed_of = {}
    for path in sorted(glob.glob(os.path.join(run, "sites", "*", "consent.json"))):
        c = json.load(open(path))
        key = inst_keys[(c["body"]["federation"], c["body"]["institution"])]
        if not signed(key, c["signature"], canonical_bytes(c["body"])):
            fail.append(f"{path}: consent signature")
        fed_of[c["body"]["institution"]] = c["body"]["federation"]
        report["consents"] += 1
    report["revocations"] = 0
    for fed, inst, body, sig, chash, revocation in db.execute("select federation_id, institution_id, body, signature, consent_hash, revocation from consents"):
        body = json.loads(body)
        if not signed(inst_keys[(fed, inst)], sig, canonical_bytes(body)):
            fail.append(f"consents row {inst}: signature")
        if content_hash({"body": body, "signature": sig}) != chash:
            fail.append(f"consents row {inst}: consent_hash")
        report["consents"] += 1
        if revocation is not None:
            r = json.loads(revocation)
            if not signed(inst_keys[(fed, inst)], r["signature"], canonical_bytes(r["body"])) or r["body"]["consentHash"] != chash:
                fail.append(f"consents row {inst}: revocation")
            report["revocations"] += 1

    # The coordinator's audit chain, built from the table's rows.
    rows = db.execute("select id, ts, federation_id, kind, actor, subject, data, prev_hash, hash, signature from audit order by id").fetchall()
    entries = [(r[0], r[7], row_body(r), r[8], r[9]) for r in rows]
    for r, e in zip(rows, entries):  # the spliced form gives the same bytes
        spliced = canonical({"seq": r[0], "ts": r[1], "federation": r[2], "kind": r[3], "actor": r[4], "subject": r[5], "data": None}).replace('"data":null', '"data":' + r[6], 1)
        if spliced != e[2]:
            fail.append(f"audit #{r[0]}: spliced body differs")
    p = chain_problem(entries, coord)
    if p:
        fail.append(f"audit table: {p}")
    report["auditEvents"] = len(entries)

    # Each site's own log, signed with its key.
    for path in sorted(glob.glob(os.path.join(run, "sites", "*", "audit.jsonl"))):
        inst = os.path.basename(os.path.dirname(path))
        lines = [json.loads(x) for x in open(path, encoding="utf-8") if x.strip()]
        p = chain_problem([(x["seq"], x["prevHash"], x["body"], x["hash"], x["signature"]) for x in lines], inst_keys[(fed_of[inst], inst)])
        if p:
            fail.append(f"{path}: {p}")
        report["siteLogEvents"] += len(lines)

    # One flipped byte in a copy of each: every one must be caught.
    t = report["tamperDetected"]
    fed, version, digest, spec_hash, sig, path = models[-1][:6]
    frame = open(os.path.join(run, path), "rb").read()
    t["modelData"] = model_problem(flip(frame, len(frame) - 40), fed, version, sig, coord) is not None
    t["modelTrailer"] = model_problem(flip(frame, len(frame) - 1), fed, version, sig, coord) is not None
    t["modelHeader"] = model_problem(flip(frame, 14), fed, version, sig, coord) is not None
    bad_sig = base64.b64encode(flip(base64.b64decode(sig), 10)).decode()
    t["modelSignature"] = model_problem(frame, fed, version, bad_sig, coord) is not None
    t["modelOtherVersion"] = model_problem(frame, fed, version + 1, sig, coord) is not None
    doc = json.load(open(os.path.join(run, path[: -len(".cohort")] + ".card.json")))
    text = canonical(doc["card"])
    t["card"] = not signed(coord, doc["signature"], flip_text(text, text.index('"samples":') + 10).encode("utf-8"))
    c = json.load(open(sorted(glob.glob(os.path.join(run, "sites", "*", "consent.json")))[0]))
    text = canonical(c["body"])
    key = inst_keys[(c["body"]["federation"], c["body"]["institution"])]
    t["consent"] = not signed(key, c["signature"], flip_text(text, text.index("training")).encode("utf-8"))
    mid = len(rows) // 2
    r = list(rows[mid])
    r[6] = flip_text(r[6], len(r[6]) // 2)
    edited = entries[:mid] + [(r[0], r[7], row_body(r) if _is_json(r[6]) else r[6], r[8], r[9])] + entries[mid + 1:]
    t["auditData"] = chain_problem(edited, coord) is not None
    e = entries[mid]
    t["auditSignature"] = chain_problem(entries[:mid] + [(e[0], e[1], e[2], e[3], base64.b64encode(flip(base64.b64decode(e[4]), 0)).decode())] + entries[mid + 1:], coord) is not None
    t["auditRemoved"] = chain_problem(entries[:mid] + entries[mid + 1:], coord) is not None
    for name, caught in t.items():
        if not caught:
            fail.append(f"tampering not detected: {name}")

    report["ok"] = not fail
    report["failures"] = fail
    print(json.dumps(report))
    return 0 if not fail else 1


def _is_json(s):
    try:
        json.loads(s)
        return True
    except ValueError:
        return False


if __name__ == "__main__":
    if "--canonical" in sys.argv:  # reads JSON lines, prints each one's canonical JSON (for the number-format test)
        for line in sys.stdin:
            if line.strip():
                print(canonical(json.loads(line)))
        sys.exit(0)
    sys.exit(main(sys.argv[1]))
