#!/usr/bin/env bash
# The chart ships copies of crds/*.yaml (Helm reads only files inside the chart). crds/ is the single source:
#   hack/sync-chart-crds.sh          copy crds/*.yaml into charts/neon-checkpoints/crds/ (and drop stale copies)
#   hack/sync-chart-crds.sh --check  exit 1 and name the files when the copies differ from crds/
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$ROOT/crds
DST=$ROOT/charts/neon-checkpoints/crds

check=false
case ${1:-} in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

stale=()
shopt -s nullglob
for f in "$SRC"/*.yaml; do
  cmp -s "$f" "$DST/$(basename "$f")" || stale+=("$(basename "$f")")
done
for f in "$DST"/*.yaml; do
  [[ -e $SRC/$(basename "$f") ]] || stale+=("$(basename "$f") (not in crds/)")
done

if $check; then
  if ((${#stale[@]})); then
    printf 'chart CRDs out of date: %s\nrun hack/sync-chart-crds.sh\n' "${stale[*]}" >&2
    exit 1
  fi
  exit 0
fi

mkdir -p "$DST"
for f in "$DST"/*.yaml; do
  [[ -e $SRC/$(basename "$f") ]] || rm -f "$f"
done
cp -p "$SRC"/*.yaml "$DST"/
printf 'synced %d CRD(s) into %s\n' "$(ls "$SRC"/*.yaml | wc -l)" "${DST#"$ROOT"/}"
