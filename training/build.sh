#!/usr/bin/env bash
# Rebuilds the embedded model from scratch with fixed seeds: corpus, tokenizer,
# target, draft, GGUF export, held-out evaluation. Run from the repository root
# after `npm ci`. PYTHON defaults to Debian's python3 (training/setup.sh
# installs its torch); a faster torch build in a virtual environment gives the
# same kind of model sooner (models/README.md names the one used).
#
# The draft is trained the way the shipped one was, to fit the time a session
# had: 300 steps against the target checkpoint at step 1257, taken while the
# target went on training, then 200 steps against the finished target.
#
# Run time on 2 shared CPU cores:
#   build_data.py        about 1.5 min, then 0.5 and 0.5 min
#   train_target.py      about 61 min (3000 steps of 4096 tokens, one thread)
#                        plus 88 min (8500 more steps, two threads)
#                        plus 51 and 41 min (5000 and 4000 steps, two threads)
#   train_draft.py       about 16 + 5 + 6 + 5 + 3 min
#   export, evaluation   a few minutes
set -euo pipefail
PYTHON=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-1}
OUT=training/out

"$PYTHON" training/build_data.py --seed 1 --train 150000 --heldout 1000 --calibrate 2000 --vocab 1024 --no-read-lists

"$PYTHON" training/train_target.py --seed 1 --steps 3000 --stop-after 1257 --threads "$THREADS"
mkdir -p "$OUT/early"
cp "$OUT/target.pt" "$OUT/tokenizer.json" "$OUT/early/"
for f in train_tokens.npy train_offsets.npy train_loss_start.npy; do ln -sf "../$f" "$OUT/early/$f"; done
"$PYTHON" training/train_target.py --seed 1 --steps 3000 --resume --threads "$THREADS" &
"$PYTHON" training/train_draft.py --out "$OUT/early" --seed 2 --steps 300 --threads "$THREADS"
wait

"$PYTHON" training/train_draft.py --seed 2 --init "$OUT/early/draft.pt" --steps 200 --threads "$THREADS"

# Second run: the target goes on through the rest of its corpus under a new
# cosine schedule with a peak of 1e-3, keeping its optimizer state. That run
# was stopped at step 4456 and resumed with a shorter schedule. Both calls stay,
# so a rebuild takes the same path. The draft then adapts to the changed target.
"$PYTHON" training/train_target.py --seed 1 --resume --steps 13000 --lr 1e-3 --stop-after 4456 --threads "$THREADS"
"$PYTHON" training/train_target.py --seed 1 --resume --steps 11500 --lr 1e-3 --threads "$THREADS"
"$PYTHON" training/train_draft.py --seed 2 --init "$OUT/draft.pt" --steps 400 --threads "$THREADS"

# Third run, on a second corpus. Its updates traces name each value they read
# before substituting ("It reads count = 6, z = 1, so ..."), and updates
# examples are drawn about three times as often. It keeps the tokenizer and
# excludes the same held-out programs. The target starts from the
# second run's weights with a fresh optimizer and schedule; the draft adapts.
FT=$OUT/ft
"$PYTHON" training/build_data.py --out "$FT" --data "$FT" --seed 3 --heldout-seed 1001 --train 80000 --calibrate 0 \
  --tokenizer "$OUT/tokenizer.json" --weights updates=4
"$PYTHON" training/train_target.py --out "$FT" --init "$OUT/target.pt" --steps 5000 --lr 5e-4 --warmup 100 --seed 3 --threads "$THREADS"
"$PYTHON" training/train_draft.py --out "$FT" --init "$OUT/draft.pt" --seed 2 --steps 300 --threads "$THREADS"

# Fourth run: the same recipe once more on a third corpus, with updates drawn
# about twice as often and a lower peak learning rate.
FT2=$OUT/ft2
"$PYTHON" training/build_data.py --out "$FT2" --data "$FT2" --seed 4 --heldout-seed 1001 --train 60000 --calibrate 0 \
  --tokenizer "$OUT/tokenizer.json" --weights updates=2.5
"$PYTHON" training/train_target.py --out "$FT2" --init "$FT/target.pt" --steps 4000 --lr 3e-4 --warmup 100 --seed 4 --threads "$THREADS"
"$PYTHON" training/train_draft.py --out "$FT2" --init "$FT/draft.pt" --seed 2 --steps 200 --threads "$THREADS"

"$PYTHON" training/export_gguf.py --out "$FT2" --type f16
node --import tsx training/evaluate.ts --model models/pytrace-target.gguf --draft models/pytrace-draft.gguf
