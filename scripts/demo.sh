#!/usr/bin/env bash
# The main job on the synthetic demo catalogue, end to end: generate, import-check, train a
# small tBERT, build the artefacts, tune the blend weight, evaluate, then ask for similar songs.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
R=.venv/bin/recsys
OUT=${DEMO_OUT:-runs/demo}
mkdir -p "$OUT"

# 1,000 songs and the training defaults (every chunk of every lyric, the lower two encoder layers
# frozen and cached, two epochs): a few minutes on 2 CPU cores, well inside the 10-minute budget.
$R catalog demo --out "$OUT/catalog.parquet" --n ${DEMO_SONGS:-1000} --seed 0
$R catalog stats "$OUT/catalog.parquet"
$R train --catalog "$OUT/catalog.parquet" --out "$OUT/model" --seed 0
$R index build --catalog "$OUT/catalog.parquet" --model "$OUT/model" --out "$OUT/artifacts" --seed 0 --k-max 12
# The off-the-shelf MiniLM baseline of the evaluation: a plain-encoder build of the same songs.
$R index build --catalog "$OUT/catalog.parquet" --out "$OUT/baseline" --seed 0 --k-max 12
$R tune --artifacts "$OUT/artifacts"
$R evaluate --artifacts "$OUT/artifacts" --baseline "$OUT/baseline" --out "$OUT/evaluation"
# A test-split song, so the answer is one the tuning never saw.
# The folder as an argument, not pasted into the code: a DEMO_OUT holding a quote stays a path.
QUERY=$(.venv/bin/python -c "import sys, pandas as pd; s = pd.read_parquet(sys.argv[1]); q = s[s.split == 'test'].iloc[0]; print(q.title + '\t' + q.artist)" "$OUT/artifacts/songs.parquet")
$R similar "${QUERY%%$'\t'*}" --artist "${QUERY#*$'\t'}" --artifacts "$OUT/artifacts" -k 5 --explain
