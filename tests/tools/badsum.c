/* badsum: send one UDP datagram whose checksum is deliberately wrong, through a raw
 * socket (the kernel does not fix checksums of raw UDP). The integration tests use it
 * to prove that the receivers' checksum-error counters would catch a bad rewrite.
 *   badsum DST-ADDR DST-PORT   (IPv4 or IPv6) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = {};
	struct {
		uint16_t sport, dport, len, check;
		char payload[8];
	} __attribute__((packed)) dgram = {htons(40999), 0, htons(16), htons(0x1234), "badsum!"};
	socklen_t sl;
	int fd, fam;

	if (argc != 3) {
		fprintf(stderr, "usage: badsum DST-ADDR DST-PORT\n");
		return 2;
	}
	dgram.dport = htons(atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		fam = AF_INET;
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[1], &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		fam = AF_INET6;
		sl = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "badsum: '%s' is not an address\n", argv[1]);
		return 2;
	}
	ss.ss_family = fam;
	fd = socket(fam, SOCK_RAW, IPPROTO_UDP);
	if (fd < 0 || sendto(fd, &dgram, sizeof(dgram), 0, (struct sockaddr *)&ss, sl) < 0) {
		perror("badsum");
		return 1;
	}
	close(fd);
	return 0;
}
