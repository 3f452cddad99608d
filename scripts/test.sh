#!/usr/bin/env bash
# Installs everything into .venv and runs the whole test suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
python -m pytest test "$@"
