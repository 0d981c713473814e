#!/usr/bin/env bash
# Installs what the tests need when it is missing, then vets and tests the
# module. The e2e tests compare our server with real etcd and drive both with
# etcdctl, and qualification runs fio: without them those tests would skip,
# so CI installs them instead.
set -euo pipefail

cd "$(dirname "$0")/.."

missing=()
for tool in etcd etcdctl fio; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
	echo "test.sh: installing etcd-server etcd-client fio (missing: ${missing[*]})" >&2
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update
	# Debian's etcd-server package may try to start a service; the tests
	# start their own etcd processes on free ports, so it does not matter.
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y etcd-server etcd-client fio
fi

go vet ./...
go test -race -timeout 30m ./...
