#!/bin/bash
# NOT RUN HERE (no Slurm cluster was available): an example of
# `vlm2vec embed --shard` as a Slurm job array. Submit with
#
#   jobid=$(sbatch --parsable docs/slurm-array-manifest.sh)
#   sbatch --dependency=afterok:$jobid --wrap \
#     "vlm2vec embed --input $CORPUS --output $OUT --merge 16 --batch 8 --npy ${OUT%.jsonl}.npy"
#
# Each array task embeds shard SLURM_ARRAY_TASK_ID of 16 into its own file next
# to $OUT; a requeued or rerun task resumes from that file. The merge job (run
# only when every task succeeded) checks that every input is in exactly one
# shard. $CORPUS, the images it names and $OUT must be on a filesystem every
# node sees. Keep --batch the same in the tasks and the merge.
#SBATCH --job-name=vlm2vec-embed
#SBATCH --array=0-15
#SBATCH --gpus=1
#SBATCH --cpus-per-task=8
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=logs/embed-%A_%a.log
set -euo pipefail
: "${CORPUS:=/shared/corpus.jsonl}" "${OUT:=/shared/out/vectors.jsonl}" "${MODEL:=/shared/models/vlm2vec}"
export PJRT_PLUGIN_LIBRARY_PATH=${PJRT_PLUGIN_LIBRARY_PATH:-/opt/pjrt}
vlm2vec embed --model "$MODEL" --backend xla:cuda --batch 8 --quiet \
  --input "$CORPUS" --output "$OUT" --shard "${SLURM_ARRAY_TASK_ID}/16"
