# anydns — the two commands of the README, and the pieces they are made of.
#   make serve   install what is missing, build, serve Zones/ on 127.0.0.1/::1 port 5300
#   make test    install the test tools, check formatting, run unit and integration tests, a fuzz smoke run
#   make check   the inner loop: formatting, unit tests, the integration tests that need no package,
#                benchmark or reference-server comparison (make test stays the whole suite)
#   make lab     the multi-site anycast lab (root): BIRD2 router, three sites with ExaBGP, a client
#   make bench-reload   reload of a 100,000-name zone under dnsperf load (release build)
#   make bench   NSD, Knot DNS and anydns side by side (release build), queries then zone transfers
#   make soak    ten minutes of valid load, hostile traffic and reloads: memory and descriptors flat (release build)
#   make fuzz    libFuzzer + ASan on the query, zone file and configuration readers (README "Fuzzing")
#   make fuzz-smoke   a short run of every fuzz target; fails on any crash
#   make deb     the Debian package (.build/anydns_<version>_<arch>.deb), runs without the Swift toolchain
#   make install the static release build and its deployment files under PREFIX (README "Installing")

SWIFT ?= swift
PYTHON ?= /usr/bin/python3
ANYDNS_BIN ?= $(CURDIR)/.build/debug/anydns

.PHONY: all deps test-deps build release stamp serve test check unit-test integration-test lint format clean lab bench-reload bench \
	soak fuzz fuzz-smoke fuzz-build package-deps release-static install deb

all: build

deps:
	./scripts/install-deps.sh build

test-deps:
	./scripts/install-deps.sh test

build: deps stamp
	$(SWIFT) build

release: deps stamp
	$(SWIFT) build -c release

# The git commit `anydns --version` reports (scripts/stamp-build-info.sh).
stamp:
	./scripts/stamp-build-info.sh

serve: build
	$(ANYDNS_BIN) serve --zones-dir Zones

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift Fuzz

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift Fuzz

unit-test: build
	$(SWIFT) test

integration-test: build test-deps deb
	ANYDNS_BIN=$(ANYDNS_BIN) ANYDNS_DEB=$(DEB) $(PYTHON) -m pytest -q Tests/Integration

test: test-deps lint unit-test integration-test fuzz-smoke

check: test-deps lint unit-test
	ANYDNS_BIN=$(ANYDNS_BIN) $(PYTHON) -m pytest -q Tests/Integration --ignore=Tests/Integration/test_package.py \
	  --ignore=Tests/Integration/test_benchmark.py --ignore=Tests/Integration/test_differential.py

lab: build
	ANYDNS_BIN=$(ANYDNS_BIN) ./Lab/run-lab.sh

bench-reload: release
	./Benchmarks/reload-under-load.sh $(CURDIR)/.build/release/anydns

bench: release
	$(PYTHON) Benchmarks/bench.py --anydns $(CURDIR)/.build/release/anydns $(BENCH_ARGS)
	$(PYTHON) Benchmarks/xfr_bench.py --anydns $(CURDIR)/.build/release/anydns $(XFR_BENCH_ARGS)

soak: release
	$(PYTHON) Benchmarks/soak.py --anydns $(CURDIR)/.build/release/anydns $(SOAK_ARGS)
# Fuzzing (README "Fuzzing"). Each target runs on a copy of Fuzz/corpus/<target> in a temporary
# directory, so the committed corpus never grows; a crash input is left as crash-* in Fuzz/out/.
FUZZ_RUNS ?= 1000000
FUZZ_SMOKE_RUNS ?= 20000
FUZZ_TARGETS ?= query zonefile config
FUZZ_FLAGS ?=
FUZZ_SCRATCH ?= .build-fuzz
FUZZ_PRODUCT_query = FuzzQuery
FUZZ_PRODUCT_zonefile = FuzzZoneFile
FUZZ_PRODUCT_config = FuzzConfig
FUZZ_SWIFTFLAGS = -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING

fuzz-build:
	$(foreach t,$(FUZZ_TARGETS),$(SWIFT) build -c release --scratch-path $(FUZZ_SCRATCH) \
	  --product $(FUZZ_PRODUCT_$(t)) $(FUZZ_SWIFTFLAGS) &&) true

fuzz: fuzz-build
	FUZZ_RUNS=$(FUZZ_RUNS) ./scripts/run-fuzz.sh $(FUZZ_SCRATCH)/release "$(FUZZ_TARGETS)" $(FUZZ_FLAGS)

fuzz-smoke: fuzz-build
	FUZZ_RUNS=$(FUZZ_SMOKE_RUNS) ./scripts/run-fuzz.sh $(FUZZ_SCRATCH)/release "$(FUZZ_TARGETS)" $(FUZZ_FLAGS)

# Packaging (README "Installing"). The deployable binary links the Swift standard library and
# Foundation statically, so neither the package nor `make install` needs the toolchain's runtime.
# The version is BuildInfo.version (Sources/Operations/BuildInfo.swift), not repeated here.
VERSION := $(shell sed -n 's/^ *public static let version = "\(.*\)"$$/\1/p' Sources/Operations/BuildInfo.swift)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
STATIC_SCRATCH ?= .build-static
STATIC_BIN = $(CURDIR)/$(STATIC_SCRATCH)/release/anydns
# The package's version is the changelog's first entry (upstream version, Debian revision).
DEB_VERSION := $(shell awk 'NR == 1 { print $$2 }' Deploy/debian/changelog | tr -d '()')
DEB = $(CURDIR)/.build/anydns_$(DEB_VERSION)_$(DEB_ARCH).deb
PREFIX ?= /usr/local
DESTDIR ?=

package-deps:
	./scripts/install-deps.sh package

# --disable-local-rpath: no $ORIGIN RUNPATH, so /usr/bin is never searched for libraries.
release-static: deps stamp
	$(SWIFT) build -c release --static-swift-stdlib --disable-local-rpath --scratch-path $(STATIC_SCRATCH) \
	  --product anydns

install: release-static
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" ./scripts/install.sh $(STATIC_BIN)

deb: package-deps release-static
	./scripts/build-deb.sh $(STATIC_BIN) $(CURDIR)/.build

clean:
	rm -rf .build .build-fuzz .build-static Sources/CAnydnsSystem/generated
