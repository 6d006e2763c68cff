# jobcast — two commands: `make run` (needs only Go) and `make test`
# (needs Go, PostgreSQL and Redis on 127.0.0.1; see README.md).

GO        ?= go
# Build and test with the patched toolchain named in go.mod (fetched once
# through the Go module proxy): Go 1.26.8's net/http and crypto/tls have
# reachable vulnerabilities fixed in 1.26.9/1.26.10 (see docs/reliability.md).
export GOTOOLCHAIN ?= go1.26.10
BIN       ?= bin/jobcast
DATA_DIR  ?= ./data
TEST_TIMEOUT ?= 15m
BENCHTIME ?= 200ms

.PHONY: run build test test-short bench bench-full lint fmt vet clean

## run: build and start jobcast with the embedded default (SQLite in ./data, in-process broker) on :8080
run: build
	JOBCAST_DATA_DIR=$${JOBCAST_DATA_DIR:-$(DATA_DIR)} ./$(BIN)

## build: compile the jobcast binary into bin/
build:
	$(GO) build -trimpath -o $(BIN) ./cmd/jobcast

## test: the whole suite with the race detector (PostgreSQL/Redis tests fail under CI=true if absent)
test:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-short: the suite without the race detector
test-short:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## bench: the apply benchmarks (closed loop, bursts, and the open loop at 1,000/s), then the load scenarios (S1–S5) at LOAD_SCALE against a jobcast started
## for each (fresh SQLite dir, Redis db LOAD_REDIS); prints the reports and rewrites the generated
## section of docs/benchmarks.md (BENCH_DOCS) with them
LOAD_SCALE    ?= 0.2
LOAD_DURATION ?= 15s
LOAD_REDIS    ?= redis://127.0.0.1:6379/13
# -media-loopback: S5's media on 127.0.0.1 only (benchmarks talk to loopback)
LOAD_FLAGS    ?= -media-loopback
APPLY_BENCHTIME ?= 2000x
APPLY_BURSTS    ?= 1x
# BENCH_DOCS: the report whose generated section `make bench` rewrites (empty: none)
BENCH_DOCS      ?= docs/benchmarks.md
bench:
	$(GO) build -trimpath -o bin/jobcast ./cmd/jobcast
	$(GO) build -trimpath -o bin/jobcast-load ./cmd/jobcast-load
	@echo "== machine: $$(date -u +%FT%TZ); $$(uname -srm); $$(nproc) CPUs; $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); $$(free -g | awk '/Mem:/{print $$2" GiB"}'); $$($(GO) version | cut -d' ' -f3); load average$$(uptime | sed 's/.*load average//')"
	@$(GO) test -run '^$$' -bench 'ApplySustained' -benchtime $(APPLY_BENCHTIME) -count=1 -timeout $(TEST_TIMEOUT) ./cmd/jobcast > bin/apply-bench.txt 2>&1; \
		st=$$?; cat bin/apply-bench.txt; [ $$st -eq 0 ] || exit $$st
	@$(GO) test -run '^$$' -bench 'ApplyBurst' -benchtime $(APPLY_BURSTS) -count=1 -timeout $(TEST_TIMEOUT) ./cmd/jobcast > bin/apply-burst.txt 2>&1; \
		st=$$?; cat bin/apply-burst.txt >> bin/apply-bench.txt; cat bin/apply-burst.txt; [ $$st -eq 0 ] || exit $$st
	@$(GO) test -run '^$$' -bench 'ApplyRate' -benchtime 1x -count=1 -timeout $(TEST_TIMEOUT) ./cmd/jobcast > bin/apply-rate.txt 2>&1; \
		st=$$?; cat bin/apply-rate.txt >> bin/apply-bench.txt; cat bin/apply-rate.txt; [ $$st -eq 0 ] || exit $$st
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); \
	./bin/jobcast-load -spawn bin/jobcast -redis-url $(LOAD_REDIS) -scenario s1,s1b,s2,s3,s4,s5 \
		-scale $(LOAD_SCALE) -duration $(LOAD_DURATION) -json bin/bench-report.json -server-log bin/bench-server.log \
		$(if $(BENCH_DOCS),-docs $(BENCH_DOCS) -docs-extra bin/apply-bench.txt) $(LOAD_FLAGS)

## bench-full: the scenarios at the issue's sizes (S1 5,000 and S1b 10,000 viewers, S2 10,000, S3 5,000,
## S4 5,000 seekers at 1,000 applies/s, S5 400 WHEP viewers) and every package's go benchmarks
bench-full:
	$(MAKE) bench LOAD_SCALE=1 LOAD_DURATION=30s APPLY_BENCHTIME=20000x APPLY_BURSTS=3x
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count=1 -timeout $(TEST_TIMEOUT) ./...

## reliability: the fault and abuse suite (docs/reliability.md) — repeated crash runs,
## the reliability tests, short fuzz runs of every fuzz target, govulncheck
RELIABILITY_CRASH_RUNS ?= 10
FUZZTIME ?= 20s
GOVULNCHECK_VERSION ?= v1.1.4
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
VULNCHECK_STRICT ?= 1
# VULNDB: a vulnerability database URL (e.g. https://vuln.go.dev); empty = build
# one from golang.org/x/vulndb@VULNDB_VERSION fetched through the module proxy.
VULNDB ?=
.PHONY: reliability
reliability:
	RELIABILITY_CRASH_RUNS=$(RELIABILITY_CRASH_RUNS) $(GO) test -count=1 -timeout 40m -v \
		-run 'TestReliability|TestApplyWhileRedisDown|TestRedisRestartedEmpty|TestPubSubKilledWhileEventsFlow|TestFlushedRedisStartsNewEpoch|TestSlowConsumer' \
		./cmd/jobcast/ ./chat/
	@set -e; for t in ./cmd/jobcast:FuzzJSONBodies ./chat:FuzzMaskPII ./chat:FuzzDecodeClientMessage \
		./signaling:FuzzParseOffer ./signaling:FuzzParseFrag ./auth:FuzzVerify; do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$pkg $$fn for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; done
	@set -e; vc=$$($(GO) env GOPATH)/bin/govulncheck; ix=$$($(GO) env GOPATH)/bin/indexdb; \
	[ -x "$$vc" ] || $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION); \
	[ -x "$$ix" ] || $(GO) install golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) || true; \
	db=$(VULNDB); \
	if [ -z "$$db" ]; then \
		src=$$(cd "$${TMPDIR:-/tmp}" && GOFLAGS= $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) 2>/dev/null | sed -n 's/.*"Dir": "\(.*\)",/\1/p'); \
		if [ -n "$$src" ] && [ -x "$$ix" ]; then \
			out=$$(mktemp -d); "$$ix" -vulns "$$src/data/osv" -out "$$out"; db=file://$$out; \
			echo "govulncheck: database built from golang.org/x/vulndb@$(VULNDB_VERSION) (module proxy)"; \
		else echo "govulncheck: SKIPPED — golang.org/x/vulndb@$(VULNDB_VERSION) not available through the module proxy"; exit 0; fi; \
	fi; \
	if "$$vc" -db "$$db" ./...; then echo "govulncheck: clean"; \
	else echo "govulncheck: FINDINGS above (toolchain: $$($(GO) env GOVERSION)); set VULNCHECK_STRICT=1 to fail on them"; \
		[ "$(VULNCHECK_STRICT)" = 1 ] && exit 1 || true; fi

## lint: gofmt (must list nothing) and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
