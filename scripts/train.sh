#!/usr/bin/env bash
# Installs everything into .venv and runs the main job: JSRL training with its default config.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
jsrl_bringup --graph grasping_sim --guide scripted --learner qtopt --headless --out runs/main --duration 180 "$@"
