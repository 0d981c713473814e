#!/usr/bin/env bash
# Installs what the tests need when it is missing, then vets and tests the
# module. The e2e tests compare our server with real etcd and drive both with
# etcdctl (over TLS too, with certificates made by openssl), qualification
# runs fio, and the power-loss tests mount a FUSE file
# system (fusermount3 from fuse3, and /dev/fuse): without them those tests
# would skip, so CI installs them instead.
set -euo pipefail

cd "$(dirname "$0")/.."

declare -A package_of=([etcd]=etcd-server [etcdctl]=etcd-client [fio]=fio [fusermount3]=fuse3 [openssl]=openssl)
missing=()
packages=()
for tool in etcd etcdctl fio fusermount3 openssl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		missing+=("$tool")
		packages+=("${package_of[$tool]}")
	fi
done
if ((${#missing[@]} > 0)); then
	echo "test.sh: installing ${packages[*]} (missing: ${missing[*]})" >&2
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update
	# Debian's etcd-server package may try to start a service; the tests
	# start their own etcd processes on free ports, so it does not matter.
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "${packages[@]}"
fi

# The power-loss tests (internal/lossyfs, e2e TestPowerLoss) need /dev/fuse
# and, unless run as root, fusermount3. Without them they skip, and the
# durability of the real binary under power loss goes untested: say so
# where nobody can miss it.
if [[ ! -c /dev/fuse ]] || { [[ $(id -u) -ne 0 ]] && ! command -v fusermount3 >/dev/null 2>&1; }; then
	cat >&2 <<-'WARN'
	################################################################
	# test.sh: WARNING: FUSE is not available (no /dev/fuse, or not
	# root and no fusermount3). The power-loss tests will SKIP.
	# Load the module (modprobe fuse), or run the container with
	# --device /dev/fuse --cap-add SYS_ADMIN, and install fuse3.
	################################################################
	WARN
fi

go vet ./...
go test -race -timeout 30m ./...
