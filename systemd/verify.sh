#!/usr/bin/env bash
# Checks systemd/relais.service (or relais-web.service) the way systemd itself reads it:
#   1. `systemd-analyze verify`: syntax, unknown keys, and whether ExecStart is executable.
#      The unit names /opt/relais/.venv/bin/relais, which exists only on a server, so the
#      check runs on a copy whose ExecStart points at this checkout's relais instead;
#      nothing else is changed.
#   2. `systemd-analyze security --offline`: the exposure score must stay at or below
#      RELAIS_MAX_EXPOSURE (default 2.0 on systemd's 0-10 scale; the unit scores 1.3).
# Any warning about the unit counts as a failure: `verify` exits 0 on an unknown key.
#
# Usage: systemd/verify.sh [UNIT]     (default systemd/relais.service; RELAIS_BIN overrides
#                                      the relais that ExecStart is pointed at)
# Under CI=true a missing systemd-analyze is installed (Debian's systemd package); elsewhere
# the script fails and says so.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
unit="${1:-$here/relais.service}"
installed_bin="/opt/relais/.venv/bin/relais"
relais_bin="${RELAIS_BIN:-$repo/.venv/bin/relais}"
max_exposure="${RELAIS_MAX_EXPOSURE:-2.0}"

fail() {
    echo "verify.sh: $*" >&2
    exit 1
}

if ! command -v systemd-analyze >/dev/null; then
    if [[ "${CI:-}" == "true" ]]; then
        echo "verify.sh: installing systemd for systemd-analyze" >&2
        export DEBIAN_FRONTEND=noninteractive
        sudo_cmd=()
        [[ "$(id -u)" == 0 ]] || sudo_cmd=(sudo)
        "${sudo_cmd[@]}" apt-get update -qq
        "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends systemd >/dev/null
    else
        fail "systemd-analyze is missing: install Debian's systemd package (apt-get install systemd)"
    fi
fi

[[ -f "$unit" ]] || fail "no unit file at $unit"
[[ -x "$relais_bin" ]] || fail "$relais_bin is not executable: run \`make install\` first or set RELAIS_BIN"
grep -q "^ExecStart=$installed_bin " "$unit" || fail "ExecStart in $unit does not start $installed_bin"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The copy keeps its name: systemd derives the unit name (and %n, %d) from it.
name="$(basename "$unit")"
sed "s|$installed_bin|$relais_bin|g" "$unit" >"$work/$name"

# --man=no: the Documentation= link is a file on the server, not a man page.
if ! output="$(systemd-analyze verify --man=no "$work/$name" 2>&1)"; then
    fail "systemd-analyze verify refused the unit:"$'\n'"$output"
fi
if grep -qF "$name" <<<"$output"; then
    fail "systemd-analyze verify warned about the unit:"$'\n'"$output"
fi
echo "systemd-analyze verify: $name OK"

if ! report="$(systemd-analyze security --offline=yes --threshold=100 "$work/$name" 2>&1)"; then
    fail "systemd-analyze security could not score the unit:"$'\n'"$report"
fi
score="$(sed -n "s/.*Overall exposure level for ${name//./\\.}: \([0-9.]*\).*/\1/p" <<<"$report")"
[[ -n "$score" ]] || fail "no exposure score in:"$'\n'"$report"
echo "systemd-analyze security: exposure $score (at most $max_exposure allowed)"
awk -v score="$score" -v max="$max_exposure" 'BEGIN { exit !(score + 0 <= max + 0) }' ||
    fail "the unit's exposure $score is above $max_exposure:"$'\n'"$(grep '✗' <<<"$report")"
