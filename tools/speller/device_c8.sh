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
# The same one-round call as device_g8.sh, which runs it with these settings.
NAME=${NAME:-C8} INIT=${INIT:-tools/out/speller/runs6/C6} SEED=${SEED:-9} TAG=${TAG:-R9} \
    PROFILE=${PROFILE:-cognitive} exec bash "$(dirname "$0")/device_g8.sh"
