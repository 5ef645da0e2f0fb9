#!/usr/bin/env bash
# The ways people install and run netkit, each checked for real (issue 23):
#   1. `cargo install --locked --path crates/netkit` gives a binary that serves a file;
#      the build script names the commit (and says `unknown` outside any git copy);
#   2. bash completes `netkit fi<TAB>` and `netkit http serve --up<TAB>`; zsh and fish
#      parse their scripts;
#   3. every man page renders without a warning;
#   4. the Containerfile passes hadolint and its HEALTHCHECK command passes against
#      a running `netkit up` (no container engine runs here: the recipe is linted);
#   5. the Debian package builds, installs, upgrades (reinstalls), `netkit --version`
#      and `man netkit` work, `systemd-analyze verify` passes on the installed unit,
#      and remove + purge leave nothing but the share.
# Step 5 installs into this machine's /usr (and adds then removes the system user
# `netkit`): run it on CI or a throwaway machine. scripts/test.sh runs this script and
# installs the tools it needs. Every step reuses one release build (CARGO_TARGET_DIR).

# The `bash -c '…' _ ARGS` checks expand their arguments inside, on purpose.
# shellcheck disable=SC2016
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
check() { # check NAME COMMAND...: one line per check, counted
  if "${@:2}"; then
    echo "ok   $1"; passed=$((passed + 1))
  else
    echo "FAIL $1"; failed=$((failed + 1))
  fi
}
declare -A took
timed() { # timed STEP FUNCTION: runs it and keeps its wall time
  local start=$SECONDS
  "$2"
  took[$1]=$((SECONDS - start))
}

