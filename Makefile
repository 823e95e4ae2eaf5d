# hic: the hardened image catalog compiler.
#
#   make test    install and start what the tests need, then run every test
#   make demo    the main job, offline: generate a signed local mirror, build and sign the whole catalog into ./out, write the site (out/site)
#   make bench   the benchmarks behind BENCHMARKS.md
#   make hic     build ./bin/hic

GO      ?= go
HIC     := bin/hic
OUT     ?= out
JOBS    ?= $(shell nproc)

# hic inflates packages with ISA-L's igzip where Debian's libisal-dev is
# installed, else in pure Go; the bytes are the same, the speed is not
# (compiler/gunzip). ISAL=0 builds pure Go anyway. make test and make bench
# install libisal-dev (.ci/tools.sh), so they build with it.
ISAL    ?= $(shell test -f /usr/include/isa-l/igzip_lib.h && echo 1 || echo 0)
GOTAGS   = $(if $(filter 1,$(ISAL)),-tags=isal)
PLAIN_GOFLAGS := $(GOFLAGS)

.PHONY: all hic test vet demo bench tools clean

all: hic

hic:
	$(GO) build $(GOTAGS) -o $(HIC) ./cmd/hic

# Test tools (distribution registry, cosign, bubblewrap) are installed by
# .ci/tools.sh into .tools/bin; tests that need a registry start their own
# on 127.0.0.1 and stop it when they end.
tools:
	.ci/tools.sh

# Every go command of the tests and benchmarks, the hic binaries they build
# included, takes the isal tag from GOFLAGS.
test bench: export GOFLAGS = $(strip $(PLAIN_GOFLAGS) -tags=isal)

# Besides the tests: every Go file gofmt-clean, the catalog and schema in
# hic fmt's form, go.mod tidy, the race detector on the concurrent
# packages, and compiler/gunzip without the isal tag too.
test: tools hic
	$(GO) vet ./...
	GOFLAGS=$(PLAIN_GOFLAGS) $(GO) vet ./compiler/gunzip
	GOFLAGS=$(PLAIN_GOFLAGS) $(GO) test -count=1 ./compiler/gunzip
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt -l: $$bad"; exit 1; fi
	$(HIC) fmt --check catalog schema
	$(GO) mod tidy -diff
	@# The two fault-proxy tests of publish time out their retries under -race's
	@# slowdown; they run without -race below.
	PATH="$(CURDIR)/.tools/bin:$$PATH" $(GO) test -race -count=1 -timeout 20m -skip '^(TestPublishThroughFaults|TestRegistryGoesDown)$$' ./compiler/pipeline ./compiler/store ./compiler/load ./compiler/publish
	PATH="$(CURDIR)/.tools/bin:$$PATH" $(GO) test -count=1 -timeout 45m -skip '^TestTamper$$' ./...
	@# The tamper suite on its own, for its summary line (tamper: N attacks, N detected).
	@log=$$(mktemp) && if PATH="$(CURDIR)/.tools/bin:$$PATH" $(GO) test -count=1 -timeout 20m -run '^TestTamper$$' -v ./cmd/hic >$$log 2>&1; \
		then grep '^tamper:' $$log; rm -f $$log; else cat $$log; rm -f $$log; exit 1; fi

demo: hic
	$(HIC) vet
	test -f $(OUT)/keys/hic.key || $(HIC) keygen --out $(OUT)/keys
	$(HIC) mirror --out $(OUT)/mirror
	$(HIC) build --all --mirrors $(OUT)/mirror --out $(OUT) --key $(OUT)/keys/hic.key --jobs $(JOBS)
	$(HIC) verify --key $(OUT)/keys/hic.pub --layout $(OUT)/oci nginx:latest
	$(HIC) site --build $(OUT) --out $(OUT)/site --key $(OUT)/keys/hic.pub

bench: hic tools
	.ci/bench.sh

clean:
	rm -rf bin $(OUT)
