# Shell functions the measurement scripts share; sourced, not run.
#
# The sourcing script defines prog (its name, for messages) and die MSG
# (print MSG and exit), and keeps the pids of the members it started in
# the array pids.

# work_dir NAME sets work to WORK_DIR, kept at exit, or else to a new
# directory NAME.XXXXXX under TMPDIR, removed at exit; it empties pids and
# has every process left in it killed at exit.
work_dir() {
	if [[ -n ${WORK_DIR:-} ]]; then
		work="$WORK_DIR"
		mkdir -p "$work"
		keep_work=1
	else
		work="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
		keep_work=0
	fi
	pids=()
	trap cleanup_work EXIT
}

# cleanup_work kills what is left in pids and removes the work dir unless
# it was given.
cleanup_work() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	((keep_work)) || rm -rf "$work"
}

# adrbench_binary ROOT prints ADRBENCH when set, or else builds
# ./cmd/adrbench of the checkout at ROOT into the work dir and prints that.
adrbench_binary() {
	if [[ -n ${ADRBENCH:-} ]]; then
		[[ -x $ADRBENCH ]] || die "ADRBENCH=$ADRBENCH is not an executable file"
		echo "$ADRBENCH"
		return
	fi
	(cd "$1" && go build -o "$work/adrbench" ./cmd/adrbench) >&2 || die "building adrbench failed"
	echo "$work/adrbench"
}

# in_use reports whether something already listens on a loopback port.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# stop_members SECONDS stops the members in pids with SIGTERM, and with
# SIGKILL those still running SECONDS later, saying so; then empties pids.
stop_members() {
	local grace=$1 p deadline=$((SECONDS + $1))
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
		if kill -0 "$p" 2>/dev/null; then
			echo "$prog: member pid $p did not stop within $grace s of SIGTERM; killing it" >&2
			kill -KILL "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true
	done
	pids=()
}

# etcd_benchmark VERSION SCRATCH prints the path of etcd's benchmark tool:
# ETCD_BENCHMARK when set, else the copy cached in
# $ADRBENCH_CACHE/etcd-benchmark-VERSION (ADRBENCH_CACHE defaults to
# ${XDG_CACHE_HOME:-$HOME/.cache}/adrbench), built there the first time
# from etcd's Go module at VERSION: its source is copied under SCRATCH, the
# replace block of its go.mod (which points at sibling directories the
# module zip does not hold) is dropped so that its own modules come from
# the proxy at the same version, and ./tools/benchmark is built.
etcd_benchmark() {
	local version=$1 scratch=$2
	if [[ -n ${ETCD_BENCHMARK:-} ]]; then
		[[ -x $ETCD_BENCHMARK ]] || die "ETCD_BENCHMARK=$ETCD_BENCHMARK is not an executable file"
		echo "$ETCD_BENCHMARK"
		return
	fi
	local cache="${ADRBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/adrbench}"
	local bin="$cache/etcd-benchmark-$version"
	if [[ -x $bin ]]; then
		echo "$bin"
		return
	fi
	command -v go >/dev/null || die "building etcd's benchmark tool needs go; install it or set ETCD_BENCHMARK"
	echo "$prog: building etcd's benchmark tool $version into $bin" >&2
	local dir src
	dir="$(GOFLAGS=-mod=mod go mod download -json "go.etcd.io/etcd/v3@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[[ -n $dir && -d $dir ]] || die "go mod download of go.etcd.io/etcd/v3@$version gave no source directory"
	src="$scratch/etcd-src"
	cp -r "$dir/." "$src"
	chmod -R u+w "$src"
	sed -i '/^replace (/,/^)/d' "$src/go.mod"
	mkdir -p "$cache"
	(cd "$src" && GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" go build -o "$bin.tmp" ./tools/benchmark) >&2 ||
		die "building ./tools/benchmark of go.etcd.io/etcd/v3@$version failed"
	mv "$bin.tmp" "$bin"
	rm -rf "$src"
	echo "$bin"
}
