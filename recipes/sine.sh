#!/usr/bin/env bash
# Sine regression, as in the MAML paper (Finn et al. 2017, 5.1): pre-training, MAML, FOMAML and
# Reptile for K=5 and K=10, each evaluated on 600 fixed held-out tasks after 0, 1, 5 and 10 steps.
#
#   bash recipes/sine.sh                    # default length (see BENCHMARKS.md for the time)
#   bash recipes/sine.sh --full             # the paper's 70,000 meta-iterations
#   bash recipes/sine.sh --steps 200 --out /tmp/sine --tasks 50   # any length
#   bash recipes/sine.sh --processes 2      # each run's meta-batch split over 2 processes
#
# Writes OUT/k{5,10}/results.{csv,md} and sine_adaptation.png. Runs resume if interrupted.
# Configs: configs/sine.yaml (MAML's settings; pre-training and FOMAML too), configs/sine_reptile.yaml.
set -euo pipefail
steps=20000 out=results/sine tasks=600 launch=()
while [ $# -gt 0 ]; do
  case "$1" in
    --full) steps=70000 ;;
    --steps) steps="$2"; shift ;;
    --out) out="$2"; shift ;;
    --tasks) tasks="$2"; shift ;;
    --processes|--accelerate-config) launch+=("$1" "$2"); shift ;;
    *) echo "usage: $0 [--full] [--steps N] [--out DIR] [--tasks N] [--processes N]" \
            "[--accelerate-config FILE]" >&2; exit 2 ;;
  esac
  shift
done
configs="$(dirname "$0")/configs"

train() {  # K ALGORITHM
  local config="$configs/sine.yaml"
  [ "$2" = reptile ] && config="$configs/sine_reptile.yaml"
  metanmt train --config "$config" --threads 1 --resume "${launch[@]}" \
    --set out_dir="$out/k$1/$2" sine.k_shot="$1" algorithm.name="$2" train.steps="$steps"
}

pids=()
for k in 5 10; do  # the two settings run side by side, one core each
  ( train "$k" pretrain && train "$k" maml && train "$k" fomaml && train "$k" reptile ) &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

for k in 5 10; do
  metanmt evaluate "$out/k$k"/{pretrain,maml,fomaml,reptile} --steps 0 1 5 10 --tasks "$tasks" \
    --out "$out/k$k" --threads 1
  echo "== K=$k =="; cat "$out/k$k/results.md"
done
