#!/usr/bin/env bash
# GPU check and figures: 5-way 1-shot second-order MAML on Omniglot under CUDA for a fixed time,
# then the 600-task test. Needs the prepared array file (data_scripts/prepare_omniglot.py).
#   bash benchmarks/gpu_omniglot.sh DATA.npz OUT MINUTES
set -euo pipefail
data=$1 out=$2 minutes=${3:-6}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, accelerate; print('torch', torch.__version__, torch.cuda.get_device_name())"
python3 -m metanmt.cli train --config recipes/configs/omniglot.yaml --set out_dir="$out/maml" \
  omniglot.data="$data" train.device=cuda train.time_limit_minutes="$minutes" train.eval_every=1000 \
  train.checkpoint_every=1000 2>&1 | tr '\r' '\n' | grep -v "it/s, loss" | tail -5
grep -E "val/|test/" "$out/maml/metrics.csv" | tail -6
python3 -m metanmt.cli evaluate "$out/maml" --device cuda --steps 0 1 3 10 --tasks 600 --out "$out/eval"
tail -1 "$out/maml/metrics.csv" | awk -F, '{printf "meta-iterations %d in %.0f s (validation included): %.2f it/s\n", $1, $2, $1/$2}'
