# tcpship — `make` builds everything; see README.md for the rest.
.DELETE_ON_ERROR:
.SUFFIXES:

OUTPUT    ?= .output
CC        ?= cc
CLANG     ?= clang
BPFTOOL   ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
PYTHON    ?= /usr/bin/python3
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')

WARN      := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wstrict-prototypes
CFLAGS    ?= -O2 -g
CFLAGS    += $(WARN) -std=gnu11 -D_GNU_SOURCE -pthread -I$(OUTPUT) -Ibpf -Ishipper \
             -DTCPSHIP_VERSION='"$(VERSION)"'
LDLIBS    := -lbpf -lelf -lz -ldeflate -ljson-c -lyaml -lcurl -lssl -lcrypto -lsystemd -lrdkafka -lmicrohttpd -lcap-ng -lpthread
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Wno-unused-function \
             -I$(OUTPUT) -Ibpf

SHIPPER_SRC := $(shell find shipper -name '*.c')
OUTPUT_SRC  := $(shell find outputs -name '*.c')
HEADERS     := $(shell find shipper outputs -name '*.h')
LIB_SRC     := $(filter-out shipper/main.c,$(SHIPPER_SRC)) $(OUTPUT_SRC)
LIB_OBJ     := $(patsubst %.c,$(OUTPUT)/%.o,$(LIB_SRC))
MAIN_OBJ    := $(OUTPUT)/shipper/main.o
TRIG_SRC    := $(wildcard tests/trig/*.c)
TRIG_BIN    := $(patsubst tests/trig/%.c,$(OUTPUT)/trig/%,$(TRIG_SRC))
UNIT_SRC    := $(wildcard tests/unit/*.c)
BENCH_SRC   := $(wildcard tests/bench/*.c)
BENCH_BIN   := $(patsubst tests/bench/%.c,$(OUTPUT)/bench/%,$(BENCH_SRC))

.PHONY: all deps deps-test deps-bench run test test-unit test-integration test-vm bench clean install package

all: tcpship $(TRIG_BIN) $(OUTPUT)/unit-tests $(BENCH_BIN) $(OUTPUT)/lib/kafkamock

# --- kernel side: clang -> bpftool gen object -> bpftool gen skeleton ---
$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	@test -r $(VMLINUX_BTF) || { echo "tcpship: cannot read $(VMLINUX_BTF): the build needs a kernel with CONFIG_DEBUG_INFO_BTF=y (or set VMLINUX_BTF=FILE)" >&2; exit 1; }
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(OUTPUT)/tcpship.tmp.bpf.o: bpf/tcpship.bpf.c bpf/tcpship.h $(wildcard bpf/tcpship/*.h) $(OUTPUT)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/tcpship.bpf.o: $(OUTPUT)/tcpship.tmp.bpf.o
	$(BPFTOOL) gen object $@ $<

$(OUTPUT)/tcpship.skel.h: $(OUTPUT)/tcpship.bpf.o
	$(BPFTOOL) gen skeleton $< name tcpship_bpf > $@

# the bench's floor (count-only programs on the same hooks) and witness
# (what the kernel shows to BPF of each socket's life)
$(OUTPUT)/floor.tmp.bpf.o $(OUTPUT)/witness.tmp.bpf.o: $(OUTPUT)/%.tmp.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/floor.bpf.o $(OUTPUT)/witness.bpf.o: $(OUTPUT)/%.bpf.o: $(OUTPUT)/%.tmp.bpf.o
	$(BPFTOOL) gen object $@ $<

$(OUTPUT)/floor.skel.h $(OUTPUT)/witness.skel.h: $(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# --- user side ---
$(OUTPUT)/%.o: %.c $(HEADERS) bpf/tcpship.h $(OUTPUT)/tcpship.skel.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# Imports run one way: the core (shipper/) is compiled without outputs/ on
# its include path, so an include of a sink's header there does not build.
$(OUTPUT)/outputs/%.o: CFLAGS += -Ioutputs

$(OUTPUT)/libtcpship.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

tcpship: $(MAIN_OBJ) $(OUTPUT)/libtcpship.a
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(OUTPUT)/unit-tests: $(UNIT_SRC) $(OUTPUT)/libtcpship.a $(wildcard tests/unit/*.h)
	$(CC) $(CFLAGS) -Ioutputs -Itests/unit $(UNIT_SRC) $(OUTPUT)/libtcpship.a -o $@ $(LDLIBS) -lresolv

$(OUTPUT)/trig/%: tests/trig/%.c tests/trig/trig.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ -lpthread

# librdkafka's mock Kafka cluster, for the Kafka output's tests and bench
$(OUTPUT)/lib/kafkamock: tests/lib/kafkamock.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ -lrdkafka

$(OUTPUT)/bench/%: tests/bench/%.c $(OUTPUT)/libtcpship.a $(OUTPUT)/floor.skel.h \
		   $(OUTPUT)/witness.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ioutputs $< $(OUTPUT)/libtcpship.a -o $@ $(LDLIBS)

$(OUTPUT):
	mkdir -p $@

# --- the README's commands ---
deps:
	@packaging/deps.sh build

deps-test:
	@packaging/deps.sh test

deps-bench:
	@packaging/deps.sh bench

run: deps
	$(MAKE) tcpship
	./tcpship $(ARGS)

test: deps-test
	$(MAKE) all
	$(PYTHON) tests/run.py $(TESTS)

test-unit: all
	$(PYTHON) tests/run.py unit

# The kprobe set inside Debian 12's own kernel, booted in QEMU (tests/vm/).
# `make test` runs it too, or says why it is skipped; this target fails
# instead of skipping. VM_ACCEL=kvm only where /dev/kvm is real VT-x/AMD-V.
VM_ACCEL  ?= tcg
export VM_ACCEL

test-vm: deps-test
	$(MAKE) all
	TCPSHIP_VM_REQUIRED=1 $(PYTHON) tests/run.py vm/

bench: deps-bench
	$(MAKE) all
	$(PYTHON) tests/bench/bench.py $(BENCH_ARGS)

# a .deb of this build (packaging/package.sh): binary, unit, config, logrotate
package: tcpship
	@packaging/package.sh $(OUTPUT)

# the package's files (packaging/debian/rules runs it with DESTDIR)
install: tcpship
	install -D -m 0755 tcpship $(DESTDIR)/usr/sbin/tcpship
	install -D -m 0644 packaging/tcpship.service $(DESTDIR)/lib/systemd/system/tcpship.service
	install -D -m 0640 packaging/tcpship.yaml $(DESTDIR)/etc/tcpship/tcpship.yaml
	install -D -m 0644 packaging/tcpship.8 $(DESTDIR)/usr/share/man/man8/tcpship.8
	install -d $(DESTDIR)/usr/share/tcpship
	install -m 0644 schemas/event.schema.json schemas/clickhouse.sql schemas/clickhouse-kafka.sql \
		schemas/elasticsearch-template.json $(DESTDIR)/usr/share/tcpship/

clean:
	rm -rf $(OUTPUT) tcpship
