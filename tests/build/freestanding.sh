#!/usr/bin/env bash
# freestanding.sh: the BPF objects build the way a fresh Debian 12 machine builds them,
# without glibc's headers (no libc6-dev-i386 there: any glibc header reached from a
# -target bpf compile asks for gnu/stubs-32.h and fails). The Makefile compiles them
# with -nostdinc and a staged tree of kernel UAPI and libbpf headers only; this test
# checks that this is so, that each object compiles that way, and, as a control, that
# the original mistake (<linux/icmp.h>, which reaches <sys/socket.h>) fails there.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; }

flags=$(make -s --no-print-directory BUILD="$BUILD" print-BPF_CFLAGS)
clang=$(make -s --no-print-directory BUILD="$BUILD" print-CLANG)
res=$(make -s --no-print-directory BUILD="$BUILD" print-CLANG_RES)
make -s --no-print-directory BUILD="$BUILD" "$BUILD/bpf-include/.stamp" >/dev/null

case " $flags " in
*" -nostdinc "*) ok "BPF objects are compiled with -nostdinc" ;;
*) nok "BPF objects are compiled with -nostdinc (flags: $flags)" ;;
esac
case " $flags " in
*" -I/usr/include"* | *" -isystem /usr/include"*) nok "no system include directory is on the BPF include path ($flags)" ;;
*) ok "no system include directory is on the BPF include path" ;;
esac

# The staged tree holds only kernel UAPI and libbpf directories.
entries=$(cd "$BUILD/bpf-include" && ls -A | grep -v '^\.stamp$' | sort | tr '\n' ' ')
if [ "$entries" = "asm asm-generic bpf linux " ]; then
	ok "staged BPF include tree holds only asm, asm-generic, bpf, linux"
else
	nok "staged BPF include tree holds only asm, asm-generic, bpf, linux (has: $entries)"
fi

# Each object compiles with exactly those flags, and no header it read is glibc's.
for src in bpf/*.bpf.c; do
	name=$(basename "$src" .bpf.c)
	# shellcheck disable=SC2086 # flags are a list
	if $clang $flags -MD -MF "$tmp/$name.d" -c "$src" -o "$tmp/$name.o" 2>"$tmp/$name.err"; then
		ok "$src compiles without libc headers"
	else
		nok "$src compiles without libc headers: $(head -3 "$tmp/$name.err" | tr '\n' ' ')"
		continue
	fi
	# Every file the compile read is the source, our bpf/ headers, the staged tree or
	# clang's own freestanding headers.
	other=$(tr ' \\' '\n\n' <"$tmp/$name.d" | grep -v -e '^$' -e ':$' |
		grep -vE "^(bpf/|$BUILD/bpf-include/|$res/include/)" || true)
	if [ -z "$other" ]; then
		ok "$src reads only bpf/, the staged tree and clang's headers"
	else
		nok "$src reads only bpf/, the staged tree and clang's headers (also: $(echo $other))"
	fi
done

# Control: the header that broke the fresh machine must fail here too, or this test
# could not have caught it.
printf '#include <linux/icmp.h>\nint x;\n' >"$tmp/control.bpf.c"
# shellcheck disable=SC2086
if $clang $flags -c "$tmp/control.bpf.c" -o "$tmp/control.o" 2>"$tmp/control.err"; then
	nok "control: <linux/icmp.h> (reaches glibc) fails to compile with these flags"
else
	ok "control: <linux/icmp.h> (reaches glibc) fails to compile with these flags: $(grep -o "'[^']*' file not found" "$tmp/control.err" | head -1)"
fi
