#!/usr/bin/env bash
# Creates .venv (if needed), installs the pinned dependencies and this package (non-editable,
# so launch/, config/ and the ament index marker land in the venv's share/), and prints the
# environment to source. Sourced by scripts/train.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${JSRL_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
pip_quiet() {  # the machine's pip config names index folders that may not exist: hide those warnings
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v 'is ignored: it is neither' >&2)
}
pip_quiet -r requirements.txt
pip_quiet --no-deps --no-build-isolation --force-reinstall .
rm -rf build ./*.egg-info
export VIRTUAL_ENV="$(cd "$VENV" && pwd)"
export PATH="$VIRTUAL_ENV/bin:$PATH"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export PYTHONUNBUFFERED=1
