#!/usr/bin/env bash
# The project's test command (`npm test`): starts the loopback services, builds the
# apps, then runs the unit, integration and end-to-end suites. Dependencies must be
# installed already (`npm ci`). Extra arguments go to every jest run, e.g.
# `npm test -- --verbose` or `npm test -- config` (with arguments, a config whose
# tests all are filtered out passes instead of failing on "no tests found").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/test-services.sh
# shellcheck source=/dev/null
source "${GOCRON_TEST_STATE:-/tmp/gocron-test-services}/env"

npm run build
npm run lint
npm run typecheck

extra=("$@")
if [ "$#" -gt 0 ]; then extra+=(--passWithNoTests); fi

npx jest --ci --config jest.unit.config.js "${extra[@]}"
npx jest --ci --config jest.int.config.js --runInBand "${extra[@]}"
npx jest --ci --config jest.e2e.config.js --runInBand "${extra[@]}"
