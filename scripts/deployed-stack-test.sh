#!/usr/bin/env bash
# The deployed-stack test: template.yaml deployed with `sam deploy` into
# ministack and driven there (scripts/deployed_stack_test.py says how).
# ministack from scripts/ministack.sh (its own, stopped afterwards, unless one
# is running already), the SAM tool chain from scripts/sam.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/ministack.sh test scripts/sam.sh run python3 scripts/deployed_stack_test.py
