#!/usr/bin/env bash
# Coverage-guided against plain random swarm sweeps, on bugs this project has already fixed.
#
# Each patch in sim/mutants/ re-introduces one fixed bug (its header says which, the commit
# that fixed it, and the swarm scenarios to sweep). For each, in a scratch worktree of HEAD
# with the patch applied, a release build of failover-sim sweeps each scenario SWEEPS times
# over different seed ranges, plain (`sweep`) and guided (`sweep --guided`), and counts the
# runs it took to find the bug: at most CAP a sweep ("-" when it found nothing). A failing
# run counts only if it passes on HEAD as it is (its replay command, run by the fixed build)
# and breaks an invariant other than those in HEAD_BREAKS: a failure HEAD has too is not the
# bug re-introduced, and the sweep goes on past it. HEAD_BREAKS names the invariants HEAD
# itself breaks in guided sweeps (README, "Coverage-guided sweeps"): a mutant breaks them too,
# at other times, and its replay passing on HEAD then says only that the timing moved. Then one
# sweep of MANY runs each way counts every run that finds the bug. Last, HEAD's own build
# sweeps each scenario CAP runs both ways, and counts the points of the protocol reached and
# the runs that fail.
#
# Prints two Markdown tables (README, "Coverage-guided sweeps", has them) and writes every
# sweep's count to OUT. Measures the committed HEAD: commit first. The scratch worktree goes
# on exit, also on failure or Ctrl-C; builds are kept in TARGET, so a second run is quicker.
# Needs python3 (to read the sweeps' JSON results).
#
#   bash sim/guided-vs-random.sh                       # everything (hours on 2 cores)
#   MUTANTS="veto-forever" SWEEPS=40 bash sim/guided-vs-random.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
SWEEPS=${SWEEPS:-20}
CAP=${CAP:-20000}
MANY=${MANY:-5000}
FIRST=${FIRST:-1000000000}
JOBS=${JOBS:-$(nproc)}
HEAD_BREAKS=${HEAD_BREAKS:-notifications}
TARGET=${TARGET:-$here/target/guided-vs-random}
OUT=${OUT:-guided-vs-random.tsv}
MUTANTS=${MUTANTS:-$(cd "$here/sim/mutants" && ls -- *.patch | sed 's/\.patch$//' | tr '\n' ' ')}
COVERAGE_SCENARIOS=${COVERAGE_SCENARIOS:-swarm-two-nodes swarm-three-nodes swarm-operators-three-nodes quorum-swarm-three-nodes}

