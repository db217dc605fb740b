# uxrp: uxrpd, the privilege-separated reverse proxy to Unix-socket origins.
# Plain make with pkg-config; `make` leaves ./uxrpd at the top.

PREFIX ?=	/usr/local
SBINDIR ?=	$(PREFIX)/sbin
MANDIR ?=	$(PREFIX)/share/man
EXAMPLEDIR ?=	$(PREFIX)/share/examples/uxrp
DESTDIR ?=

CC ?=		cc
PKG_CONFIG ?=	pkg-config
PYTHON ?=	/usr/bin/python3

PKGS =		libevent libevent_openssl openssl jansson libnghttp2
ifeq ($(shell uname -s),Linux)
PKGS +=		libbsd-overlay libseccomp
endif

WARNINGS =	-Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual \
		-Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS ?=	-O2 -g
CFLAGS +=	-std=c11 -D_GNU_SOURCE $(WARNINGS) -I. -Icommon -Imaster -Iworker \
		$(shell $(PKG_CONFIG) --cflags $(PKGS))
LDLIBS +=	$(shell $(PKG_CONFIG) --libs $(PKGS))

ifeq ($(SANITIZE),1)
OBJDIR =	obj-san
CFLAGS +=	-fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=undefined
LDFLAGS +=	-fsanitize=address,undefined
else
OBJDIR =	obj
endif

