#!/usr/bin/env bash
# Installs everything into .venv and runs the main job: JSRL training with its default config.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
jsrl train --config config/lock_train.yaml --out runs/main "$@"