# Starts `BIN ARGS...` in the background with stdout+stderr on fd `out`, waits (at
# most 10 s) for the first line naming a http:// address, sets `port`.
start_server() {
  exec {out}< <(exec "$@" 2>&1)
  server_pid=$!
  local line
  port=""
  while IFS= read -r -t 10 -u "$out" line; do
    if [[ $line =~ http://127\.0\.0\.1:([0-9]+) ]]; then port=${BASH_REMATCH[1]}; break; fi
  done
  [ -n "$port" ] || { echo "no ready line from $*" >&2; return 1; }
}
stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  exec {out}<&-
}

# 1. cargo install, and the build script's commit stamp.
step_cargo_install() {
  cargo build --release --locked -p netkit
  cargo install --locked --path crates/netkit --root "$tmp/root" --quiet
  bin=$tmp/root/bin/netkit
  mkdir -p "$tmp/share"
  echo "hello from netkit" > "$tmp/share/hello.txt"
  start_server "$bin" http serve --bind 127.0.0.1 --port 0 --quiet "$tmp/share"
  check "cargo install: the installed binary serves a file" \
    test "$(curl -fsS "http://127.0.0.1:$port/hello.txt")" = "hello from netkit"
  stop_server
  check "--version names the commit" \
    grep -Eq "^netkit [0-9.]+ \($(git rev-parse --short HEAD)(-dirty)?\)$" <<<"$("$bin" --version)"
  # The build script itself, run where no .git is reachable, and with NETKIT_COMMIT.
  local script
  script=$(find "$CARGO_TARGET_DIR"/release/build/netkit-*/ -name build-script-build \
    -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
  mkdir -p "$tmp/no-git"
  check "build.rs outside a git copy says unknown" grep -qx "cargo:rustc-env=NETKIT_COMMIT=unknown" \
    <<<"$(cd "$tmp/no-git" && env -u NETKIT_COMMIT GIT_CEILING_DIRECTORIES="$tmp" "$script")"
  check "build.rs takes NETKIT_COMMIT" grep -qx "cargo:rustc-env=NETKIT_COMMIT=abc1234" \
    <<<"$(cd "$tmp/no-git" && NETKIT_COMMIT=abc1234 "$script")"
}

# 2. Shell completions.
bash_completes() { # bash_completes SCRIPT EXPECTED WORD...: COMPREPLY for the last word has EXPECTED
  local script=$1 expected=$2
  shift 2
  bash --norc --noprofile -c '
    source "$1"; expected=$2; shift 2
    complete -p netkit | grep -q -- "-F _netkit" || exit 1
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _netkit netkit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}" | grep -qx -- "$expected"' _ "$script" "$expected" "$@"
}
step_completions() {
  "$bin" completions bash > "$tmp/netkit.bash"
  "$bin" completions zsh > "$tmp/_netkit"
  "$bin" completions fish > "$tmp/netkit.fish"
  check "bash: netkit fi<TAB> → files" bash_completes "$tmp/netkit.bash" files netkit "fi"
  check "bash: netkit http serve --up<TAB> → --upload" \
    bash_completes "$tmp/netkit.bash" --upload netkit http serve --up
  check "zsh parses its script" zsh -n "$tmp/_netkit"
  check "fish parses its script" fish --no-execute "$tmp/netkit.fish"
}

# 3. Man pages: one per command, none with a warning.
man_quiet() { # prints man's warnings for a page; fails when there are any
  local warnings
  warnings=$(MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null)
  [ -z "$warnings" ] || { echo "$1: $warnings" >&2; return 1; }
}
step_man() {
  "$bin" man "$tmp/man"
  local pages=("$tmp"/man/*.1)
  check "a page per command (netkit.1, netkit-http-serve.1, …: ${#pages[@]})" \
    test -s "$tmp/man/netkit.1" -a -s "$tmp/man/netkit-http-serve.1" -a ${#pages[@]} -ge 20
  # The check has teeth: a page with an unknown macro does warn.
  printf '.TH BAD 1\n.XX bad\n' > "$tmp/bad.1"
  check "man --warnings catches a bad page" bash -c '! man_quiet "$1" 2>/dev/null' _ "$tmp/bad.1"
  local page
  for page in "${pages[@]}"; do
    check "man renders $(basename "$page") without warnings" man_quiet "$page"
  done
}
export -f man_quiet

# 4. Container recipe: lint, and its health check against a live `netkit up`.
step_container() {
  # pip (scripts/test.sh) may put hadolint where PATH does not look yet (pyenv shims).
  local hadolint
  hadolint=$(command -v hadolint ||
    echo "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/hadolint")
  check "hadolint Containerfile" "$hadolint" Containerfile
  mkdir -p "$tmp/up"
  start_server "$bin" up "$tmp/up" --bind 127.0.0.1 --http-port 0 --files-port 0 \
    --tftp-port 0 --chat-port 0 --irc-port 0
  # The HEALTHCHECK's exec-form command, pointed at this server's port.
  local -a health
  mapfile -t health < <(python3 -c '
import json, re, sys
text = open("Containerfile").read().replace("\\\n", " ")
cmd = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", text, re.M).group(1)
for arg in json.loads(cmd):
    print(arg.replace("127.0.0.1:8000", "127.0.0.1:" + sys.argv[1]))' "$port")
  check "HEALTHCHECK passes on a running netkit up" env PATH="$tmp/root/bin:$PATH" "${health[@]}"
  stop_server
  check "HEALTHCHECK fails with nothing listening" \
    bash -c '! env PATH="$1:$PATH" "${@:2}" 2>/dev/null' _ "$tmp/root/bin" "${health[@]}"
}

# 5. The Debian package, installed, upgraded, removed and purged.
step_deb() {
  local deb
  deb=$(bash scripts/package-deb.sh | tail -n 1)
  check "cargo deb builds a package ($(du -k "$deb" | cut -f1) KiB)" test -s "$deb"
  $sudo dpkg -i "$deb" >/dev/null
  check "installed: netkit --version" grep -q "^netkit " <<<"$(/usr/bin/netkit --version)"
  check "installed: man netkit" bash -c 'MANWIDTH=80 man netkit | grep -q "netkit-http"'
  check "installed: systemd-analyze verify netkit.service, no warning" verify_quiet \
    /usr/lib/systemd/system/netkit.service
  check "installed: /etc/default/netkit sets NETKIT_ARGS" grep -q '^NETKIT_ARGS=' /etc/default/netkit
  check "installed: the share belongs to the system user netkit" \
    test "$(stat -c %U /srv/netkit)" = netkit
  check "installed: bash finds the completion" \
    test -s /usr/share/bash-completion/completions/netkit
  # The unit's ExecStart as its user, without new privileges or any capability
  # (NoNewPrivileges, CapabilityBoundingSet=): it serves the share and takes an upload.
  local exec_start flags="--upload --bind 127.0.0.1 --http-port 0 --files-port 0 --tftp-port 0 --chat-port 0 --irc-port 0"
  exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/netkit.service)
  # shellcheck disable=SC2086 # the unit's command line, split into words as systemd does
  start_server $sudo setpriv --reuid netkit --regid netkit --init-groups --no-new-privs \
    --bounding-set -all --inh-caps -all ${exec_start/\$NETKIT_ARGS/$flags}
  echo "uploaded" > "$tmp/upload.txt"
  check "service user: netkit up on /srv/netkit takes an upload" \
    curl -fsS -o /dev/null -T "$tmp/upload.txt" "http://127.0.0.1:$port/upload.txt"
  check "service user: the upload belongs to netkit" test "$(stat -c %U /srv/netkit/upload.txt)" = netkit
  stop_server
  # An upgrade over itself: the maintainer scripts run their upgrade paths.
  $sudo dpkg -i "$deb" >/dev/null
  check "upgrade: reinstall keeps it working" grep -q "^netkit " <<<"$(/usr/bin/netkit --version)"
  dpkg-query -L netkit > "$tmp/files"
  local conffiles
  conffiles=$(dpkg-query -W -f='${Conffiles}' netkit | awk '{print $1}')
  echo "kept" | $sudo tee /srv/netkit/user-file >/dev/null

  $sudo dpkg -r netkit >/dev/null
  check "remove: no file of the package left but its conffiles" \
    left_behind "$tmp/files" "$conffiles"
  $sudo dpkg --purge netkit >/dev/null
  check "purge: no file of the package left" left_behind "$tmp/files" ""
  check "purge: no systemd state left" bash -c '! ls /etc/systemd/system/netkit.service \
    /var/lib/systemd/deb-systemd-helper-*/netkit.service 2>/dev/null | grep -q .'
  check "purge: the system user is gone" bash -c '! getent passwd netkit'
  check "purge: the share and its files stay" test -s /srv/netkit/user-file
  $sudo rm -rf /srv/netkit
}
verify_quiet() { # systemd-analyze verify passes and prints nothing (unknown keys only warn)
  local said
  said=$(systemd-analyze verify "$1" 2>&1) || { echo "$said" >&2; return 1; }
  [ -z "$said" ] || { echo "$said" >&2; return 1; }
}
left_behind() { # left_behind LIST KEEP: fails if a file of LIST other than KEEP exists
  local path bad=0
  while IFS= read -r path; do
    [ -d "$path" ] && continue # shared directories (/usr/share/man/man1) stay
    grep -qxF -- "$path" <<<"$2" && continue
    if [ -e "$path" ] || [ -L "$path" ]; then echo "left behind: $path" >&2; bad=1; fi
  done < "$1"
  # The one directory only this package made must go too.
  if [ -e /usr/share/doc/netkit ]; then echo "left behind: /usr/share/doc/netkit" >&2; bad=1; fi
  return $bad
}

timed cargo_install step_cargo_install
timed completions step_completions
timed man step_man
timed container step_container
timed deb step_deb

echo "time (s): build+cargo install ${took[cargo_install]}, completions ${took[completions]}," \
  "man ${took[man]}, container ${took[container]}, deb ${took[deb]}"
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
