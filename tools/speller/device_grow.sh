#!/bin/bash
# Seventh GPU call: does more capacity beat plain continuation? Two runs side by
# side on the one GPU, for the same minutes, on the same noise stream (seed 7,
# data tag R7: the same pairs in the same order) and the same lr schedule:
#   C7 = C6 continued as it is (d_ff 640, 7.6 M params);
#   G7 = C6 grown to d_ff 1280 (train.py --grow-d-ff: new wo columns zero, so G7
#        starts as exactly C6's function; 11.5 M params, 23.1 MB fp16), continued.
# Each run writes $OUT/NAME.tar (every 60 s and at the end) and $OUT/NAME.log; G7's
# tar (~22 MiB) is split into parts under the 16 MiB limit on returned files:
#   cat G7.tar.part* > G7.tar
#   carry: tools/out/speller/{words.tsv.gz,lex.json.gz,block.txt.gz,heldout.txt,spiece.model}
#          and tools/out/speller/runs6/C6
set -u
MIN=${MIN:-7.5}
INIT=${INIT:-tools/out/speller/runs6/C6}
SEED=${SEED:-7}
LR=${LR:-5e-4}          # C6's peak lr
WORKERS=${WORKERS:-7}   # per run: 2 x 7 data workers + 2 training processes on 16 cores
GROW=${GROW:-1280}
LIMIT=${LIMIT:-570}     # seconds per run, so both tars are in $OUT before the call's 600 s
ACCUM=${ACCUM:-2}       # micro-batches of 2048: the first try (batch 4096 in one piece) ran C7 out
                        # of memory beside G7 on an 80 GB H100 (C7 26 GiB + G7 53 GiB in use)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
    | tee -a "$OUT/gpu.txt"
( sleep 90; nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv >> "$OUT/gpu.txt" 2>&1;
  sleep 240; nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv >> "$OUT/gpu.txt" 2>&1 ) >/dev/null 2>&1 &

train() {   # NAME, extra args
    local name=$1; shift
    timeout -k 5 "$LIMIT" python3 tools/speller/train.py --name "$name" --init "$INIT" --tok spm \
        --layers 6 --dec-layers 2 --data tools/out/speller --out "$OUT" --minutes "$MIN" \
        --batch 4096 --accum "$ACCUM" --lr "$LR" --warmup 100 --workers "$WORKERS" --save-every 60 --eval-n 300 \
        --log-every 100 --seed "$SEED" --data-tag R7 --work "/tmp/speller_work_$name" "$@" 2>&1 \
        | grep --line-buffered -v "Writing model\|Loading weights" > "$OUT/$name.log"
    echo "$name exit ${PIPESTATUS[0]}" | tee -a "$OUT/$name.log"
}
train C7 & c7=$!
train G7 --grow-d-ff "$GROW" & g7=$!
wait $c7 $g7
rm -f "$OUT"/*.tmp
if [ -f "$OUT/G7.tar" ]; then
    split -b 15m -d "$OUT/G7.tar" "$OUT/G7.tar.part" && rm "$OUT/G7.tar"
fi
ls -l "$OUT"
tail -n 4 "$OUT/C7.log" "$OUT/G7.log"
