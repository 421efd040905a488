#!/usr/bin/env bash
# Encodes a corpus into the vector cache with N local limit-eval processes at once, one per GPU:
# process K runs `limit-eval encode --shard K/N ...` with CUDA_VISIBLE_DEVICES set to its GPU, and
# all of them fill one cache folder. Then evaluate as usual, with the same model, dataset, cache
# folder, --dtype, --batch-size and --max-batch-tokens: the run finds every chunk cached.
#
# Usage: scripts/encode_sharded.sh [--shards N] [--gpus LIST] -- limit-eval encode options
#   --shards N   processes (default: one per GPU of --gpus)
#   --gpus LIST  comma-separated GPU indices; shard K runs on the K-th, round robin (default:
#                $CUDA_VISIBLE_DEVICES, else every GPU nvidia-smi lists, else none: CPU processes)
# Without GPUs the shards share the CPU: unless the options give --threads, each gets the
# machine's cores divided by N.
# Each shard's log lines go to stderr prefixed with "[shard K/N]"; its summary (one JSON line,
# as `limit-eval encode` prints) to stdout.
# Exit status: 0 when every shard succeeded, 1 when one failed (the others run to their end, and
# a rerun encodes only what is missing), 2 for a usage error.
# Environment: LIMIT_EVAL_BIN (default build/limit-eval).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LIMIT_EVAL_BIN:-$root/build/limit-eval}"
shards=""
gpus=""
gpus_given=0

# The comment block at the top of this file, without its "#".
usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
fail_usage() { echo "encode_sharded.sh: $1" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) [ $# -ge 2 ] || fail_usage "--shards needs a value"; shards="$2"; shift 2 ;;
    --gpus) [ $# -ge 2 ] || fail_usage "--gpus needs a value"; gpus="$2"; gpus_given=1; shift 2 ;;
    --) shift; break ;;
    -h|--help) usage; exit 0 ;;
    *) fail_usage "unknown option '$1' (limit-eval encode options go after --)" ;;
  esac
done
options=("$@")
for option in "${options[@]}"; do
  case "$option" in
    --shard|--shard=*) fail_usage "the script gives each process its --shard; leave it out" ;;
  esac
done
[ -x "$bin" ] || fail_usage "$bin is not an executable limit-eval (build it, or set LIMIT_EVAL_BIN)"

if [ "$gpus_given" = 0 ]; then
  if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
    gpus="$CUDA_VISIBLE_DEVICES"
  elif command -v nvidia-smi >/dev/null 2>&1; then
    gpus="$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | paste -sd, -)"
  fi
fi
IFS=',' read -r -a devices <<< "$gpus"
if [ -z "$shards" ]; then
  [ "${#devices[@]}" -gt 0 ] || fail_usage "no GPU found: give --shards N (the shards then share the CPU)"
  shards="${#devices[@]}"
fi
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || fail_usage "--shards must be a positive integer, not '$shards'"

threads=()
if [ "${#devices[@]}" -eq 0 ]; then
  given=0
  for option in "${options[@]}"; do
    case "$option" in -t|--threads|--threads=*|-t[0-9]*) given=1 ;; esac
  done
  if [ "$given" = 0 ]; then
    per_shard=$(( $(nproc) / shards ))
    threads=(--threads "$(( per_shard > 0 ? per_shard : 1 ))")
  fi
fi

pids=()
stop() { kill "${pids[@]}" 2>/dev/null; }
trap 'stop; exit 130' INT TERM
for ((k = 1; k <= shards; k++)); do
  environment=()
  where="CPU"
  if [ "${#devices[@]}" -gt 0 ]; then
    device="${devices[$(( (k - 1) % ${#devices[@]} ))]}"
    environment=(CUDA_VISIBLE_DEVICES="$device")
    where="GPU $device"
  fi
  echo "[shard $k/$shards] $where: $bin encode --shard $k/$shards ${options[*]} ${threads[*]}" >&2
  env "${environment[@]}" "$bin" encode --shard "$k/$shards" "${options[@]}" "${threads[@]}" \
    2> >(sed -u "s|^|[shard $k/$shards] |" >&2) &
  pids+=("$!")
done

failed=()
for ((k = 1; k <= shards; k++)); do
  wait "${pids[$((k - 1))]}"
  status=$?
  [ "$status" -eq 0 ] || failed+=("$k/$shards (exit status $status)")
done
# The log prefixers end with their shard; let them flush.
wait
if [ "${#failed[@]}" -gt 0 ]; then
  list="$(printf '%s, ' "${failed[@]}")"
  echo "encode_sharded.sh: ${#failed[@]} of $shards shards failed: ${list%, }; rerunning encodes only the missing chunks" >&2
  exit 1
fi
echo "encode_sharded.sh: $shards shards done" >&2
