# SPDX-License-Identifier: GPL-2.0
#
# kho-rs: out-of-tree Rust KHO module.
#
#   make            build kho_rs.ko against KDIR (default: the cached KERNEL
#                   that scripts/setup.sh builds; run `make setup` first)
#   make demo       set up if needed, boot, preserve, kexec, verify, report
#   make check      every test: host cargo tests, KUnit via kunit.py, QEMU tests
#   make stress     only the selftest's random-damage section: SEEDS=N seeds
#                   (default 20) from KHO_RS_DAMAGE_SEED (default: from the commit)
#   make setup      install dependencies and build/cache the kernel
#   make bench      the benchmarks (Rust/C ratios) on the bench kernel: like the test
#                   kernel without its debug options, -O2; built and cached on first use
#
#   KERNEL=7.3|7.2  which cached kernel to use (default 7.3)
#   KDIR=/path      your own built kernel tree instead: nothing is downloaded
#                   or built. Only a KDIR *you* pass (command line or
#                   environment) does that; the default points into the cache.
#   make clippy     build with CLIPPY=1
#   make fmt-check  rustfmt --check on every .rs file
#   make fuzz       fuzz every decoder on the host, FUZZ_SECONDS (default 60) s each
#   make clean

KHO_RS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kho-rs
KERNEL ?= 7.3
ifneq ($(filter command line environment,$(origin KDIR)),)
KHO_RS_USER_KDIR := $(KDIR)
else
KHO_RS_USER_KDIR :=
KDIR := $(KHO_RS_CACHE)/kdir-$(KERNEL)
endif
export KHO_RS_CACHE KDIR KERNEL KHO_RS_USER_KDIR

# Kernel-build environment (LIBCLANG_PATH for bindgen, ~/.cargo/bin on PATH).
ENV_SH := $(KHO_RS_CACHE)/env.sh
RUN = set -e; if [ -f $(ENV_SH) ]; then . $(ENV_SH); fi;

.PHONY: all modules setup demo check check-host check-kunit check-qemu clippy \
	fmt-check fuzz clean rust-analyzer stress bench

all: modules

# MO=DIR puts the objects and kho_rs.ko in DIR instead of the tree (make check builds
# each kernel's module in out/build-<version>); CLIPPY=1 builds with clippy-driver and
# W=1, which emits the same module.
KBUILD_ARGS = M=$(CURDIR) $(if $(MO),MO=$(abspath $(MO))) $(if $(filter 1,$(CLIPPY)),CLIPPY=1 W=1)

modules:
	@$(RUN) test -f $(KDIR)/Module.symvers || { \
		echo "No built kernel at KDIR=$(KDIR): run 'make setup KERNEL=$(KERNEL)' or pass KDIR=" >&2; \
		exit 1; }; \
	$(if $(MO),mkdir -p $(MO);) $(MAKE) -C $(KDIR) $(KBUILD_ARGS) modules

setup:
	@bash scripts/setup.sh all $(KERNEL)

demo: setup
	@$(MAKE) --no-print-directory modules
	@bash scripts/demo.sh

# Every supported kernel (KHO_RS_KERNELS, default 7.3 and 7.2) unless KDIR is given.
KHO_RS_KERNELS ?= 7.3 7.2
export KHO_RS_KERNELS

# setup.sh installs the tools; check.sh builds the kernels (the second while the first
# one's tests run) and runs every test.
check:
	@bash scripts/setup.sh deps
	@bash scripts/check.sh

check-host:
	@bash scripts/check.sh host

check-kunit:
	@bash scripts/check.sh kunit

check-qemu:
	@bash scripts/check.sh qemu

# The benchmarks on the bench kernel (kernel-bench.config: no debug options, -O2),
# built and cached on first use; MASK=1|2|4 (radix, vmalloc, block), default 7.
MASK ?= 7
bench:
	@bash scripts/setup.sh deps
	@bash scripts/bench.sh $(MASK)

SEEDS ?= $(or $(KHO_RS_DAMAGE_SEEDS),20)
stress: modules
	@KHO_RS_SELFTEST_ONLY=damage KHO_RS_DAMAGE_SEEDS=$(SEEDS) bash selftests/kho_rs_kexec.sh

clippy:
	@$(MAKE) --no-print-directory modules CLIPPY=1

fmt-check:
	@rustfmt --edition 2021 --check $$(git ls-files '*.rs')

FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

rust-analyzer:
	@$(RUN) $(MAKE) -C $(KDIR) M=$(CURDIR) rust-analyzer

clean:
	@if [ -d $(KDIR) ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi
	@rm -rf out
