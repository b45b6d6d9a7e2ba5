# atrest: see README.md. Every target works on a machine with Go alone;
# tools are fetched through the Go module proxy at pinned versions.

GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT   := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# Where make bench writes; the committed results of a machine live in
# results/<machine>/ (see results/README.md).
RESULTS     ?= results/$(shell hostname)
BENCHCOUNT  ?= 6
BENCHTIME   ?= 200ms
FUZZTIME    ?= 30s
# The user-mode emulator for the arm64 tests (Debian package qemu-user-static).
QEMU_ARM64  ?= qemu-aarch64-static

.PHONY: all test test-arm64 bench bench-dict bench-pebble encbench encbench-quick generate check-generate fuzz lint crash

all: lint test

# All tests: the whole suite on every kernel this CPU can run, again with
# the purego tag (portable kernels only), and a race-detector pass (-short
# trims iteration counts, never tests); then test-arm64 where the emulator
# is installed.
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -tags purego ./...
	$(GO) test -count=1 -race -short ./...
	@if command -v $(QEMU_ARM64) >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory test-arm64; \
	else \
		echo "make test: $(QEMU_ARM64) not on PATH, arm64 kernels NOT tested (apt-get install qemu-user-static)"; \
	fi

# The whole ctr and fuzz suites for GOARCH=arm64 under user-mode emulation,
# on two CPU models: max (AES and SM4: both armv8 kernels) and cortex-a57
# (AES only: SM4 must fall back to sm4-generic). ATREST_TEST_ARM64_CPU tells
# the dispatch test which model it runs on; ATREST_TEST_EXEC lets tests that
# start the test binary again start it under the emulator. Installs
# nothing: $(QEMU_ARM64) must be on PATH. Emulated timings say nothing
# about speed.
test-arm64:
	@for cpu in max cortex-a57; do \
		echo "== GOARCH=arm64 $(QEMU_ARM64) -cpu $$cpu"; \
		GOARCH=arm64 ATREST_TEST_ARM64_CPU=$$cpu ATREST_TEST_EXEC="$(QEMU_ARM64) -cpu $$cpu" \
			$(GO) test -count=1 -exec "$(QEMU_ARM64) -cpu $$cpu" ./ctr ./fuzz || exit 1; \
	done

# The kernel benchmark: every kernel against its baseline in the same
# process (crypto/cipher for AES, gmsm for SM4), summarised by benchstat as
# ratios. Raw output and summaries go to $(RESULTS).
bench:
	mkdir -p $(RESULTS)
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./ctr | tee $(RESULTS)/ctr-bench.txt
	$(GO) run $(BENCHSTAT) -col /kernel -filter '.name:(XOR OR RandomRead) -/method:sm4-ctr' $(RESULTS)/ctr-bench.txt > $(RESULTS)/ctr-vs-stdlib.txt
	$(GO) run $(BENCHSTAT) -col /kernel -filter '.name:(XOR OR RandomRead) /method:sm4-ctr' $(RESULTS)/ctr-bench.txt > $(RESULTS)/ctr-sm4-vs-gmsm.txt
	$(GO) run $(BENCHSTAT) -col /mode -filter '.name:Parallel' $(RESULTS)/ctr-bench.txt > $(RESULTS)/ctr-parallel.txt
	cat $(RESULTS)/ctr-vs-stdlib.txt $(RESULTS)/ctr-sm4-vs-gmsm.txt $(RESULTS)/ctr-parallel.txt

