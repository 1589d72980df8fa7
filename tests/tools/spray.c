/* spray: send crafted IPv4 TCP or UDP packets through a raw socket, as a hostile client
 * would: bare ACKs for connections that do not exist, SYNs from spoofed sources, replies
 * forged with a backend's source address. Checksums are correct. For the attack tests.
 *   spray --src ADDR[/LEN] --dst ADDR --dport PORT [--sport PORT] [--proto tcp|udp]
 *         [--flags S|A|SA|R|PA] [--count N] [--rate PPS] [--payload TEXT] [--same-sport]
 * With /LEN each packet takes the next address of the prefix; the source port counts up
 * from --sport (default 20000) for each packet, unless --same-sport. Prints "sent N". */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint16_t csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint8_t tcp_flags(const char *s)
{
	uint8_t f = 0;

	for (; *s; s++) {
		switch (*s) {
		case 'F': f |= 0x01; break;
		case 'S': f |= 0x02; break;
		case 'R': f |= 0x04; break;
		case 'P': f |= 0x08; break;
		case 'A': f |= 0x10; break;
		default:
			fprintf(stderr, "spray: --flags takes F, S, R, P, A\n");
			exit(2);
		}
	}
	return f;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"src", required_argument, NULL, 's'},	 {"dst", required_argument, NULL, 'd'},
		{"sport", required_argument, NULL, 'p'}, {"dport", required_argument, NULL, 'P'},
		{"proto", required_argument, NULL, 'o'}, {"flags", required_argument, NULL, 'f'},
		{"count", required_argument, NULL, 'n'}, {"rate", required_argument, NULL, 'r'},
		{"payload", required_argument, NULL, 'l'}, {"same-sport", no_argument, NULL, 'k'},
		{},
	};
	const char *src = NULL, *dst = NULL, *payload = "";
	unsigned long count = 1, rate = 0, i, sent = 0;
	unsigned int sport = 20000, dport = 0, plen_bits = 32, step = 1;
	uint8_t flags = 0x10, proto = IPPROTO_TCP, pkt[1500];
	struct in_addr s4, d4;
	struct sockaddr_in to = {.sin_family = AF_INET};
	uint32_t base, span;
	int fd, opt, one = 1;
	char buf[64], *slash;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': src = optarg; break;
		case 'd': dst = optarg; break;
		case 'p': sport = atoi(optarg); break;
		case 'P': dport = atoi(optarg); break;
		case 'o': proto = strcmp(optarg, "udp") ? IPPROTO_TCP : IPPROTO_UDP; break;
		case 'f': flags = tcp_flags(optarg); break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'r': rate = strtoul(optarg, NULL, 10); break;
		case 'l': payload = optarg; break;
		case 'k': step = 0; break;
		default: return 2;
		}
	}
	if (!src || !dst || !dport) {
		fprintf(stderr, "usage: spray --src ADDR[/LEN] --dst ADDR --dport PORT [...]\n");
		return 2;
	}
	snprintf(buf, sizeof(buf), "%s", src);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		plen_bits = atoi(slash + 1);
	}
	if (inet_pton(AF_INET, buf, &s4) != 1 || inet_pton(AF_INET, dst, &d4) != 1 ||
	    plen_bits < 8 || plen_bits > 32) {
		fprintf(stderr, "spray: --src and --dst are IPv4 addresses (/8../32)\n");
		return 2;
	}
	span = plen_bits == 32 ? 1 : 1u << (32 - plen_bits);
	base = ntohl(s4.s_addr) & ~(span - 1);
	to.sin_addr = d4;
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one))) {
		perror("spray: raw socket (needs root)");
		return 1;
	}
	for (i = 0; i < count; i++) {
		size_t l4 = proto == IPPROTO_TCP ? 20 : 8, plen = strlen(payload);
		size_t tot = 20 + l4 + plen;
		uint8_t *ip = pkt, *th = pkt + 20, pseudo[12];
		uint32_t saddr = htonl(span == 1 ? base : base + 1 + (uint32_t)(i % (span - 2)));
		uint16_t sp = (uint16_t)(sport + step * (i % 40000)), c;

		memset(pkt, 0, tot);
		ip[0] = 0x45;
		ip[2] = tot >> 8;
		ip[3] = tot & 0xff;
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, &saddr, 4);
		memcpy(ip + 16, &d4.s_addr, 4);
		c = csum(ip, 20, 0);
		ip[10] = c >> 8;
		ip[11] = c & 0xff;
		th[0] = sp >> 8;
		th[1] = sp & 0xff;
		th[2] = dport >> 8;
		th[3] = dport & 0xff;
		if (proto == IPPROTO_TCP) {
			uint32_t seq = htonl(0x10000000u + (uint32_t)i * 7919), ack = htonl(0x20000000u);

			memcpy(th + 4, &seq, 4);
			if (flags & 0x10)
				memcpy(th + 8, &ack, 4);
			th[12] = 5 << 4;
			th[13] = flags;
			th[14] = 0xff;
			th[15] = 0xff;
		} else {
			th[4] = (l4 + plen) >> 8;
			th[5] = (l4 + plen) & 0xff;
		}
		memcpy(th + l4, payload, plen);
		memcpy(pseudo, ip + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = proto;
		pseudo[10] = (l4 + plen) >> 8;
		pseudo[11] = (l4 + plen) & 0xff;
		{
			uint32_t sum = 0;
			size_t k;

			for (k = 0; k < 12; k += 2)
				sum += (uint32_t)pseudo[k] << 8 | pseudo[k + 1];
			c = csum(th, l4 + plen, sum);
			if (proto == IPPROTO_UDP && c == 0)
				c = 0xffff;
		}
		th[proto == IPPROTO_TCP ? 16 : 6] = c >> 8;
		th[proto == IPPROTO_TCP ? 17 : 7] = c & 0xff;
		if (sendto(fd, pkt, tot, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)tot)
			sent++;
		else if (errno != ENOBUFS)
			perror("spray: sendto");
		if (rate) {
			struct timespec ts = {0, (long)(1000000000ul / rate)};

			nanosleep(&ts, NULL);
		}
	}
	printf("sent %lu\n", sent);
	close(fd);
	return sent ? 0 : 1;
}
