#!/bin/bash
# One GPU call that trains the candidate architectures side by side on one GPU
# (each run is launch-bound, so three processes share the card well) for the
# same wall-clock budget, then prints each one's quick evaluation.
#   run: bash tools/speller/device_train.sh   (with $OUT set; MIN, BATCH, WORKERS optional)
# carry: tools/out/speller/{words.tsv.gz,lex.json.gz,block.txt.gz,heldout.txt,spiece.model}
set -u
MIN=${MIN:-7.3}
BATCH=${BATCH:-1024}
WORKERS=${WORKERS:-4}
EVAL_N=${EVAL_N:-1000}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
D=tools/out/speller
nvidia-smi --query-gpu=name,memory.total,utilization.gpu --format=csv 2>/dev/null
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
common="--data $D --out $OUT --minutes $MIN --batch $BATCH --workers $WORKERS --eval-n $EVAL_N"
# A: SentencePiece 4k, 4+4 layers          B: bytes (ByT5-style), 4+4 layers
# C: SentencePiece 4k, 6 encoder + 2 decoder layers (cheaper decode steps)
python3 tools/speller/train.py --name A --tok spm  --layers 4 --dec-layers 4 --d-ff 640 $common >"$OUT/A.log" 2>&1 &
python3 tools/speller/train.py --name B --tok byte --layers 4 --dec-layers 4 --d-ff 768 $common >"$OUT/B.log" 2>&1 &
python3 tools/speller/train.py --name C --tok spm  --layers 6 --dec-layers 2 --d-ff 640 $common >"$OUT/C.log" 2>&1 &
sleep 90; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>/dev/null
wait
grep -h "samples/s" "$OUT"/*.log | tail -n 6
grep -h "RESULT\|Error\|error" "$OUT"/*.log
ls -la "$OUT"
