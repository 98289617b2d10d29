#!/usr/bin/env bash
# Omniglot N-way K-shot (MAML paper 5.2, Reptile paper 4): MAML, FOMAML, Reptile and pre-training,
# each setting with its paper's hyperparameters (configs/omniglot/{maml,reptile}_{5,20}way.yaml);
# test accuracy on 600 fixed tasks with 95% CIs.
#
#   bash recipes/omniglot.sh                                   # all 4 settings x 4 algorithms
#   bash recipes/omniglot.sh --settings 5w1s --algorithms "maml reptile pretrain" --budget-minutes 60
#   bash recipes/omniglot.sh --set "omniglot.split=alphabet train.seed=1"   # extra keys for every run
#
# --budget-minutes sizes the training: runs go two at a time (one per core) and share 80% of it.
# The final validations and the 600-task tests come on top and are not capped (20-way 1-shot at
# 50 steps: ~30 minutes for two runs on a 2-core CPU).
# Writes OUT/<setting>/results.{csv,md}, learning_curves.png.
set -euo pipefail
settings="5w1s 5w5s 20w1s 20w5s" algorithms="maml fomaml reptile pretrain"
budget=60 out=results/omniglot tasks=600 steps=100000 extra="" launch=()
while [ $# -gt 0 ]; do
  case "$1" in
    --settings) settings="$2"; shift ;;
    --algorithms) algorithms="$2"; shift ;;
    --budget-minutes) budget="$2"; shift ;;
    --steps) steps="$2"; shift ;;
    --tasks) tasks="$2"; shift ;;
    --out) out="$2"; shift ;;
    --set) extra="$2"; shift ;;
    --processes|--accelerate-config) launch+=("$1" "$2"); shift ;;
    *) echo "usage: $0 [--settings '5w1s ...'] [--algorithms '...'] [--budget-minutes M]" \
            "[--steps N] [--tasks N] [--out DIR] [--set 'key=value ...'] [--processes N]" \
            "[--accelerate-config FILE]" >&2; exit 2 ;;
  esac
  shift
done
configs="$(dirname "$0")/configs/omniglot"
# Without a GPU, train and evaluate on the loop path, one task at a time: on a CPU it trains every
# algorithm 1.3-2.5x faster than vmap in a half to a fifth of the memory, and evaluates ~2x
# faster (BENCHMARKS.md, "Which path on a CPU"); --set algorithm.vmap=true trains on vmap anyway.
gpu=$(python3 -c "import torch; print(torch.cuda.is_available())")  # no torch: stop here, loudly
path="" eval_path=()
if [ "$gpu" = False ]; then
  path="algorithm.vmap=false" eval_path=(--no-vmap)
  echo "no GPU: training and evaluating on the loop path ($path)"
fi

runs=()
for s in $settings; do for a in $algorithms; do runs+=("$s $a"); done; done
lanes=$(( ${#runs[@]} < 2 ? ${#runs[@]} : 2 ))
per_run=$(python3 -c "import math; print(round(0.8 * $budget / math.ceil(${#runs[@]} / $lanes), 2))")
echo "${#runs[@]} runs in $lanes lanes, at most $per_run minutes each"

lane() {  # LANE: every second run, one after another
  local i setting algorithm way shot kind
  for ((i = $1; i < ${#runs[@]}; i += lanes)); do
    read -r setting algorithm <<< "${runs[$i]}"
    way=${setting%w*} shot=${setting#*w}; shot=${shot%s}
    kind=maml; [ "$algorithm" = reptile ] && kind=reptile  # each paper's settings
    # shellcheck disable=SC2086
    metanmt train --config "$configs/${kind}_${way}way.yaml" --threads 1 --resume "${launch[@]}" \
      --set out_dir="$out/$setting/$algorithm" omniglot.k_shot="$shot" algorithm.name="$algorithm" \
      train.steps="$steps" train.time_limit_minutes="$per_run" $path $extra
  done
}
pids=()
for ((l = 0; l < lanes; l++)); do lane "$l" & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid"; done

for s in $settings; do
  dirs=(); for a in $algorithms; do dirs+=("$out/$s/$a"); done
  metanmt evaluate "${dirs[@]}" --steps 0 1 10 50 --tasks "$tasks" --out "$out/$s" --threads 2 \
    "${eval_path[@]}"
  echo "== $s =="; cat "$out/$s/results.md"
done
