#!/usr/bin/env bash
# Install the real tools the real-host tests drive (Debian packages), when missing.
# Idempotent and quiet when everything is there; needs root (or sudo) to install.
set -euo pipefail
PKGS=(
  clamav clamav-daemon clamav-freshclam   # antivirus check: clamscan, clamd, sigtool
  clamdscan                                # antivirus check: scans through clamd
  faketime                                 # antivirus tests: sigtool builds an old database
  openssh-server sshpass rsyslog           # logs check: real sshd failures through rsyslog
  systemd-journal-remote                   # logs check: builds a real journal file
  chrony nftables iptables iproute2        # time and firewall checks, ss, netns
  util-linux login procps                  # lsblk, lastlog, ps
  sudo passwd logrotate                    # accounts: sudo -l, passwd -S; logs: copytruncate
  lynis                                    # the benchmark compares against lynis
  chromium chromium-driver                 # dashboard tests in a real headless browser
  libpango-1.0-0 libpangoft2-1.0-0         # report PDF (WeasyPrint)
  fonts-noto-cjk poppler-utils             # Chinese in the PDF; pdftoppm/pdftotext to look at it
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "test-deps: missing ${missing[*]} and no apt-get here; install them by hand" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
