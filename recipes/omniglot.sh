#!/usr/bin/env bash
# Omniglot N-way K-shot (MAML paper 5.2, Reptile paper 4): MAML, FOMAML, Reptile and pre-training,
# each setting with its paper's hyperparameters; test accuracy on 600 fixed tasks with 95% CIs.
#
#   bash recipes/omniglot.sh                                   # all 4 settings x 4 algorithms
#   bash recipes/omniglot.sh --settings 5w1s --algorithms "maml reptile pretrain" --budget-minutes 60
#   bash recipes/omniglot.sh --set "omniglot.split=alphabet train.seed=1"   # extra keys for every run
#
# --budget-minutes caps the whole recipe's wall time: runs go two at a time (one per core) and share
# 80% of it; evaluation takes the rest. Writes OUT/<setting>/results.{csv,md}, learning_curves.png.
set -euo pipefail
source "$(dirname "$0")/launch.sh"
settings="5w1s 5w5s 20w1s 20w5s" algorithms="maml fomaml reptile pretrain"
budget=60 out=results/omniglot tasks=600 steps=100000 extra=""
while [ $# -gt 0 ]; do
  case "$1" in
    --settings) settings="$2"; shift ;;
    --algorithms) algorithms="$2"; shift ;;
    --budget-minutes) budget="$2"; shift ;;
    --steps) steps="$2"; shift ;;
    --tasks) tasks="$2"; shift ;;
    --out) out="$2"; shift ;;
    --set) extra="$2"; shift ;;
    --processes|--accelerate-config) launch_flag "$1" "$2"; shift ;;
    *) echo "usage: $0 [--settings '5w1s ...'] [--algorithms '...'] [--budget-minutes M]" \
            "[--steps N] [--tasks N] [--out DIR] [--set 'key=value ...']" "$LAUNCH_USAGE" >&2; exit 2 ;;
  esac
  shift
done
config="$(dirname "$0")/configs/omniglot.yaml"

hyper() {  # SETTING ALGORITHM -> --set assignments (MAML paper; Reptile paper for reptile)
  local way=${1%w*} shot=${1#*w}; shot=${shot%s}
  echo "omniglot.n_way=$way omniglot.k_shot=$shot algorithm.name=$2"
  case "$2:$way" in
    reptile:5)  echo "omniglot.train_shots=10 algorithm.inner_optimizer=adam algorithm.inner_lr=0.001 algorithm.inner_steps=5" \
                     "train.meta_batch=5 train.outer_optimizer=sgd train.outer_lr=1.0" \
                     "train.lr_schedule=linear train.eval_steps=50" ;;
    reptile:20) echo "omniglot.train_shots=10 algorithm.inner_optimizer=adam algorithm.inner_lr=0.0005 algorithm.inner_steps=10" \
                     "train.meta_batch=5 train.outer_optimizer=sgd train.outer_lr=1.0" \
                     "train.lr_schedule=linear train.eval_steps=50" ;;
    *:5)  echo "algorithm.inner_lr=0.4 algorithm.inner_steps=1 train.meta_batch=32" ;;
    *:20) echo "algorithm.inner_lr=0.1 algorithm.inner_steps=5 train.meta_batch=16" ;;
  esac
}

runs=()
for s in $settings; do for a in $algorithms; do runs+=("$s $a"); done; done
lanes=$(( ${#runs[@]} < 2 ? ${#runs[@]} : 2 ))
per_run=$(python3 -c "import math; print(round(0.8 * $budget / math.ceil(${#runs[@]} / $lanes), 2))")
echo "${#runs[@]} runs in $lanes lanes, at most $per_run minutes each"

lane() {  # LANE: every second run, one after another
  local i setting algorithm
  for ((i = $1; i < ${#runs[@]}; i += lanes)); do
    read -r setting algorithm <<< "${runs[$i]}"
    train_command --config "$config" --threads 1 --resume --set out_dir="$out/$setting/$algorithm" \
      train.steps="$steps" train.time_limit_minutes="$per_run" $(hyper "$setting" "$algorithm") $extra
  done
}
pids=()
for ((l = 0; l < lanes; l++)); do lane "$l" & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid"; done

for s in $settings; do
  dirs=(); for a in $algorithms; do dirs+=("$out/$s/$a"); done
  metanmt evaluate "${dirs[@]}" --steps 0 1 10 50 --tasks "$tasks" --out "$out/$s" --threads 2
  echo "== $s =="; cat "$out/$s/results.md"
done
