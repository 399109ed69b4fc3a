#!/usr/bin/env bash
# Installs what training/ needs from Debian's packages: PyTorch, OpenBLAS's
# threaded build (without it torch's matrix products are about 30x slower
# here), numpy and regex. Nothing is pip-downloaded.
set -euo pipefail

PYTHON=/usr/bin/python3
if "$PYTHON" -c 'import torch, numpy, regex' 2>/dev/null; then
  echo "training/setup.sh: torch, numpy and regex already importable by $PYTHON"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "training/setup.sh: run as root, or install python3-torch libopenblas0-pthread python3-numpy python3-regex yourself" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread python3-numpy python3-regex >/dev/null
"$PYTHON" -c 'import torch; print("training/setup.sh: torch", torch.__version__)'
