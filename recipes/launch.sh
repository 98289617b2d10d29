# Sourced by the recipes: `train_command ARGS...` runs `metanmt train ARGS...` in this process, or
# under `accelerate launch` when the recipe got --processes N (N > 1, one machine: N GPUs, or N CPU
# processes joined with gloo) or --accelerate-config FILE (any accelerate setup, several machines
# included: run the same command on each machine, out_dir on a shared file system).
PROCESSES="${PROCESSES:-1}" ACCELERATE_CONFIG="${ACCELERATE_CONFIG:-}"

train_command() {
  if [ -n "$ACCELERATE_CONFIG" ]; then
    accelerate launch --config_file "$ACCELERATE_CONFIG" -m metanmt.cli train "$@"
  elif [ "$PROCESSES" -gt 1 ]; then
    accelerate launch --multi_gpu --num_processes "$PROCESSES" --num_machines 1 \
      --main_process_port "${MAIN_PROCESS_PORT:-29500}" --mixed_precision no --dynamo_backend no \
      -m metanmt.cli train "$@"
  else
    metanmt train "$@"
  fi
}

# Recipe flags for the above; `launch_flag "$@"` returns 0 and sets the variable if $1 is one.
launch_flag() {
  case "$1" in
    --processes) PROCESSES="$2" ;;
    --accelerate-config) ACCELERATE_CONFIG="$2" ;;
    *) return 1 ;;
  esac
}
LAUNCH_USAGE="[--processes N] [--accelerate-config FILE]"
