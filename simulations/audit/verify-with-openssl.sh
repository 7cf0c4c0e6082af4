#!/usr/bin/env bash
# Verifies a Cohort audit export with no Cohort code: python3 (hashlib, json) for the chain, OpenSSL's
# Ed25519 for the signatures. Usage: verify-with-openssl.sh EXPORT.jsonl COORDINATOR.pub.json
set -euo pipefail
export_file=$1
pub_file=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The coordinator's raw 32-byte Ed25519 key as a PEM public key (RFC 8410 prefix 302a300506032b6570032100).
python3 - "$pub_file" > "$work/pub.pem" <<'PY'
import base64, json, sys
raw = base64.b64decode(json.load(open(sys.argv[1]))["signPublicKey"])
der = bytes.fromhex("302a300506032b6570032100") + raw
print("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----")
PY

# Check each link (hash = SHA-256(prevHash hex || body)) and write the hash and signature of each event to files.
python3 - "$export_file" "$work" <<'PY'
import base64, hashlib, json, sys
prev, seq = "0" * 64, 0
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), start=1):
    if not line.strip():
        continue
    e = json.loads(line)
    seq += 1
    if e["seq"] != seq or json.loads(e["body"])["seq"] != seq:
        sys.exit(f"line {n}: event #{e['seq']} where #{seq} was expected (removed, inserted or reordered)")
    if e["prevHash"] != prev:
        sys.exit(f"line {n}: event #{seq} does not link to the previous event")
    h = hashlib.sha256((e["prevHash"] + e["body"]).encode("utf-8")).hexdigest()
    if h != e["hash"]:
        sys.exit(f"line {n}: event #{seq} was edited (its content hashes to {h[:12]}, the chain says {e['hash'][:12]})")
    open(f"{sys.argv[2]}/{seq}.hash", "wb").write(bytes.fromhex(h))
    open(f"{sys.argv[2]}/{seq}.sig", "wb").write(base64.b64decode(e["signature"]))
    prev = h
open(f"{sys.argv[2]}/count", "w").write(str(seq))
PY

count=$(cat "$work/count")
for ((i = 1; i <= count; i++)); do
  if ! openssl pkeyutl -verify -pubin -inkey "$work/pub.pem" -rawin -in "$work/$i.hash" -sigfile "$work/$i.sig" >/dev/null 2>&1; then
    echo "event #$i: the signature does not verify with the coordinator key" >&2
    exit 1
  fi
done
echo "OK: $count events, chain intact, every signature verified by OpenSSL"
