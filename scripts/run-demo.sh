#!/usr/bin/env bash
# run-demo.sh BUILD_DIR: used by `make run`. Creates ./packmail-data/users with
# a demo user (once), prints how to connect, then runs packmaild in the
# foreground on its default ports (Ctrl-C stops it cleanly).
set -euo pipefail
build=${1:?usage: run-demo.sh BUILD_DIR}
packmaild=$build/server/packmaild
packmailctl=$build/server/packmailctl
data=./packmail-data
demo_user=demo
demo_password=demo-password  # documented in README.md; a demo, never production

for bin in "$packmaild" "$packmailctl"; do
  [[ -x $bin ]] || { echo "run-demo.sh: $bin not built (run make build)" >&2; exit 1; }
done

if [[ ! -e $data/users ]] || ! "$packmailctl" user list --data-dir "$data" | grep -qx "$demo_user"; then
  printf '%s\n' "$demo_password" |
    "$packmailctl" user add "$demo_user" --data-dir "$data" --password-stdin >/dev/null
  echo "created user '$demo_user' in $data/users"
fi

cat <<EOT

packmail demo: data in $data
  IMAP   127.0.0.1:1143 (STARTTLS)    IMAPS  127.0.0.1:1993
  POP3   127.0.0.1:1110 (STLS)        POP3S  127.0.0.1:1995
  LMTP   127.0.0.1:2424               admin  http://127.0.0.1:8143/health
  user: $demo_user   password: $demo_password

  openssl s_client -connect 127.0.0.1:1993 -CAfile $data/tls/cert.pem
  curl http://127.0.0.1:8143/health
  $packmailctl user add NAME --data-dir $data     (no restart needed)

Ctrl-C stops packmaild.

EOT
exec "$packmaild" --data-dir "$data"
