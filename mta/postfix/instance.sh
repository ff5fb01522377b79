#!/usr/bin/env bash
# A throwaway instance of the Postfix built by mta/postfix/build.sh, run from the build
# tree (nothing installed, the system's Postfix untouched):
#   mta/postfix/instance.sh start DIR --port N [--relayhost HOST:PORT] [--param NAME=VALUE]... [--chroot]
#   mta/postfix/instance.sh stop DIR
# Listens on 127.0.0.1:N. Without --relayhost every recipient in every domain is
# delivered by virtual(8) into the one Maildir DIR/mail/Maildir/ (each copy starts with
# Delivered-To: <recipient>; virtual(8) refuses regexp substitutions that would give
# per-user folders); with it, everything is relayed to HOST:PORT. The log is DIR/maillog (postlogd; no syslog needed).
# --chroot runs smtpd, smtp, relay and lmtp chrooted into the queue directory
# (DIR/queue), as Debian's master.cf does: paths those daemons open after the chroot
# (an XCRYPT cache file) are then paths inside it.
# Runs as root (master must), the daemons as the system's `postfix` user.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tree=${POSTFIX_TREE:-$repo/target/postfix/build/postfix-3.7.11}

usage() {
  sed -n 4,5p "$0" >&2
  exit 2
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/conf

stop() {
  local pidfile=$dir/queue/pid/master.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(tr -d ' \n' <"$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  # master ends its children on SIGTERM.
  kill -TERM "$pid"
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "instance.sh: master $pid did not stop" >&2
  return 1
}

case $cmd in
stop)
  stop
  exit
  ;;
start) ;;
*) usage ;;
esac

port=
relayhost=
params=()
chroot=n
while [ $# -gt 0 ]; do
  case $1 in
  --port) port=$2; shift 2 ;;
  --relayhost) relayhost=$2; shift 2 ;;
  --param) params+=("$2"); shift 2 ;;
  --chroot) chroot=y; shift ;;
  *) usage ;;
  esac
done
[ -n "$port" ] || usage
[ -x "$tree/libexec/master" ] || { echo "instance.sh: build first (mta/postfix/build.sh)" >&2; exit 1; }
stop

# The daemons' user and the maildrop group, as Debian's postfix package makes them (on a
# machine without that package).
getent group postfix >/dev/null || groupadd --system postfix
getent group postdrop >/dev/null || groupadd --system postdrop
id postfix >/dev/null 2>&1 || useradd --system -g postfix -d /var/spool/postfix -s /usr/sbin/nologin postfix
uid=$(id -u postfix)
gid=$(id -g postfix)
mkdir -p "$conf" "$dir/queue" "$dir/data" "$dir/mail"
# The queue layout postfix-files would create; master and the daemons need it to exist.
for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
  install -d -o postfix -g postfix -m 0700 "$dir/queue/$d"
done
install -d -o root -g root -m 0755 "$dir/queue/pid"
install -d -o postfix -g postdrop -m 0730 "$dir/queue/maildrop"
install -d -o postfix -g postdrop -m 0710 "$dir/queue/public"
chown postfix:postfix "$dir/data" "$dir/mail"
chmod 0755 "$dir" "$conf"

cat >"$conf/main.cf" <<EOF
# Written by mta/postfix/instance.sh for a throwaway test instance.
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
daemon_directory = $tree/libexec
command_directory = $tree/bin
meta_directory = $tree/conf
shlib_directory = no
sendmail_path = $tree/bin/sendmail
newaliases_path = $tree/bin/newaliases
mailq_path = $tree/bin/mailq
html_directory = no
manpage_directory = no
sample_directory = no
readme_directory = no
mail_owner = postfix
setgid_group = postdrop
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = mx.e2e.test
mydomain = e2e.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
smtpd_recipient_restrictions = permit_mynetworks, reject
smtputf8_enable = no
biff = no
message_size_limit = 52428800
EOF
if [ -n "$relayhost" ]; then
  cat >>"$conf/main.cf" <<EOF
relayhost = [${relayhost%:*}]:${relayhost##*:}
relay_domains =
EOF
else
  cat >>"$conf/main.cf" <<EOF
virtual_mailbox_domains = static:all
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
EOF
fi
for p in "${params[@]}"; do
  printf '%s\n' "$p" >>"$conf/main.cf"
done

# chroot (column 5) off for every daemon but, with --chroot, the four that run XCRYPT:
# the instance's other paths are outside any chroot.
cat >"$conf/master.cf" <<EOF
127.0.0.1:$port inet n - $chroot - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - $chroot - - smtp
relay     unix - - $chroot - - smtp
lmtp      unix - - $chroot - - lmtp
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
tlsmgr    unix - - n 1000? 1 tlsmgr
EOF

"$tree/bin/postconf" -c "$conf" -n >/dev/null
"$tree/libexec/master" -c "$conf" -w
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
echo "instance.sh: Postfix on 127.0.0.1:$port (config $conf, log $dir/maillog)"
