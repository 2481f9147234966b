# pgrunbook — build, test, demo.
# Everything here runs as root on a fresh Debian 12 machine: `make deps`
# installs what the lab needs when it is missing.

GO      ?= go
BIN     := bin/pgrunbook
PGBIN   := /usr/lib/postgresql/15/bin
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: all build deps test vet demo bench fuzz clean

all: build

# The binary is also the engine the playbook's steps ship to every host:
# without a symbol table and DWARF it is 30% smaller to send (16 MB, not 23),
# and -trimpath keeps the build machine's paths out of it. Panics still
# print their stacks.
BUILDFLAGS := -trimpath -ldflags='-s -w'

build:
	$(GO) build $(BUILDFLAGS) -o $(BIN) ./cmd/pgrunbook

# deps installs the system packages the lab and the tests need: OpenSSH's
# server for the lab hosts, sudo for become, PostgreSQL 15 for the clusters,
# ansible-core for the executor's side-by-side test and benchmark.
deps:
	@missing=""; \
	command -v /usr/sbin/sshd >/dev/null 2>&1 || missing="$$missing openssh-server"; \
	command -v sudo >/dev/null 2>&1 || missing="$$missing sudo"; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	test -x $(PGBIN)/postgres || missing="$$missing postgresql-15"; \
	command -v vagrant >/dev/null 2>&1 || missing="$$missing vagrant"; \
	command -v ansible-playbook >/dev/null 2>&1 || missing="$$missing ansible-core"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# test runs every test: unit and integration (the lab needs root).
test: deps vet
	$(GO) test -count=1 -timeout 25m ./...

demo: deps build
	bin/pgrunbook lab demo

# bench runs every benchmark, each contender side by side with its peer in
# one run, and prints their ratio tables:
#   - engine/rewindbench: pgrunbook's rewind against pg_rewind 15 on a
#     diverged pgbench pair, on loopback and through toxiproxy links (100
#     Mbit/s, 20 ms round trip); minutes of setup, rounds of every
#     contender in turn (medians reported);
#   - BenchmarkExecutorVsAnsible: `pgrunbook run` against ansible-core on
#     the same lab hosts, a 20-step no-op playbook on 1 and 4 hosts;
#   - BenchmarkRejoinFleet: rejoin.yml on 1 and on 4 old primaries, on
#     hosts sharing the machine's CPUs, then with a CPU budget per host;
#   - the rest (micro-benchmarks, the executor's per-step cost) three times.
# Knobs: PGRUNBOOK_BENCH_SCALE, PGRUNBOOK_BENCH_LINKS, PGRUNBOOK_BENCH_ROUNDS,
# PGRUNBOOK_BENCH_CONTENDERS, PGRUNBOOK_BENCH_SYNC, PGRUNBOOK_BENCH_DIR
# (engine/rewindbench/doc.go); PGRUNBOOK_BENCH_HOST_CPU, the CPU budget of
# each lab host in the fleet benchmark's second lab (0 = no second lab).
LAB_BENCH := ExecutorVsAnsible|RejoinFleet
bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./engine/rewindbench/
	$(GO) test -run '^$$' -bench '$(LAB_BENCH)' -benchtime 1x -timeout 30m ./cmd/pgrunbook/
	$(GO) test -run '^$$' -bench 'NoopStepLab' -benchtime 3x -timeout 30m ./cmd/pgrunbook/
	$(GO) test -run '^$$' -bench . -benchtime 3x $$($(GO) list ./... | grep -v -e /engine/rewindbench -e /cmd/pgrunbook)

# fuzz runs every parser fuzz target for FUZZTIME each (go test -fuzz takes
# one target at a time).
FUZZTIME ?= 1m
fuzz:
	$(GO) test ./engine/wal -run '^$$' -fuzz '^FuzzDecodeRecord$$' -fuzztime $(FUZZTIME)
	$(GO) test ./engine/wal -run '^$$' -fuzz '^FuzzDecodePage$$' -fuzztime $(FUZZTIME)
	$(GO) test ./engine/timeline -run '^$$' -fuzz '^FuzzParseHistory$$' -fuzztime $(FUZZTIME)
	$(GO) test ./engine/pgcontrol -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./engine/lsn -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./steps/pgconf -run '^$$' -fuzz '^FuzzParseRender$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
