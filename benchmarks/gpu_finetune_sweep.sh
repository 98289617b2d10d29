#!/usr/bin/env bash
# Fine-tuning settings on the toy corpus, on CUDA: which learning rate / warm-up / patience lets a
# MultiNMT initialisation learn a new language from 1,000 words. Run after gpu_translation.sh.
#   bash benchmarks/gpu_finetune_sweep.sh OUT
set -euo pipefail
out=$1
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
python3 -m metanmt.cli prepare --toy --out "$out/toy" --vocab-size 400 | tail -1
python3 -m metanmt.cli train --config recipes/configs/multinmt_cpu.yaml --set out_dir="$out/run" \
  translation.corpus="$out/toy" train.device=cuda train.steps=300 train.time_limit_minutes=0 \
  train.warmup_steps=50 train.eval_every=100 train.log_every=50 2>&1 | tail -1
for setting in "5e-4 0 3" "5e-4 30 10" "1e-4 0 10" "1e-4 30 10" "2e-5 0 10"; do
  read -r lr warm patience <<< "$setting"
  python3 -m metanmt.cli finetune --init multinmt="$out/run" --corpus "$out/toy" --languages ro \
    --budgets 1000 --draws 2 --test-sentences 100 --device cuda --lr "$lr" --warmup-steps "$warm" \
    --max-steps 400 --eval-every 20 --patience "$patience" --batch-tokens 1500 \
    --out "$out/ft-$lr-$warm-$patience" 2>&1 | grep "BLEU" | sed "s/^/lr $lr warmup $warm patience $patience: /"
  cut -d, -f7-10 "$out/ft-$lr-$warm-$patience/results.csv" | tail -2 | tr '\n' ' '; echo
done
