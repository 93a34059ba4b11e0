#!/usr/bin/env bash
# Mutation score of the checkers: how many of cargo-mutants' mutants of the protocol
# (core/src/node/ and the wire codec core/src/wire.rs) the simulator's checkers kill.
#
# cargo-mutants runs only cargo or nextest as its test tool, and `cargo test` would count trace
# snapshots, which catch any change of behaviour rather than a wrong one. So this script lists
# the mutants with their diffs, applies each to a scratch git worktree (reset after every
# mutant; its target directory is kept, so rebuilds are incremental), rebuilds failover-sim and
# runs the checkers' verdicts only:
#
#   failover-sim run scenarios/suite --seeds K          (every scenario of the suite)
#   failover-sim sweep <swarm scenario> --seeds 1..=N   (for each of SWEEPS below)
#
# A mutant is "killed" at the first failing verdict (the scenario and invariant are recorded;
# a run that times out is a hang, a panic or other non-zero exit a crash: both killed),
# "survived" if every verdict passes, and "unviable" if it does not build. The unmutated tree
# must pass the same verdicts first, or nothing is measured. Results go one line per mutant to
# a TSV file as they come; running again with the same file resumes where it stopped (a file
# written with other settings is refused). Ctrl-C stops cleanly and restores the scratch tree.
#
# Usage: sim/mutation-score.sh [--sample N] [--seed S] [--results FILE] [--scratch DIR]
#          [--profile dev|release|NAME] [--opt-level 0-3] [--suite-seeds K] [--sweep-seeds N] [--timeout SECS]
#          [--jobs J] [--shard K/N] [--rev REV] [--only FILE] [--list] [--summary]
# --list prints the sample's mutants; --summary the score of what the results file holds.
# --shard K/N takes every Nth mutant of the sample from the Kth (0-based), so N runs with their
# own --results and --scratch share a machine or several (`cat` their results files and run
# --summary on that for the whole score). --only FILE takes the mutants named in FILE, one
# per line as --list and --summary print them (e.g. last run's survivors, checked again
# after new scenarios). It measures the committed HEAD, or REV (not uncommitted changes).
# Needs cargo-mutants (`cargo install --locked cargo-mutants`), jq and git.
set -euo pipefail

SAMPLE=0            # 0: every mutant
SEED=1
PROFILE=dev
OPT=1               # dev at opt-level 1: verdicts 13x faster than at 0, rebuilds as quick
SUITE_SEEDS=32
SWEEP_SEEDS=300
TIMEOUT=30          # seconds per verdict command (the unmutated tree: 0.1-1.5 s); longer: a hang
BUILD_TIMEOUT=900
JOBS=2
SHARD=0/1
REV=HEAD
ONLY=
LIST_ONLY=0
SUMMARY_ONLY=0
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
RESULTS=$ROOT/target/mutation-score/results.tsv
SCRATCH=$ROOT/target/mutation-score/scratch
# Swarm scenarios swept beyond the suite's own seeds: classic and quorum, two and three nodes,
# and operators' requests.
SWEEPS=(swarm-two-nodes swarm-three-nodes swarm-operators-three-nodes
        quorum-swarm-two-nodes quorum-swarm-three-nodes quorum-swarm-operators)
MUTATED=(-f 'core/src/node/*.rs' -f core/src/wire.rs)

die() { echo "mutation-score: $*" >&2; exit 2; }
while (($#)); do
    case $1 in
        --sample) SAMPLE=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        --results) RESULTS=$(realpath -m "$2"); shift 2 ;;
        --scratch) SCRATCH=$(realpath -m "$2"); shift 2 ;;
        --profile) PROFILE=$2; shift 2 ;;
        --opt-level) OPT=$2; shift 2 ;;
        --suite-seeds) SUITE_SEEDS=$2; shift 2 ;;
        --sweep-seeds) SWEEP_SEEDS=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --shard) SHARD=$2; shift 2 ;;
        --rev) REV=$2; shift 2 ;;
        --only) ONLY=$(realpath -m "$2"); shift 2 ;;
        --list) LIST_ONLY=1; shift ;;
        --summary) SUMMARY_ONLY=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
cargo mutants --version >/dev/null 2>&1 \
    || die "cargo-mutants is missing: cargo install --locked cargo-mutants"
command -v jq >/dev/null || die "jq is missing"
[[ -z $ONLY || -r $ONLY ]] || die "cannot read --only $ONLY"
[[ $SHARD =~ ^([0-9]+)/([0-9]+)$ ]] && ((BASH_REMATCH[1] < BASH_REMATCH[2])) \
    || die "--shard wants K/N with 0 <= K < N, not $SHARD"
SHARD_K=${BASH_REMATCH[1]} SHARD_N=${BASH_REMATCH[2]}

