#!/usr/bin/env bash
# Rebuilds the embedded model from scratch with fixed seeds: corpus, tokenizer,
# target, draft, GGUF export, held-out evaluation. Run from the repository root
# after `npm ci`. PYTHON defaults to Debian's python3 (training/setup.sh
# installs its torch); a faster torch build in a virtual environment gives the
# same kind of model sooner (models/README.md names the one used).
#
# Steps and their run time on 2 shared CPU cores (one training thread):
#   build_data.py    about 1.5 min
#   train_target.py  about 65 min (3000 steps of 4096 tokens)
#   train_draft.py   about 20 min
#   evaluate.ts      a few minutes
set -euo pipefail
PYTHON=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-1}

"$PYTHON" training/build_data.py --seed 1 --train 150000 --heldout 1000 --calibrate 400 --vocab 1024
"$PYTHON" training/train_target.py --seed 1 --steps 3000 --threads "$THREADS"
"$PYTHON" training/train_draft.py --seed 2 --steps "${DRAFT_STEPS:-400}" --threads "$THREADS"
"$PYTHON" training/export_gguf.py --type f16
node --import tsx training/evaluate.ts --model models/pytrace-target.gguf --draft models/pytrace-draft.gguf