COMMON_SRCS =	$(sort $(wildcard common/*.c))
MASTER_SRCS =	$(filter-out master/uxrpctl.c,$(sort $(wildcard master/*.c)))
WORKER_SRCS =	$(sort $(wildcard worker/*.c))
SRCS =		$(COMMON_SRCS) $(MASTER_SRCS) $(WORKER_SRCS)
OBJS =		$(SRCS:%.c=$(OBJDIR)/%.o)
LIBOBJS =	$(filter-out $(OBJDIR)/master/main.o,$(OBJS))
HEADERS =	$(wildcard common/*.h master/*.h worker/*.h)

UNIT_SRCS =	$(sort $(wildcard regress/unit/test_*.c))
UNIT_BINS =	$(UNIT_SRCS:regress/unit/%.c=$(OBJDIR)/regress/%)

FUZZ_SRCS =	$(sort $(wildcard regress/fuzz/fuzz_*.c))
FUZZ_BINS =	$(FUZZ_SRCS:regress/fuzz/%.c=obj-fuzz/%)
FUZZ_LIBSRCS =	$(filter-out master/main.c master/uxrpctl.c,$(SRCS))
FUZZ_LIBOBJS =	$(FUZZ_LIBSRCS:%.c=obj-fuzz/%.o)
FUZZ_CFLAGS =	-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -I. -Icommon -Imaster -Iworker \
		$(shell $(PKG_CONFIG) --cflags $(PKGS))
FUZZ_SAN =	address,undefined
FUZZTIME ?=	60
FUZZSMOKE ?=	20000

ifeq ($(SANITIZE),1)
UXRPD_BIN =	$(OBJDIR)/uxrpd
UXRPCTL_BIN =	$(OBJDIR)/uxrpctl
else
UXRPD_BIN =	uxrpd
UXRPCTL_BIN =	uxrpctl
endif
CTL_OBJS =	$(OBJDIR)/master/uxrpctl.o $(COMMON_SRCS:%.c=$(OBJDIR)/%.o)

.PHONY: all clean check check-unit check-man check-integration \
	check-sanitize fuzz fuzz-smoke deps demo install bench

all: $(UXRPD_BIN) $(UXRPCTL_BIN)

$(OBJDIR)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(UXRPD_BIN): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(UXRPCTL_BIN): $(CTL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(CTL_OBJS) $(LDLIBS)

$(OBJDIR)/libuxrp.a: $(LIBOBJS)
	rm -f $@
	ar rcs $@ $(LIBOBJS)

$(OBJDIR)/regress/%: regress/unit/%.c $(OBJDIR)/libuxrp.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -I. -o $@ $< $(OBJDIR)/libuxrp.a \
	    $(LDLIBS) -lcmocka

unit: $(UNIT_BINS)

check-unit: $(UNIT_BINS)
	@rm -f regress/.results
	@sh regress/run-all.sh -u plain $(UNIT_BINS)
	@sh regress/summary.sh plain

check-man:
	@sh regress/check-man.sh man/*.[1-9]

check-integration: $(UXRPD_BIN) $(UXRPCTL_BIN)
	@UXRPD=$(CURDIR)/$(UXRPD_BIN) UXRPCTL=$(CURDIR)/$(UXRPCTL_BIN) $(PYTHON) -m pytest -q -p no:cacheprovider \
	    regress/integration

check-sanitize:
	@$(MAKE) --no-print-directory SANITIZE=1 all unit
	@UXRPD=$(CURDIR)/obj-san/uxrpd UXRPCTL=$(CURDIR)/obj-san/uxrpctl \
	    SANITIZE=1 PYTHON=$(PYTHON) \
	    sh regress/run-all.sh "ASan+UBSan" \
	    $(UNIT_SRCS:regress/unit/%.c=obj-san/regress/%)

# The whole suite: unit, manual, integration, fuzz smoke, then the unit
# and integration suites again under ASan+UBSan. Every stage records its
# results in regress/.results and the run goes on after a failure; the
# summary adds them up, names any stage that left no record, and its
# last line is the total.
check: all unit
	@rm -f regress/.results
	@UXRPD=$(CURDIR)/uxrpd UXRPCTL=$(CURDIR)/uxrpctl PYTHON=$(PYTHON) \
	    sh regress/run-all.sh plain $(UNIT_BINS)
	@sh regress/check-man.sh man/*.[1-9] || true
	@$(MAKE) --no-print-directory fuzz-smoke || true
	@$(MAKE) --no-print-directory check-sanitize || true
	@sh regress/summary.sh plain man fuzz ASan+UBSan

# Fuzz targets link an archive, so each takes only the objects it needs.
obj-fuzz/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

obj-fuzz/libuxrp.a: $(FUZZ_LIBOBJS)
	rm -f $@
	ar rcs $@ $(FUZZ_LIBOBJS)

obj-fuzz/%: regress/fuzz/%.c obj-fuzz/libuxrp.a $(HEADERS)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< \
	    obj-fuzz/libuxrp.a $(shell $(PKG_CONFIG) --libs $(PKGS))

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		n=$$(basename $$f); mkdir -p obj-fuzz/corpus-$$n; \
		s=regress/fuzz/corpus/$$n; [ -d $$s ] || s=; \
		echo "fuzz: $$n for $(FUZZTIME)s"; \
		$$f -max_total_time=$(FUZZTIME) -print_final_stats=1 \
		    obj-fuzz/corpus-$$n $$s || exit 1; \
	done

fuzz-smoke: $(FUZZ_BINS)
	@sh regress/fuzz-smoke.sh $(FUZZSMOKE) $(FUZZ_BINS)

deps:
	@sh regress/deps.sh

demo: all
	@PYTHON=$(PYTHON) sh etc/demo.sh

bench: all
	@sh regress/bench/run.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(EXAMPLEDIR) \
	    $(DESTDIR)$(EXAMPLEDIR)/rc.d
	install -m 0555 uxrpd $(DESTDIR)$(SBINDIR)/uxrpd
	install -m 0555 uxrpctl $(DESTDIR)$(SBINDIR)/uxrpctl
	install -m 0444 man/uxrpd.8 $(DESTDIR)$(MANDIR)/man8/uxrpd.8
	install -m 0444 man/uxrpctl.8 $(DESTDIR)$(MANDIR)/man8/uxrpctl.8
	install -m 0444 man/uxrpd.conf.5 $(DESTDIR)$(MANDIR)/man5/uxrpd.conf.5
	install -m 0444 etc/uxrpd.conf etc/error.css etc/uxrpd.service \
	    $(DESTDIR)$(EXAMPLEDIR)/
	install -m 0555 etc/rc.d/uxrpd $(DESTDIR)$(EXAMPLEDIR)/rc.d/uxrpd

clean:
	rm -rf obj obj-san obj-fuzz uxrpd uxrpctl regress/.results