# The score of every mutant in the results file.
summary() {
    awk -F'\t' '
        /^#/ { next }
        { count[$1]++ }
        $1 == "survived" { survivors = survivors "  " $2 "\n" }
        END {
            viable = count["killed"] + count["survived"]
            printf "\n%d mutants: %d killed, %d survived, %d unviable\n",
                count["killed"] + count["survived"] + count["unviable"],
                count["killed"], count["survived"], count["unviable"]
            if (viable) printf "mutation score: %d / %d viable = %.1f %%\n", count["killed"],
                viable, 100 * count["killed"] / viable
            if (survivors != "") printf "survivors:\n%s", survivors
        }' "$RESULTS"
}
if ((SUMMARY_ONLY)); then summary; exit 0; fi

WORK=$(dirname "$RESULTS")
mkdir -p "$WORK"
HEAD=$(git -C "$ROOT" rev-parse --verify "$REV^{commit}") || die "no commit $REV"
CONFIG="# head=$HEAD profile=$PROFILE opt_level=$OPT suite_seeds=$SUITE_SEEDS sweep_seeds=$SWEEP_SEEDS sweeps=${SWEEPS[*]} timeout=$TIMEOUT shard=$SHARD${ONLY:+ only=$(sha256sum <"$ONLY" | cut -c1-12)}"

# --- the scratch worktree, on HEAD --------------------------------------------------------
if [[ ! -e $SCRATCH/.git ]]; then
    git -C "$ROOT" worktree add --detach "$SCRATCH" "$HEAD" >/dev/null
fi
restore() { git -C "$SCRATCH" reset -q --hard "$HEAD" && git -C "$SCRATCH" clean -qfd -- core; }
restore

# --- the mutants, listed on HEAD, in a deterministic sample ---------------------------------
LIST=$WORK/mutants-$HEAD.json
if [[ ! -s $LIST ]]; then
    echo "listing mutants of core/src/node/ and core/src/wire.rs ..." >&2
    (cd "$SCRATCH" && cargo mutants --list --json --diff "${MUTATED[@]}") >"$LIST.tmp"
    mv "$LIST.tmp" "$LIST"
fi
TOTAL=$(jq length "$LIST")
# Order mutants by a hash of (seed, name): the sample of N is the first N, so the same seed
# gives the same sample, and a bigger sample contains the smaller one.
mapfile -t ORDER < <(jq -r 'to_entries[] | "\(.key)\t\(.value.name)"' "$LIST" |
    while IFS=$'\t' read -r i name; do
        printf '%s\t%s\n' "$(printf '%s %s' "$SEED" "$name" | sha256sum | cut -c1-16)" "$i"
    done | sort | cut -f2)
