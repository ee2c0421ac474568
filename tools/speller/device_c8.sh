#!/bin/bash
# Ninth GPU call (session 7): C6 continued on "cognitive" noise (noise.py PROFILES:
# 1/2/3 edits at 90/9/1%, per-edit mix phonetic 0.30, vowel 0.22, double 0.20,
# delete 0.10, transpose 0.08, sub_key 0.05, insert 0.05; space errors and the clean
# share unchanged), alone on the one GPU for one full round: seed 9, data tag R9 (a
# noise stream no earlier round used), the same lr schedule as C6's, C7's and G8's
# rounds (peak 5e-4, 100 warm-up steps, cosine to 5%), batch 4096 in one piece.
# C6's architecture (6 encoder + 2 decoder layers, d_ff 640; --init's architecture wins).
# Writes $OUT/C8.tar (every 60 s and at the end; split into parts under the 16 MiB limit
# on returned files), $OUT/C8.log and $OUT/gpu.txt. Reassemble here:
#   cat C8.tar.part* > C8.tar && tar -xf C8.tar    (-> C8/)
#   carry: tools/out/speller/{words.tsv.gz,lex.json.gz,block.txt.gz,heldout.txt,spiece.model}
#          and tools/out/speller/runs6/C6
set -u
NAME=${NAME:-C8}
MIN=${MIN:-8.5}
INIT=${INIT:-tools/out/speller/runs6/C6}
SEED=${SEED:-9}
TAG=${TAG:-R9}
LR=${LR:-5e-4}          # C6's, C7's and G8's peak lr
WORKERS=${WORKERS:-14}  # 14 data workers + the training process on 16 cores
LIMIT=${LIMIT:-570}     # seconds, so the tar is in $OUT before the call's 600 s
ACCUM=${ACCUM:-1}       # batch 4096 in one piece
PROFILE=${PROFILE:-cognitive}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
    | tee -a "$OUT/gpu.txt"
( sleep 90; nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv >> "$OUT/gpu.txt" 2>&1;
  sleep 240; nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv >> "$OUT/gpu.txt" 2>&1 ) >/dev/null 2>&1 &

timeout -k 5 "$LIMIT" python3 tools/speller/train.py --name "$NAME" --init "$INIT" --tok spm \
    --layers 6 --dec-layers 2 --data tools/out/speller --out "$OUT" --minutes "$MIN" \
    --batch 4096 --accum "$ACCUM" --lr "$LR" --warmup 100 --workers "$WORKERS" --save-every 60 --eval-n 300 \
    --log-every 100 --seed "$SEED" --data-tag "$TAG" --noise-profile "$PROFILE" \
    --work "/tmp/speller_work_$NAME" 2>&1 \
    | grep --line-buffered -v "Writing model\|Loading weights" > "$OUT/$NAME.log"
echo "$NAME exit ${PIPESTATUS[0]}" | tee -a "$OUT/$NAME.log"
rm -f "$OUT"/*.tmp
if [ -f "$OUT/$NAME.tar" ]; then
    split -b 15m -d "$OUT/$NAME.tar" "$OUT/$NAME.tar.part" && rm "$OUT/$NAME.tar"
fi
ls -l "$OUT"
tail -n 4 "$OUT/$NAME.log"
