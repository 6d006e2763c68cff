# jobcast — two commands: `make run` (needs only Go) and `make test`
# (needs Go, PostgreSQL and Redis on 127.0.0.1; see README.md).

GO        ?= go
BIN       ?= bin/jobcast
DATA_DIR  ?= ./data
TEST_TIMEOUT ?= 15m
BENCHTIME ?= 200ms

.PHONY: run build test test-short bench lint fmt vet clean

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

## bench: short benchmarks of every package
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count=1 -timeout $(TEST_TIMEOUT) ./...

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