# The dictionary's figures (dict): group commit through the Manager against
# one fsync per operation and against the file system's own no-fsync
# ceiling (BenchmarkGroupCommitGain), opening 1,000,000 files, and an
# encrypted 4 KiB ReadAt against os plus the kernel. Group commit runs
# twice: where $(TMPDIR) is, and, as root with mkfs.ext4, on an ext4 with
# a journal mounted from a 4 GiB image on a loop device. File systems
# differ in what a create and an fsync cost, and the gain is bounded by
# their ratio: ext4 without a journal (this VM's root) makes creates after
# many deletes slow, so there even no fsync at all is only 3-7 times one
# fsync per operation.
DICTTEST := /tmp/atrest-dict.test
GROUPCOMMIT := $(DICTTEST) -test.run '^$$' -test.bench 'GroupCommitGain' -test.benchtime 15x -test.count $(BENCHCOUNT)
bench-dict:
	mkdir -p $(RESULTS)
	$(GO) test -c -o $(DICTTEST) ./dict
	$(GROUPCOMMIT) | tee $(RESULTS)/dict-group-commit.txt
	@if [ "$$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then \
		img=$$(mktemp /tmp/atrest-ext4.XXXXXX) && mnt=$$(mktemp -d /tmp/atrest-ext4-mnt.XXXXXX) && \
		truncate -s 4G $$img && mkfs.ext4 -q -F $$img && mount -o loop $$img $$mnt && \
		{ TMPDIR=$$mnt $(GROUPCOMMIT) | tee $(RESULTS)/dict-group-commit-journaled-ext4.txt; umount $$mnt; rm -f $$img; rmdir $$mnt; }; \
	else echo "bench-dict: not root or no mkfs.ext4: no run on a journaled ext4"; fi
	$(DICTTEST) -test.run '^$$' -test.bench 'Open1M' -test.count 3 | tee $(RESULTS)/dict-open1m.txt
	$(GO) test -run '^$$' -bench 'ReadAt4K' -count $(BENCHCOUNT) ./encfile | tee $(RESULTS)/dict-readat.txt

# What encryption costs Pebble (pebblefs): every method against
# plaintext in one process, rounds interleaved, medians compared
# (BenchmarkPebbleVsPlaintext), then the per-method workloads
# (BenchmarkPebble) summarised by benchstat against plaintext.
bench-pebble:
	mkdir -p $(RESULTS)
	$(GO) test -run '^$$' -bench 'PebbleVsPlaintext' -benchtime 1x -timeout 30m ./pebblefs | tee $(RESULTS)/pebble-vs-plaintext.txt
	$(GO) test -run '^$$' -bench 'Pebble$$' -benchtime 200000x -count $(BENCHCOUNT) -timeout 30m ./pebblefs | tee $(RESULTS)/pebble-bench.txt
	$(GO) run $(BENCHSTAT) -col /method $(RESULTS)/pebble-bench.txt > $(RESULTS)/pebble-methods.txt
	cat $(RESULTS)/pebble-methods.txt

# encbench: what each method costs on this machine, every workload, as a
# table and as reports (JSON, CSV, Markdown, chart) in $(RESULTS)/encbench.
# The quick run takes about a minute, the full one about a quarter hour.
# encbench-settle runs the quick one QUICKRUNS times and counts, per run,
# the file and engine figures (CPU and wall) whose overhead is noisy: how
# often a quick run on this machine gives figures that can be quoted.
QUICKRUNS ?= 5
.PHONY: encbench-settle
encbench:
	$(GO) run ./cmd/encbench --full --out $(RESULTS)/encbench

encbench-quick:
	$(GO) run ./cmd/encbench --quick --out $(RESULTS)/encbench-quick

encbench-settle:
	$(GO) build -o /tmp/atrest-encbench ./cmd/encbench
	mkdir -p $(RESULTS)/encbench-settle
	@for i in $$(seq 1 $(QUICKRUNS)); do \
		/tmp/atrest-encbench --quick --out $(RESULTS)/encbench-settle/run-$$i > /dev/null || exit 1; \
		awk -F, -v run=$$i -v load="$$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)" \
			'$$1 ~ /^(file|pebble)-/ && $$8 == "ns/op" && $$16 == "overhead" { n[$$7]++; if ($$21 == "true") noisy[$$7]++ } \
			END { printf "quick run %d (load %s): noisy overheads: cpu %d of %d, wall %d of %d\n", run, load, noisy["cpu"], n["cpu"], noisy["wall"], n["wall"] }' \
			$(RESULTS)/encbench-settle/run-$$i/encbench.csv; \
	done | tee $(RESULTS)/encbench-settle/summary.txt

# The crash tests at length: the dictionary's child process, online
# master-key rotation and re-encryption, then a Pebble DB on pebblefs,
# each killed with SIGKILL CRASHKILLS times (make test runs 200, 30, 24
# and 100); then encctl's inspecting commands beside a writing engine (a
# Manager, Pebble), killed BESIDEROUNDS times per engine (make test: once);
# then POWERCUTS simulated power cuts of the Manager on the crash-model
# file system (internal/crashfs; make test: 2000), and CRASHKILLS power
# cuts of Pebble on pebblefs over Pebble's crash-simulating MemFS with
# Pebble's metamorphic test on pebblefs for CRASHKILLS/20+1 seeds (make
# test: 300 cuts, 3 seeds).
CRASHKILLS ?= 2000
BESIDEROUNDS ?= 40
POWERCUTS ?= 100000
crash:
	ATREST_DICT_CRASH_KILLS=$(CRASHKILLS) $(GO) test -count=1 -timeout 60m -run '^TestCrashRecovery$$' -v ./dict
	ATREST_MK_CRASH_KILLS=$(CRASHKILLS) ATREST_DICT_REENC_KILLS=$(CRASHKILLS) \
		$(GO) test -count=1 -timeout 60m -run '^(TestMasterKeyRotationCrash|TestReencryptCrash)$$' -v ./operator
	ATREST_XVENDOR_KILLS=$(CRASHKILLS) $(GO) test -count=1 -timeout 60m -run '^TestCrossVendorRotationCrash$$' -v ./keyenv/awskms
	ATREST_PEBBLE_CRASH_KILLS=$(CRASHKILLS) $(GO) test -count=1 -timeout 60m -run '^TestCrashRecovery$$' -v ./pebblefs
	ATREST_PEBBLEV1_CRASH_KILLS=$(CRASHKILLS) ATREST_PEBBLEV1_POWERCUTS=$(CRASHKILLS) \
		$(GO) test -count=1 -timeout 60m -run '^(TestCrashRecovery|TestPowerCut)$$' -v ./pebblev1fs
	ATREST_LEVELDB_CRASH_KILLS=$(CRASHKILLS) ATREST_LEVELDB_POWERCUTS=$(CRASHKILLS) \
		$(GO) test -count=1 -timeout 60m -run '^(TestCrashRecovery|TestPowerCut)$$' -v ./leveldbstore
	ATREST_BESIDE_ROUNDS=$(BESIDEROUNDS) $(GO) test -count=1 -timeout 60m -run '^TestInspectorsBesideEngine$$' -v ./cmd/encctl
	ATREST_POWERCUTS=$(POWERCUTS) $(GO) test -count=1 -timeout 60m -run '^TestPowerCuts$$' -v ./dict
	ATREST_PEBBLE_POWERCUTS=$(CRASHKILLS) ATREST_PEBBLE_METAMORPHIC_RUNS=$$(( $(CRASHKILLS) / 20 + 1 )) $(GO) test -count=1 -timeout 60m -run '^(TestPowerCut|TestMetamorphic)$$' -v ./pebblefs

# Regenerate the assembly from the avo programs in ctr/asm.
generate:
	$(GO) generate ./...

# CI: the committed assembly must be exactly what the generators produce.
check-generate: generate
	git diff --exit-code -- ctr
	test -z "$$(git status --porcelain -- ctr)"

# Each fuzz target in turn (go test fuzzes one target at a time).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzAESCTR$$' -fuzztime $(FUZZTIME) ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzSM4CTR$$' -fuzztime $(FUZZTIME) ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzSealedBlob$$' -fuzztime $(FUZZTIME) ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzKeyringFile$$' -fuzztime $(FUZZTIME) ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzKeyringPayload$$' -fuzztime $(FUZZTIME) ./keyenv
	$(GO) test -run '^$$' -fuzz '^FuzzParseSealedBlob$$' -fuzztime $(FUZZTIME) ./keyenv
	$(GO) test -run '^$$' -fuzz '^FuzzFileDictHeader$$' -fuzztime $(FUZZTIME) ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzFileDictRecord$$' -fuzztime $(FUZZTIME) ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzFileDictSnapshot$$' -fuzztime $(FUZZTIME) ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzFileDictGroup$$' -fuzztime $(FUZZTIME) ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzFileDictLog$$' -fuzztime $(FUZZTIME) ./fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzExportDoc$$' -fuzztime $(FUZZTIME) ./fuzz

lint:
	test -z "$$(gofmt -l . | tee /dev/stderr)"
	$(GO) vet ./...
	GOOS=linux GOARCH=arm64 $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=linux GOARCH=arm64 $(GO) vet -tags purego ./ctr
	$(GO) run $(STATICCHECK) ./...
	cd ctr/asm && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...
