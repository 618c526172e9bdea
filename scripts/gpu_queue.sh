#!/bin/bash
# Paper-budget runs on a GPU for a fixed time (a lent machine's command limit): one worker per queue,
# all on one GPU, each taking its queue one run at a time; at the deadline each worker's run is
# killed (SIGTERM: a background job ignores SIGINT) and keeps its last checkpoint (every 200
# optimiser steps and at each epoch's end). Then the records, packed weights and the checkpoints
# of the unfinished runs are packed into $OUT (records.tgz, checkpoints.tar.part-*: cat | tar -x).
#
#   OUT=out BUDGET=500 scripts/gpu_queue.sh qornn-ptb "ornn-bjorck ptq-bjorck-4bit" "qornn-ste-bjorck-4bit"
#
# With KEEP=1 (on a lent machine), a second call on the same warm machine continues where the first
# stopped: the copy of the tree that each call brings resets data/ to this checkout's, so at the end
# the records, weights and unfinished checkpoints are also kept under runs/gpu_queue_keep/ (ignored,
# so it stays on the machine), and the next call with KEEP=1 puts them back, over the tree's copy,
# before it starts. Not on your own machine, where data/ is already the newest.
#
# A run of several starts records each one's commit, device and host (its provenance's segments).
# The copy of the tree needs SOURCE_MANIFEST.json (python -c "from qornn import results;
# results.write_source_manifest()") where git is missing or stale there. PROFILE (paper), DEVICE
# (cuda), EXTRA (more `qornn run` arguments), THREADS (CPU threads per worker, 8) and PYTHON (else
# the checkout's .venv, else python3) may be set.
cd "$(dirname "$0")/.." || exit 1
[ $# -ge 2 ] && [ -n "${OUT:-}" ] || { echo "usage: OUT=DIR $0 EXPERIMENT 'RUN ...' ['RUN ...' ...]" >&2; exit 2; }
experiment=$1; shift
export PYTHONUNBUFFERED=1 QORNN_DATA_DIR=${QORNN_DATA_DIR:-$PWD/data} PYTHONPATH=$PWD
export QORNN_CACHE_DIR=${QORNN_CACHE_DIR:-$QORNN_DATA_DIR/cache}
PROFILE=${PROFILE:-paper}; DEVICE=${DEVICE:-cuda}; BUDGET=${BUDGET:-500}; THREADS=${THREADS:-8}
. scripts/_python.sh  # $PYTHON, else the checkout's .venv, else python3
deadline=$((SECONDS + BUDGET))
keep=runs/gpu_queue_keep
mkdir -p "$OUT"
{ date -u; nvidia-smi -L; "$python" -c "import sys, torch; print(sys.version, torch.__version__, torch.cuda.is_available())"
  "$python" -c "from qornn import results; print('code:', results.git_commit())"; } > "$OUT/info.txt" 2>&1
# what the previous call on this machine wrote, newer than the tree's copy
if [ "${KEEP:-0}" = 1 ] && [ -d "$keep" ]; then
  cp -a "$keep/." . && rm -rf "$keep" && echo "put back from the previous call: $keep" >> "$OUT/info.txt"
fi
worker() {
  local name=$1 runs; shift
  for runs in "$@"; do
    [ $SECONDS -ge $deadline ] && return
    echo "== $(date -u +%T) start $runs" >> "$OUT/$name.log"
    # shellcheck disable=SC2086  # EXTRA is several arguments
    OMP_NUM_THREADS=$THREADS "$python" -m qornn.cli run "$experiment" --profile "$PROFILE" --device "$DEVICE" \
      --runs "$runs" ${EXTRA:-} >> "$OUT/$name.log" 2>&1 &
    local pid=$!
    while kill -0 $pid 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        kill -TERM $pid; wait $pid; echo "== $(date -u +%T) stopped $runs" >> "$OUT/$name.log"; return
      fi
      sleep 1
    done
    wait $pid; echo "== $(date -u +%T) done $runs rc=$?" >> "$OUT/$name.log"
  done
}
n=0
for queue in "$@"; do
  n=$((n + 1))
  # shellcheck disable=SC2086  # a queue is runs separated by spaces
  worker "w$n" $queue &
done
wait
{ date -u; "$python" -m qornn.cli show "$experiment" --profile "$PROFILE"
  "$python" -m qornn.cli checkpoints --profile "$PROFILE"; } >> "$OUT/info.txt" 2>&1
tar -czf "$OUT/records.tgz" "data/results/$experiment" "data/weights/$experiment" 2>> "$OUT/info.txt"
# the unfinished checkpoints of this experiment, as `qornn checkpoints` finds them, relative to here
unfinished=$("$python" -c "import os, sys
from qornn.checkpoints import find_checkpoints
for c in find_checkpoints(sys.argv[2]):
    if c.experiment == sys.argv[1] and not c.finished:
        print(os.path.relpath(c.path))" "$experiment" "$PROFILE")
echo "unfinished checkpoints: $unfinished" >> "$OUT/info.txt"
# shellcheck disable=SC2086
[ -n "$unfinished" ] && tar -cf - $unfinished | split -b 15M - "$OUT/checkpoints.tar.part-"
if [ "${KEEP:-0}" = 1 ]; then
  mkdir -p "$keep"
  # shellcheck disable=SC2086  # paths under this checkout only (a QORNN_DATA_DIR elsewhere stays put)
  for path in "data/results/$experiment" "data/weights/$experiment" $unfinished; do
    case $path in ../*|/*) ;; *) [ -e "$path" ] && cp -a --parents "$path" "$keep/" ;; esac
  done
fi
ls -la "$OUT" >> "$OUT/info.txt"
