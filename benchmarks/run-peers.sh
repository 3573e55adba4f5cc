#!/usr/bin/env bash
# Benchmark our request signing/verification beside the Python peers (bench_peers.py).
#
# Creates benchmarks/.venv-peers (and benchmarks/.venv-peers/regent for regent-httpsig, which
# pins http-message-signatures<2.1), installs our package editable plus the peers of
# benchmarks/peers-requirements.txt one by one, then runs bench_peers.py with the arguments
# given here (e.g. --rounds 25 --number 300). A peer that fails to install is reported by the
# benchmark as skipped. Set PYTHON to choose the interpreter (3.11 or later).
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-python3}"
venv="$here/.venv-peers"
regent_venv="$venv/regent"
regent_requirement="regent-httpsig[aauth]>=0.7,<0.8"

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "run-peers.sh: $python is older than Python 3.11" >&2
    exit 2
}

make_venv() {  # make_venv DIR: create it unless it exists, then install our package
    local dir="$1"
    if [ ! -x "$dir/bin/python" ]; then
        "$python" -m venv "$dir" || return 1
    fi
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root" || return 1
}

make_venv "$venv" || { echo "run-peers.sh: cannot set up $venv" >&2; exit 1; }
while IFS= read -r line; do
    requirement="${line%%#*}"
    requirement="$(echo "$requirement" | tr -d '[:space:]')"
    [ -z "$requirement" ] && continue
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement" \
        || echo "run-peers.sh: could not install $requirement (the benchmark will skip it)" >&2
done < "$here/peers-requirements.txt"

if make_venv "$regent_venv"; then
    "$regent_venv/bin/python" -m pip install --quiet --disable-pip-version-check "$regent_requirement" \
        || echo "run-peers.sh: could not install $regent_requirement (skipped)" >&2
else
    echo "run-peers.sh: cannot set up $regent_venv (regent-httpsig skipped)" >&2
fi

exec "$venv/bin/python" "$here/bench_peers.py" --regent-python "$regent_venv/bin/python" "$@"
