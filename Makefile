# ffsqlite developer tasks. The sqlc and goose CLIs are pinned in tools/go.mod
# and run through `go tool`, so they never enter the library's import graph.
SHELL := /bin/bash
SQLC  := go tool -modfile=tools/go.mod sqlc
GOOSE := go tool -modfile=tools/go.mod goose
DB    ?= ffdemo.db

.PHONY: all demo test vet generate check-generated fuzz bench soak migrate-status

all: test

## demo: a real end-to-end run on an embedded SQLite file (ffdemo.db).
demo:
	FF_DEV_MODE=1 go run ./cmd/demo -db $(DB)

## test: vet, generated-code drift check, race-enabled tests.
test: vet check-generated
	FF_DEV_MODE= go test -race -count=1 ./...

vet:
	go vet ./...
	cd bench && go vet ./...

## generate: empty dbgen/ and regenerate it from queries/ and migrations/.
generate:
	rm -rf dbgen
	$(SQLC) generate

## check-generated: regenerate into a scratch copy and fail on any difference
## from the committed dbgen/ (changed, missing or stray files).
check-generated:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp -r sqlc.yaml migrations queries "$$tmp"/; \
	$(SQLC) -f "$$tmp/sqlc.yaml" generate; \
	if ! diff -ru "$$tmp/dbgen" dbgen; then \
		echo "dbgen/ is out of date: run 'make generate' and commit the result" >&2; exit 1; \
	fi; \
	echo "dbgen/ matches the pinned sqlc output"

## soak: 20 rounds of SIGKILLing a worker process mid-run over 10,000
## executions; every round must lose nothing and complete nothing twice.
soak:
	FF_DEV_MODE= FFSQLITE_SOAK_ROUNDS=20 FFSQLITE_SOAK_EXECUTIONS=10000 \
		go test ./tests -run '^TestWorkerKilledMidRun$$' -count=1 -timeout 60m -v

## fuzz: run every decoder fuzz target for FUZZTIME each (their seed
## corpora already run in make test).
FUZZTIME ?= 60s
FUZZ_TARGETS := FuzzDecodeHandle FuzzVerifyToken FuzzParseStreamCursor FuzzParseExecutionID \
	FuzzParseUUIDIDs FuzzParseLaneAndPartition FuzzEventCursor FuzzStoredPolicy
fuzz:
	for t in $(FUZZ_TARGETS); do \
		go test ./backend -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

## bench: the benchmark module (separate go.mod): ffsqlite vs raw SQLite,
## River and goqite; prints markdown tables, writes JSON to bench/results/.
bench:
	cd bench && FF_DEV_MODE=1 go run ./cmd/ffbench

## migrate-status: goose CLI over the same migration files (dev use).
migrate-status:
	$(GOOSE) -dir migrations sqlite3 $(DB) status
