#!/usr/bin/env bash
# Prepares ./cohort-demo for compose.yaml and starts it: keys for a coordinator and three sites, the coordinator, an
# auditor token, each site's consent to the coordinator's study, and each site's agent file; then the agents.
# Run from the repository root after `docker build -f docs/deploy/Dockerfile -t cohort .` (needs root for chown).
set -euo pipefail
demo=cohort-demo
compose=(docker compose -f docs/deploy/compose.yaml)
cohort=(docker run --rm -u 10001:10001 -v "$PWD/$demo:/work" -w /work --network host cohort)
mkdir -p "$demo"/{coordinator,site-a,site-b,site-c}
for id in coordinator site-a site-b site-c; do mkdir -p "$demo/keys/$id"; done
chown -R 10001:10001 "$demo"
for id in coordinator site-a site-b site-c; do "${cohort[@]}" keys generate --id "$id" --out "keys/$id"; done
# Each party's public key travels to the other side (here: copied between folders).
for site in site-a site-b site-c; do cp "$demo/keys/$site/$site.pub.json" "$demo/keys/coordinator/"; cp "$demo/keys/coordinator/coordinator.pub.json" "$demo/keys/$site/"; done
"${compose[@]}" up -d coordinator
until curl -fsS http://127.0.0.1:7400/readyz > /dev/null; do sleep 1; done
token=$("${compose[@]}" exec -T coordinator cohort tokens create --role auditor --label compose-demo --data-dir /data --key /keys/coordinator.key.json | grep -o 'cohort_[A-Za-z0-9_-]*')
n=0
for site in site-a site-b site-c; do
  n=$((n + 1))
  "${cohort[@]}" consent grant --key "keys/$site/$site.key.json" --study http://127.0.0.1:7400/api/federations/demo/study --token "$token" \
    --ethics-ref "IRB-demo-$site" --expires 2099-12-31 --min-others 1 --out "$site/consent.json"
  cat > "$demo/$site/agent.json" <<JSON
{ "coordinator": "http://coordinator:7400", "coordinatorKey": "/keys/coordinator.pub.json", "federation": "demo",
  "key": "/keys/$site.key.json", "data": "mnist:$n/3", "consent": "consent.json", "auditLog": "audit.jsonl" }
JSON
done
chown -R 10001:10001 "$demo"
"${compose[@]}" up -d site-a site-b site-c
echo "federation running: docker compose -f docs/deploy/compose.yaml logs -f"
