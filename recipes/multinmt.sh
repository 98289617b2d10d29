#!/usr/bin/env bash
# MultiNMT (Gu et al. 2018's multilingual baseline) alone: prepare the corpus once, pre-train on
# the 18 training languages, then fine-tune on low-resource languages at English-word budgets,
# against the same fine-tuning from a random initialisation. The presets of
# recipes/metanmt_vs_multinmt.sh with only this run; recipes/metanmt.sh does the same for MetaNMT.
#
#   bash recipes/multinmt.sh                         # preset cpu
#   bash recipes/multinmt.sh --preset quick          # the made-up toy corpus, about a minute
#   bash recipes/multinmt.sh --preset paper --source ../shared/data --processes 8
#   bash recipes/multinmt.sh --languages ro fi --budgets 4000 16000 --draws 3 --test-sentences 500
#
# Writes OUT/multinmt (checkpoints, metrics, model/ as save_pretrained) and OUT/finetune.
set -euo pipefail
method="${METHOD:-multinmt}"
preset=cpu
if [ "${1:-}" = --preset ]; then preset="$2"; shift 2; fi
config="$(dirname "$0")/configs/compare/$preset.yaml"
presets="$(cd "$(dirname "$0")/configs/compare" && ls *.yaml | sed 's/\.yaml$//' | tr '\n' ' ')"
[ -f "$config" ] || { echo "unknown preset '$preset': choose one of $presets" >&2; exit 2; }
exec metanmt compare --config "$config" --runs "$method" --out "results/${method}_$preset" "$@"
