#!/usr/bin/env bash
# Downloads the LIMIT data from the Hugging Face hub datasets orionweller/LIMIT and
# orionweller/LIMIT-small into data/<name>/ (corpus.jsonl, queries.jsonl, qrels.jsonl).
# Resumable (curl -C -), checked (line counts), atomic (files land only when complete and checked).
# Usage: scripts/download_data.sh [limit|limit-small|all]   (default: limit)
# Environment: HF_ENDPOINT (default https://huggingface.co), LIMIT_EVAL_DATA_ROOT (default data/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_root="${LIMIT_EVAL_DATA_ROOT:-$root/data}"
endpoint="${HF_ENDPOINT:-https://huggingface.co}"
which="${1:-limit}"

# name -> "hub dataset|documents|queries|qrels"
declare -A spec=(
  [limit]="orionweller/LIMIT|50000|1000|2000"
  [limit-small]="orionweller/LIMIT-small|46|1000|2000"
)

fetch() {  # url destination
  local url="$1" dest="$2"
  curl --fail --location --retry 5 --retry-delay 2 -C - --output "$dest.part" "$url" || {
    echo "download_data.sh: could not download $url (is the Hugging Face hub reachable?)" >&2
    return 1
  }
}

check_lines() {  # file expected label
  local got
  got=$(grep -c . "$1" || true)
  if [ "$got" != "$2" ]; then
    echo "download_data.sh: $3 has $got lines, expected $2; keeping $1 for inspection" >&2
    return 1
  fi
}

download() {
  local name="$1"
  IFS='|' read -r repo docs queries qrels <<<"${spec[$name]}"
  local dir="$data_root/$name"
  mkdir -p "$dir"
  local base="$endpoint/datasets/$repo/resolve/main"
  local file expected
  for file in corpus queries qrels; do
    case "$file" in corpus) expected=$docs ;; queries) expected=$queries ;; qrels) expected=$qrels ;; esac
    if [ -f "$dir/$file.jsonl" ] && check_lines "$dir/$file.jsonl" "$expected" "$dir/$file.jsonl" 2>/dev/null; then
      echo "$dir/$file.jsonl: present and complete" >&2
      continue
    fi
    echo "downloading $repo $file.jsonl -> $dir/$file.jsonl" >&2
    fetch "$base/$file.jsonl" "$dir/$file.jsonl"
    check_lines "$dir/$file.jsonl.part" "$expected" "$repo $file.jsonl"
    mv "$dir/$file.jsonl.part" "$dir/$file.jsonl"
  done
  echo "$name: ready in $dir" >&2
}

case "$which" in
  limit|limit-small) download "$which" ;;
  all) download limit-small; download limit ;;
  -h|--help) sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
  *) echo "download_data.sh: unknown dataset '$which' (limit, limit-small or all)" >&2; exit 2 ;;
esac
