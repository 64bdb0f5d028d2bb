#!/usr/bin/env bash
# The benchmark command (`npm run bench`): starts what the benchmarks need, builds, then runs bench/run.ts (through
# tsx), which writes docs/benchmarks.md and docs/benchmarks.svg. Arguments go to bench/run.ts, e.g.
# `npm run bench -- w1 --seconds=20 --w1-sizes=100`. Needs `npm ci` first (BullMQ and tsx are dev dependencies).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# MariaDB, Redis and etcd on loopback, as for the tests (installed from Debian's packages when missing).
GOCRON_TEST_NO_BROWSER=1 scripts/test-services.sh
# shellcheck source=/dev/null
source "${GOCRON_TEST_STATE:-/tmp/gocron-test-services}/env"

npm run build
exec node --import tsx bench/run.ts "$@"
