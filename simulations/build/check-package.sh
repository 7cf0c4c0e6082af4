#!/usr/bin/env bash
# `npm run check:package`: what a new site does, on this machine: pack Cohort, install the tarball globally into an empty
# prefix (packages from npm's cache when present), and use `cohort` from a folder outside the clone. Run by .ci/run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
npm pack --silent --pack-destination "$work" > /dev/null
tarball=$(ls "$work"/cohort-*.tgz)
echo "packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"
npm install -g --prefix "$work/prefix" --prefer-offline --no-audit --no-fund --loglevel=error "$tarball" > /dev/null
export PATH="$work/prefix/bin:$PATH"
mkdir "$work/site" && cd "$work/site"
start=$(date +%s%N)
cohort --help > /dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "cohort --help from the installed package: ${ms} ms"
[ "$ms" -lt 3000 ] || { echo "cohort --help took ${ms} ms: the installed package is not running the compiled build" >&2; exit 1; }
cohort keys generate --id site-a --out keys > /dev/null
cohort simulate --institutions 2 --rounds 1 --model logreg --local-epochs 1 --out run > /dev/null
cohort model verify run/models/simulation/v1.cohort --key run/keys/coordinator.pub.json | tail -1
# Predictions run in the model runner's worker thread: its compiled file must ship beside the runner.
node -e "const n = 784; process.stdout.write(Array.from({ length: n }, (_, i) => 'p' + i).join(',') + '\\n' + Array.from({ length: n }, (_, i) => (i % 13) / 13).join(',') + '\\n')" > digits.csv
cohort predict --model run/models/simulation/v1.cohort --key run/keys/coordinator.pub.json --data digits.csv | tail -1
cohort model inspect run/models/simulation/v1.cohort --key run/keys/coordinator.pub.json | tail -1
cohort audit verify --data-dir run --key run/keys/coordinator.pub.json
cohort backup --data-dir run --out backup > /dev/null
cohort restore --from backup --data-dir restored --key run/keys/coordinator.pub.json | tail -1
echo "package check passed"
