# Sourced by the translation recipes: the flags they share. `translation_flag "$1" "$2"` sets the
# variable and returns 0 if $1 is one of them (the caller then shifts twice), 1 otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/launch.sh"
out="" corpus="" source="${METANMT_DATA:-}" languages="" budgets="" draws="" tests="" extra=""
TRANSLATION_USAGE="[--out DIR] [--corpus DIR] [--source DIR] [--languages 'ro fi']
    [--budgets '0 4k 16k'] [--draws N] [--test-sentences N] [--set 'key=value ...'] $LAUNCH_USAGE"

translation_flag() {
  case "$1" in
    --preset) preset="$2" ;;
    --out) out="$2" ;;
    --corpus) corpus="$2" ;;
    --source) source="$2" ;;
    --languages) languages="$2" ;;
    --budgets) budgets="$2" ;;
    --draws) draws="$2" ;;
    --test-sentences) tests="$2" ;;
    --set) extra="$2" ;;
    --processes|--accelerate-config) launch_flag "$1" "$2" ;;
    *) return 1 ;;
  esac
}
