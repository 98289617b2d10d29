#!/usr/bin/env bash
# MetaNMT alone (Gu et al. 2018): first-order MAML with an Adam inner step on the 18 training
# languages (configs/metanmt_cpu.yaml), then fine-tuning at English-word budgets against a random
# initialisation. The same flags and presets as recipes/multinmt.sh, which it runs:
#
#   bash recipes/metanmt.sh                      # preset cpu
#   bash recipes/metanmt.sh --preset quick       # the toy corpus, about a minute
#   bash recipes/metanmt.sh --set shared.algorithm.name=maml   # exact second order (or reptile)
set -euo pipefail
METHOD=metanmt exec bash "$(dirname "$0")/multinmt.sh" "$@"
