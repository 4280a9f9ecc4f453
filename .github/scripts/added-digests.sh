#!/usr/bin/env bash
# Print the date (YYYY-MM-DD) of every digest the push from BEFORE to AFTER added to seeds/,
# one a line. Edited or deleted digests are not new issues and are not listed. The push's
# starting commit is push-base.sh's.
set -euo pipefail

after="${AFTER:-HEAD}"
before="$("$(dirname "$0")/push-base.sh")"
[[ -n "$before" ]] || exit 0

git diff --diff-filter=A --name-only -z "$before" "$after" -- seeds/ |
  while IFS= read -r -d '' file; do
    case "$file" in
      seeds/*/*) continue ;; # digests live directly in seeds/
      *.txt | *.md) newsletter parse "$file" --json |
        python -c 'import json, sys; print(json.load(sys.stdin)["date"])' ;;
    esac
  done