((SAMPLE > 0 && SAMPLE < TOTAL)) || SAMPLE=$TOTAL
ORDER=("${ORDER[@]:0:SAMPLE}")
if [[ -n $ONLY ]]; then
    declare -A WANTED=()
    while read -r i; do WANTED[$i]=1; done < <(jq -r --rawfile only "$ONLY" '
        ($only | split("\n") | map(sub("^ +"; "")) | map(select(length > 0))) as $names
        | to_entries[] | select(.value.name as $n | $names | index($n)) | .key' "$LIST")
    KEPT=()
    for i in "${ORDER[@]}"; do [[ -n ${WANTED[$i]:-} ]] && KEPT+=("$i"); done
    ORDER=("${KEPT[@]}")
    ((${#ORDER[@]})) || die "none of the mutants in $ONLY is in the sample of $HEAD"
    SAMPLE=${#ORDER[@]}
fi
SHARDED=()
for ((j = SHARD_K; j < SAMPLE; j += SHARD_N)); do SHARDED+=("${ORDER[j]}"); done
ORDER=("${SHARDED[@]}") SAMPLE=${#SHARDED[@]}
if ((LIST_ONLY)); then
    for i in "${ORDER[@]}"; do jq -r ".[$i].name" "$LIST"; done
    exit 0
fi

# --- results file: resume or start ----------------------------------------------------------
if [[ -s $RESULTS ]]; then
    [[ $(head -1 "$RESULTS") == "$CONFIG" ]] \
        || die "$RESULTS was written with other settings or another HEAD:
  $(head -1 "$RESULTS")
  now: $CONFIG
move it away to start again"
else
    { echo "$CONFIG"; printf '#verdict\tmutant\tkilled_by\tbuild_s\trun_s\n'; } >"$RESULTS"
fi

CHILD=
exec 3>&2 # the trap runs inside the redirections of the command it stops: say it here
stop() {
    trap - INT TERM
    echo -e "\nmutation-score: interrupted; the mutant under way is not recorded" >&3
    [[ -n $CHILD ]] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
    restore
    exit 130
}
trap stop INT TERM
trap 'restore 2>/dev/null || true' EXIT
# Runs a command in the background (timeout makes its own process group) and waits for it,
# so Ctrl-C reaches the trap at once.
run() { "$@" & CHILD=$!; local rc=0; wait "$CHILD" || rc=$?; CHILD=; return $rc; }

# Debug assertions stay as the profile has them (on in dev); the opt-level is set through
# cargo's environment, with a target directory of its own so profiles do not rebuild each other.
PROFILE_ENV=CARGO_PROFILE_$(echo "$PROFILE" | tr a-z- A-Z_)_OPT_LEVEL
export CARGO_TARGET_DIR=$SCRATCH/target/mutants-$PROFILE-O$OPT
SIM=$CARGO_TARGET_DIR/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")/failover-sim
build() {
    run env "$PROFILE_ENV=$OPT" timeout "$BUILD_TIMEOUT" cargo build -q \
        --manifest-path "$SCRATCH/Cargo.toml" --profile "$PROFILE" -p failover-sim \
        --bin failover-sim >"$WORK/build.log" 2>&1
}

# Runs the verdicts; sets VERDICT (killed or survived) and WHAT killed it. (No command
# substitution around it: a subshell would keep Ctrl-C from the child it waits for.)
verdicts() {
    local out=$WORK/run.log rc=0
    run timeout "$TIMEOUT" "$SIM" run "$SCRATCH/scenarios/suite" --seeds "$SUITE_SEEDS" \
        >"$out" 2>&1 || rc=$?
    if ((rc)); then
        VERDICT=killed
        WHAT="run suite --seeds $SUITE_SEEDS: $(killer "$rc" "$out" '^  [a-z0-9-]+: [a-z-]+:' \
            's/^  ([a-z0-9-]+): ([a-z-]+):.*/\1: \2/')"
        return
    fi
    local s
    for s in "${SWEEPS[@]}"; do
        rc=0
        run timeout "$TIMEOUT" "$SIM" sweep "$SCRATCH/scenarios/suite/$s.toml" \
            --seeds "1..=$SWEEP_SEEDS" --jobs "$JOBS" >"$out" 2>&1 || rc=$?
        if ((rc)); then
            VERDICT=killed
            WHAT="sweep $s: $(killer "$rc" "$out" '^seed [0-9]+: [a-z-]+:' \
                's/^seed ([0-9]+): ([a-z-]+):.*/seed \1: \2/')"
            return
        fi
    done
    VERDICT=survived WHAT=
}
# What a failing command says killed the mutant: the first violation, or how it ended.
killer() {
    local rc=$1 out=$2 pattern=$3 edit=$4 v
    case $rc in
        124) echo "hang (no verdict within ${TIMEOUT}s)"; return ;;
        1) v=$(grep -m1 -E "$pattern" "$out" | sed -E "$edit" || true)
           echo "${v:-exit 1, no violation printed}"; return ;;
        *) v=$(grep -m1 -E 'panicked at|error' "$out" | cut -c1-120 || true)
           echo "crash (exit $rc): ${v:-see output}" ;;
    esac
}

# --- the unmutated tree must pass --------------------------------------------------------
echo "baseline: building and running the verdicts on the unmutated tree ..." >&2
build || { cat "$WORK/build.log" >&2; die "the unmutated tree does not build"; }
t0=$SECONDS
verdicts
[[ $VERDICT == survived ]] || die "the unmutated tree fails its verdicts ($WHAT): fix that first"
echo "baseline passes (verdicts in $((SECONDS - t0)) s); $SAMPLE of $TOTAL mutants" >&2

# --- the mutants -------------------------------------------------------------------------
n=0
for i in "${ORDER[@]}"; do
    n=$((n + 1))
    name=$(jq -r ".[$i].name" "$LIST")
    if cut -f2 "$RESULTS" | grep -qxF -- "$name"; then continue; fi
    # cargo-mutants names the mutation where the new file's name goes: put the file back.
    jq -r ".[$i].diff" "$LIST" | sed "2s|^+++ .*|+++ $(jq -r ".[$i].file" "$LIST")|" \
        >"$WORK/mutant.diff"
    git -C "$SCRATCH" apply -p0 "$WORK/mutant.diff" \
        || die "cannot apply the diff of $name (see $WORK/mutant.diff)"
    t0=$SECONDS
    if build; then
        tb=$((SECONDS - t0)); t0=$SECONDS
        verdicts
        tr=$((SECONDS - t0))
    else
        tb=$((SECONDS - t0)); tr=0; VERDICT=unviable
        WHAT=$(grep -m1 -E '^error' "$WORK/build.log" | cut -c1-100 || true)
    fi
    restore
    printf '%s\t%s\t%s\t%s\t%s\n' "$VERDICT" "$name" "$WHAT" "$tb" "$tr" >>"$RESULTS"
    printf '[%d/%d] %-8s %s%s (build %ss, run %ss)\n' "$n" "$SAMPLE" "$VERDICT" "$name" \
        "${WHAT:+ — $WHAT}" "$tb" "$tr"
done

summary
