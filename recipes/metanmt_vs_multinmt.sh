#!/usr/bin/env bash
# MetaNMT against MultiNMT (Gu et al. 2018): both trained on the 18 training languages for the same
# number of target tokens and chosen alike (fine-tune on 16K words of a validation language, dev
# BLEU); then every validation and test language is fine-tuned from MetaNMT, MultiNMT and a random
# initialisation at each English-word budget, over several draws. Presets are
# configs/compare/<preset>.yaml; every other flag goes to `metanmt compare` (see --help there).
#
#   bash recipes/metanmt_vs_multinmt.sh --preset quick    # the toy corpus, a few minutes (README)
#   bash recipes/metanmt_vs_multinmt.sh --preset cpu      # the real comparison on a 2-core CPU
#   bash recipes/metanmt_vs_multinmt.sh --preset paper --source ../shared/data --processes 8
#   bash recipes/metanmt_vs_multinmt.sh --preset quick --languages fi --budgets 0 500 --draws 1
#
# Writes OUT/{metanmt,multinmt} (runs), OUT/training.md and OUT/finetune: results.csv (one row per
# fine-tuning), summary.md and summary.csv (mean ± std of BLEU, chrF, tokenized BLEU),
# bleu_vs_words_<lang>.png. Re-running resumes every part.
set -euo pipefail
preset=quick
if [ "${1:-}" = --preset ]; then preset="$2"; shift 2; fi
config="$(dirname "$0")/configs/compare/$preset.yaml"
presets="$(cd "$(dirname "$0")/configs/compare" && ls *.yaml | sed 's/\.yaml$//' | tr '\n' ' ')"
[ -f "$config" ] || { echo "unknown preset '$preset': choose one of $presets" >&2; exit 2; }
exec metanmt compare --config "$config" "$@"