scratch=$(mktemp -d)
tree=$scratch/tree
cleanup() {
    git -C "$here" worktree remove --force "$tree" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
git -C "$here" worktree add --quiet --detach "$tree" HEAD

# Builds failover-sim from the scratch tree as it stands into $scratch/failover-sim-$1 (a
# mutant's warnings — code its patch left unused — shown only if the build fails).
build() {
    if ! CARGO_TARGET_DIR=$TARGET cargo build --quiet --release -p failover-sim \
        --manifest-path "$tree/Cargo.toml" 2>"$scratch/build.log"; then
        cat "$scratch/build.log" >&2
        exit 1
    fi
    cp "$TARGET/release/failover-sim" "$scratch/failover-sim-$1"
}

echo "building HEAD..." >&2
build fixed
fixed=$scratch/failover-sim-fixed

# Reads a sweep's JSON results ($1) and, for each failing run in order that breaks an
# invariant not in HEAD_BREAKS, whether it passes on the fixed build; prints the place in
# the sweep of the first that does ("-" if none), then how many do.
attributable() {
    python3 - "$1" "$fixed" "$scratch" "$HEAD_BREAKS" <<'EOF'
import json, subprocess, sys
results, fixed, cwd, head_breaks = sys.argv[1:]
head_breaks = set(head_breaks.split())
lines = [json.loads(l) for l in open(results)]
header = next(l for l in lines if l["type"] == "sweep")
seeds = [l for l in lines if l["type"] == "seed"]
first, count = "-", 0
for place, s in enumerate(seeds, 1):
    if s["verdict"] == "pass" or not {v["invariant"] for v in s["violations"]} - head_breaks:
        continue
    command = s.get("replay") or f"failover-sim replay {header['source']} --seed {s['seed']}"
    args = command.split()[1:]
    out = subprocess.run([fixed, *args], capture_output=True, text=True, cwd=cwd).stdout
    if "verdict: pass" in out:
        count += 1
        if first == "-":
            first = place
print(first, count)
EOF
}

# Sweeps scenario $2 with binary $1, sweep number $3 (guided with a 4th argument); prints
# the place of the first run that finds the bug ("-" if none within CAP).
first_failure() {
    local bin=$1 scenario=$2 k=$3 start json=$scratch/results.json
    start=$((FIRST + k * 10000000))
    local args=(sweep "$scenario" --seeds "$start..$((start + CAP))" --jobs "$JOBS" --json "$json")
    if [[ $# -gt 3 ]]; then
        args+=(--guided --failures "$scratch/failures")
    fi
    "$bin" "${args[@]}" --first-failure >/dev/null 2>&1 || true
    local found
    read -r found _ <<<"$(attributable "$json")"
    if [[ $found == - ]] && grep -q '"verdict":"fail"' "$json"; then
        # HEAD fails there too, or it broke only what HEAD breaks: not this bug. The whole
        # range, then the first that is.
        "$bin" "${args[@]}" >/dev/null 2>&1 || true
        read -r found _ <<<"$(attributable "$json")"
    fi
    echo "$found"
}

# How many runs of a MANY-run sweep of scenario $2 with binary $1 find the bug (guided with a
# 3rd argument).
failing() {
    local bin=$1 scenario=$2 json=$scratch/results.json
    local args=(sweep "$scenario" --seeds "$FIRST..$((FIRST + MANY))" --jobs "$JOBS" --json "$json")
    if [[ $# -gt 2 ]]; then
        args+=(--guided --failures "$scratch/failures")
    fi
    "$bin" "${args[@]}" >/dev/null 2>&1 || true
    local count
    read -r _ count <<<"$(attributable "$json")"
    echo "$count"
}

# The median of the counts given ("-" counts as more than CAP); ">CAP" when that is where
# the median falls.
median() {
    printf '%s\n' "$@" | sed "s/^-\$/$((CAP + 1))/" | sort -n | awk -v cap="$CAP" '
        { v[NR] = $1 }
        END {
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            if (m > cap) print ">" cap; else print m
        }'
}

found() {
    local n=0 x
    for x in "$@"; do [[ $x != - ]] && n=$((n + 1)); done
    echo "$n/$#"
}

printf 'mutant\tscenario\tmode\tsweep\truns\n' >"$OUT"
table="| bug re-introduced (sim/mutants/) | swarm scenario | random: median runs | guided: median runs | random ÷ guided | found (random, guided) | runs finding it in $MANY (random, guided) |
|---|---|---|---|---|---|---|"
for mutant in $MUTANTS; do
    patch=$here/sim/mutants/$mutant.patch
    git -C "$tree" checkout --quiet -- .
    if ! git -C "$tree" apply "$patch"; then
        echo "guided-vs-random: $patch does not apply to HEAD any more: write it again" >&2
        exit 1
    fi
    echo "building the $mutant mutant..." >&2
    build "$mutant"
    bin=$scratch/failover-sim-$mutant
    for scenario in $(sed -n 's/^# Sweeps: //p' "$patch"); do
        random=() guided=()
        for k in $(seq 1 "$SWEEPS"); do
            r=$(first_failure "$bin" "$scenario" "$k")
            g=$(first_failure "$bin" "$scenario" "$k" guided)
            random+=("$r") guided+=("$g")
            printf '%s\t%s\trandom\t%s\t%s\n%s\t%s\tguided\t%s\t%s\n' \
                "$mutant" "$scenario" "$k" "$r" "$mutant" "$scenario" "$k" "$g" >>"$OUT"
            echo "$mutant $scenario sweep $k: random $r, guided $g" >&2
        done
        mr=$(median "${random[@]}") mg=$(median "${guided[@]}")
        ratio=$(awk -v r="$mr" -v g="$mg" 'BEGIN {
            if (g ~ />/) print "-"; else if (r ~ />/) printf "> %.1f", substr(r, 2) / g;
            else printf "%.2f", r / g }')
        many_r=$(failing "$bin" "$scenario") many_g=$(failing "$bin" "$scenario" guided)
        table+="
| $mutant | $scenario | $mr | $mg | $ratio | $(found "${random[@]}"), $(found "${guided[@]}") | $many_r, $many_g |"
    done
done

# The number of failing runs a sweep's report ($1) gives.
failed() { sed -n 's/.*; \([0-9]*\) failed$/\1/p' <<<"$1"; }
points() { sed -n 's/^coverage of the protocol: \([0-9]* of [0-9]*\) points.*/\1/p' <<<"$1"; }

coverage="| swarm scenario ($CAP runs from seed $FIRST) | random: points reached | guided: points reached | runs failing on HEAD (random, guided) |
|---|---|---|---|"
for scenario in $COVERAGE_SCENARIOS; do
    seeds=$FIRST..$((FIRST + CAP))
    plain=$("$fixed" sweep "$scenario" --seeds "$seeds" --jobs "$JOBS" 2>/dev/null) || true
    guided=$("$fixed" sweep "$scenario" --seeds "$seeds" --jobs "$JOBS" --guided \
        --failures "$scratch/failures" 2>/dev/null) || true
    coverage+="
| $scenario | $(points "$plain") | $(points "$guided") | $(failed "$plain"), $(failed "$guided") |"
    echo "coverage of $scenario: random $(points "$plain"), guided $(points "$guided")" >&2
done

echo
echo "Runs to the first failure of the bug (a run that passes on HEAD and breaks an invariant other than: $HEAD_BREAKS), medians over $SWEEPS sweeps each (seed ranges from $FIRST), at most $CAP runs a sweep:"
echo
echo "$table"
echo
echo "HEAD as it is:"
echo
echo "$coverage"
echo
echo "(every sweep's count: $OUT)"
