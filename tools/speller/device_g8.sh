#!/bin/bash
# Eighth GPU call (session 6): the grown model alone on the GPU for one full round.
# G8 = G7 (C6 grown to d_ff 1280, 11.5 M params, 23.1 MB fp16; trained only 4.7 M
# samples in session 5 beside C7) continued alone on the one GPU: seed 8, data tag R8
# (a noise stream no earlier round used), the same lr schedule as before (peak 5e-4,
# 100 warm-up steps, cosine to 5%), batch 4096 in one piece (ACCUM=1; alone it fits).
# No --grow-d-ff: G7 is already grown (--init's architecture wins).
# Writes $OUT/G8.tar (every 60 s and at the end; split into parts under the 16 MiB limit
# on returned files), $OUT/G8.log and $OUT/gpu.txt. Reassemble here:
#   cat G8.tar.part* > G8.tar && tar -xf G8.tar    (-> G8/)
#   carry: tools/out/speller/{words.tsv.gz,lex.json.gz,block.txt.gz,heldout.txt,spiece.model}
#          and tools/out/speller/runs7/G7
set -u
NAME=${NAME:-G8}
MIN=${MIN:-8.5}
INIT=${INIT:-tools/out/speller/runs7/G7}
SEED=${SEED:-8}
TAG=${TAG:-R8}
LR=${LR:-5e-4}          # C6's and G7's peak lr
WORKERS=${WORKERS:-14}  # 14 data workers + the training process on 16 cores
LIMIT=${LIMIT:-570}     # seconds, so the tar is in $OUT before the call's 600 s
ACCUM=${ACCUM:-1}       # batch 4096 in one piece (G7 used 2 beside C7)
PROFILE=${PROFILE:-default}  # train.py --noise-profile (device_c8.sh: cognitive)
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
