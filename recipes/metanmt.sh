#!/usr/bin/env bash
# MetaNMT alone (Gu et al. 2018): first-order MAML on the 18 training languages
# (configs/metanmt_cpu.yaml), then fine-tuning at English-word budgets against a random
# initialisation. The same flags and presets as recipes/multinmt.sh, which it runs:
#
#   bash recipes/metanmt.sh                      # preset cpu: 30 minutes of meta-training here
#   bash recipes/metanmt.sh --preset tiny        # the toy corpus, about a minute
#   bash recipes/metanmt.sh --set "algorithm.name=maml"      # exact second order (or reptile)
set -euo pipefail
METHOD=metanmt exec bash "$(dirname "$0")/multinmt.sh" "$@"
