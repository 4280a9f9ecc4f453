#!/usr/bin/env bash
# Print the date (YYYY-MM-DD) of every digest the push from BEFORE to AFTER added to seeds/,
# one a line. Edited or deleted digests are not new issues and are not listed.
#
# BEFORE empty or all zeros (a new branch), or a commit this clone does not have (history
# rewritten by a force push): only the additions of AFTER's own commit count. A root commit
# with nothing before it adds no issue, so a new repository does not mail its whole archive.
set -euo pipefail

after="${AFTER:-HEAD}"
before="${BEFORE:-}"

if [[ -z "$before" || "$before" =~ ^0+$ ]] || ! git cat-file -e "$before^{commit}" 2>/dev/null; then
  if ! git rev-parse --quiet --verify "$after^" >/dev/null; then
    echo "::notice::no commit before $after to compare with; no digest counts as added" >&2
    exit 0
  fi
  before="$after^"
fi

git diff --diff-filter=A --name-only -z "$before" "$after" -- seeds/ |
  while IFS= read -r -d '' file; do
    case "$file" in
      seeds/*/*) continue ;; # digests live directly in seeds/
      *.txt | *.md) newsletter parse "$file" --json |
        python -c 'import json, sys; print(json.load(sys.stdin)["date"])' ;;
    esac
  done
