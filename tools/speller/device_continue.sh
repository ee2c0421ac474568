#!/bin/bash
# Second GPU call: continues the chosen architecture (C: SentencePiece 4k,
# 6 encoder + 2 decoder layers) alone on the GPU from the first call's
# checkpoint, with a 4x larger batch (the first call was launch-bound with
# three runs sharing the card) and a fresh warm-up + cosine schedule.
#   carry: the first call's data files and tools/out/speller/runs1/C
set -u
MIN=${MIN:-3.0}
INIT=${INIT:-tools/out/speller/runs1/C}   # a later round: INIT=tools/out/speller/runs2/C2 NAME=C3
NAME=${NAME:-C2}
SEED=${SEED:-2}   # give a later round another seed: its noise stream differs
LR=${LR:-1.5e-3}  # peak lr; calls 4/5 (C4 from C3, C5 from C4) used 1e-3 / 7e-4: continuing a converged model
WORKERS=${WORKERS:-12}  # DataLoader workers (16 cores there; calls 4-5 used 14: no faster than 12)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null
python3 tools/speller/train.py --name "$NAME" --init "$INIT" --tok spm \
    --layers 6 --dec-layers 2 --data tools/out/speller --out "$OUT" --minutes "$MIN" \
    --batch 4096 --lr "$LR" --warmup 100 --workers "$WORKERS" --save-every 60 --eval-n 300 \
    --log-every 100 --seed "$SEED" 2>&1 | grep -v "Writing model" | tee "$OUT/$NAME.log"
