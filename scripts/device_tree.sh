#!/bin/bash
# Make this checkout fit a lent GPU machine's copy of the working tree (64 MiB of tracked and
# untracked, not ignored files), and put it back:
#
#   scripts/device_tree.sh hide      # files over 4 MB leave the index (kept on disk, git-ignored),
#                                    # SOURCE_MANIFEST.json names HEAD; commits refused meanwhile
#   scripts/device_tree.sh restore   # the index as before, the ignore lines and the guard gone
#
# The big files are cpu-profile weights with word embeddings (IMDB, SST-2), which no GPU run needs.
# While they are hidden, a commit would record their deletion: a pre-commit hook refuses commits
# until `restore`.
#
# Python (with torch, for the manifest) is $PYTHON, else the checkout's .venv, else python3.
set -eu
cd "$(dirname "$0")/.."
. scripts/_python.sh
list=$(git rev-parse --git-path qornn-hidden)
exclude=$(git rev-parse --git-path info/exclude)
hook=$(git rev-parse --git-path hooks/pre-commit)
case "${1:-}" in
  hide)
    [ -e "$list" ] && { echo "already hidden (see $list); run: $0 restore" >&2; exit 1; }
    [ -e "$hook" ] && { echo "$hook exists; this script would replace it" >&2; exit 1; }
    # the manifest first: where it cannot be written, nothing has changed yet
    "$python" -c "import sys; sys.path.insert(0, '.'); from qornn import results; results.write_source_manifest()"
    git ls-files -z | "$python" -c "import os, sys
for path in sys.stdin.read().split('\0'):
    if path and os.path.isfile(path) and os.path.getsize(path) > 4_000_000:
        print(path)" > "$list"
    [ -s "$list" ] || { rm -f "$list" SOURCE_MANIFEST.json; echo "no tracked file over 4 MB: nothing to hide"; exit 0; }
    mkdir -p "$(dirname "$exclude")" "$(dirname "$hook")"
    sed 's|^|/|' "$list" >> "$exclude"
    xargs git rm -q --cached -- < "$list"
    printf '#!/bin/sh\necho "big files are hidden from the index for a GPU machine: run scripts/device_tree.sh restore first" >&2\nexit 1\n' > "$hook"
    chmod +x "$hook"
    echo "hid $(wc -l < "$list") files; now: $(git ls-files -co --exclude-standard -z | xargs -0 du -cb | tail -1)"
    ;;
  restore)
    [ -e "$list" ] || { echo "nothing hidden"; exit 0; }
    xargs git reset -q -- < "$list"
    grep -vxF -f <(sed 's|^|/|' "$list") "$exclude" > "$exclude.tmp" || true
    mv "$exclude.tmp" "$exclude"
    rm -f "$hook" "$list" SOURCE_MANIFEST.json
    git status --short | head
    ;;
  *) echo "usage: $0 hide|restore" >&2; exit 2 ;;
esac
