#!/usr/bin/perl
# cdp.pl: a minimal client of the Chrome DevTools protocol, for tests that act in a page
# the way a person would (type, click) and read what it then shows.
#   cdp.pl PORT URL-PREFIX < EXPRESSIONS
# Connects to the browser started with --remote-debugging-port=PORT on 127.0.0.1, takes
# the page whose URL starts with URL-PREFIX, and evaluates each line of standard input
# in it as one JavaScript expression (a promise is awaited), printing each value on a
# line of its own. Exits 1 on an exception, naming the expression.
use strict;
use warnings;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use JSON::PP;

my ($port, $prefix) = @ARGV;
die "usage: $0 PORT URL-PREFIX < EXPRESSIONS\n" unless defined $prefix;

sub http_get {
	my ($path) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10)
	    or die "cdp: cannot connect to 127.0.0.1:$port: $!\n";
	# HTTP/1.1 (the DevTools server takes no 1.0), read to its Content-Length.
	print $s "GET $path HTTP/1.1\r\nHost: 127.0.0.1:$port\r\n\r\n";
	my $head = '';
	while ($head !~ /\r\n\r\n$/) {
		my $c = getc($s);
		return '' unless defined $c;
		$head .= $c;
	}
	my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
	my $body = '';
	while (defined $len && length($body) < $len) {
		last unless read($s, $body, $len - length($body), length($body));
	}
	close($s);
	return $body;
}

# The page's websocket, waiting for it to appear (the browser may still be loading).
my $ws;
for (1 .. 100) {
	my $list = eval { decode_json(http_get('/json/list')) } || [];
	($ws) = map { $_->{webSocketDebuggerUrl} }
	    grep { $_->{type} eq 'page' && index($_->{url}, $prefix) == 0 } @$list;
	last if $ws;
	select(undef, undef, undef, 0.1);
}
die "cdp: no page at $prefix\n" unless $ws;
my ($path) = $ws =~ m{^ws://[^/]+(/.*)$};

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 30)
    or die "cdp: cannot connect: $!\n";
my $key = encode_base64(join('', map { chr(int(rand(256))) } 1 .. 16), '');
print $s "GET $path HTTP/1.1\r\nHost: 127.0.0.1:$port\r\nUpgrade: websocket\r\n"
    . "Connection: Upgrade\r\nSec-WebSocket-Key: $key\r\nSec-WebSocket-Version: 13\r\n\r\n";
my $head = '';
$head .= getc($s) while $head !~ /\r\n\r\n$/;
die "cdp: websocket refused: $head\n" unless $head =~ m{^HTTP/1.1 101};

sub readn {
	my ($n) = @_;
	my $buf = '';
	while (length($buf) < $n) {
		my $got = read($s, $buf, $n - length($buf), length($buf));
		die "cdp: connection closed\n" unless $got;
	}
	return $buf;
}

# A text frame, masked as a client must.
sub send_text {
	my ($text) = @_;
	my $len = length($text);
	my $hdr = chr(0x81) . ($len < 126 ? chr(0x80 | $len)
	    : $len < 65536 ? chr(0x80 | 126) . pack('n', $len) : chr(0x80 | 127) . pack('Q>', $len));
	my $mask = join('', map { chr(int(rand(256))) } 1 .. 4);
	my $i = 0;
	(my $body = $text) =~ s/(.)/chr(ord($1) ^ ord(substr($mask, $i++ % 4, 1)))/gse;
	print $s $hdr . $mask . $body;
}

# The next whole message (continuation frames joined); pings are ignored.
sub recv_text {
	my $msg = '';
	while (1) {
		my ($b0, $b1) = map { ord } split //, readn(2);
		my $len = $b1 & 0x7f;
		$len = unpack('n', readn(2)) if $len == 126;
		$len = unpack('Q>', readn(8)) if $len == 127;
		my $data = $len ? readn($len) : '';
		my $op = $b0 & 0x0f;
		next if $op == 9 || $op == 10;
		$msg .= $data;
		return $msg if $b0 & 0x80;
	}
}

my $id = 0;
while (my $expr = <STDIN>) {
	chomp $expr;
	next if $expr =~ /^\s*(#|$)/;
	my $r;
	for my $try (1 .. 50) {
		send_text(encode_json({id => ++$id, method => 'Runtime.evaluate',
		    params => {expression => $expr, awaitPromise => JSON::PP::true,
		    returnByValue => JSON::PP::true}}));
		do { $r = decode_json(recv_text()) } until defined $r->{id} && $r->{id} == $id;
		# The page may still be committing its navigation: evaluate again in the new one.
		last unless $r->{error} && $r->{error}{message} =~ /context was destroyed|Cannot find context/;
		select(undef, undef, undef, 0.1);
	}
	if ($r->{error} || $r->{result}{exceptionDetails}) {
		my $d = $r->{error} ? $r->{error}{message} : $r->{result}{exceptionDetails}{exception}{description};
		print STDERR "cdp: '$expr' failed: " . ($d // 'exception') . "\n";
		exit 1;
	}
	my $v = $r->{result}{result}{value};
	print((defined $v ? (ref $v ? encode_json($v) : $v) : 'undefined') . "\n");
}
