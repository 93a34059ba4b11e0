#!/bin/bash
# Submits a sharded failover-sim sweep to Slurm: a job array of SHARDS tasks (sweep.sbatch)
# and the merge job (merge.sbatch), which runs once every task has ended well
# (--dependency=afterok) and is cancelled if one has not. Settings come from the environment
# (see sweep.sbatch and merge.sbatch). Prints the two job ids: "ARRAY_ID MERGE_ID".
#
#   SCENARIO=swarm-three-nodes SEEDS=1..=1000000 deploy/slurm/submit.sh 16
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
shards=${1:-4}
array=$(sbatch --parsable --array="0-$((shards - 1))" "$here/sweep.sbatch")
array=${array%%;*} # "id;cluster" on a multi-cluster setup
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    "$here/merge.sbatch")
echo "$array ${merge%%;*}"
