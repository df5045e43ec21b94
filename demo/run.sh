#!/usr/bin/env bash
# Runs the xircd demo: a local Prosody with your account and an "echo"
# contact, and xircd connected to it, listening for IRC clients on
# 127.0.0.1:6667. Installs Prosody with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
if ! command -v prosody >/dev/null 2>&1; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "demo: installing prosody"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prosody >/dev/null
fi
mkdir -p .demo
CGO_ENABLED=0 go build -o .demo/xircd ./cmd/xircd
go build -o .demo/demo ./demo
exec .demo/demo -xircd .demo/xircd -dir .demo "$@"
