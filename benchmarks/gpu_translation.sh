#!/usr/bin/env bash
# GPU check of the translation path (no data needed): the toy corpus -> MultiNMT with the `cpu`
# model on CUDA -> fine-tuning and beam-4 decoding on CUDA, from the run and from random weights.
#   bash benchmarks/gpu_translation.sh OUT [STEPS]
set -euo pipefail
out=$1 steps=${2:-300}
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, datasets; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.get_device_name())"
python3 -m metanmt.cli prepare --toy --out "$out/toy" --vocab-size 400 | tail -2
python3 -m metanmt.cli train --config recipes/configs/multinmt_cpu.yaml --set out_dir="$out/run" \
  translation.corpus="$out/toy" train.device=cuda train.steps="$steps" train.time_limit_minutes=0 \
  train.warmup_steps=50 train.eval_every=100 train.log_every=50 2>&1 | tr '\r' '\n' | grep -v "it/s" | tail -3
grep -E "val/" "$out/run/metrics.csv" | tail -3
tail -1 "$out/run/metrics.csv" | awk -F, '{printf "outer steps %d in %.0f s (validation included): %.2f steps/s\n", $1, $2, $1/$2}'
python3 -m metanmt.cli finetune --init multinmt="$out/run" random=random:cpu --corpus "$out/toy" \
  --languages ro fi --budgets 0 1000 --draws 2 --test-sentences 100 --device cuda --lr 0.0005 \
  --max-steps 200 --eval-every 20 --patience 3 --batch-tokens 1500 --out "$out/ft" 2>&1 \
  | tr '\r' '\n' | grep -v -E "it/s|s/it" | tail -8
cut -d, -f1-14 "$out/ft/results.csv"
