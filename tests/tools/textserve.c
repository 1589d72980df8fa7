/* textserve: a tiny exporter for the tests: serves the current contents of a file at
 * GET /metrics (Prometheus text format), re-reading it on every scrape.
 *   textserve ADDR PORT FILE
 *   textserve ADDR PORT --silent   listen, complete handshakes, never answer (a hung
 *                                  server, for timeout tests) */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *path;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (getdelim(&buf, &len, '\0', f) < 0) {
			free(buf);
			buf = NULL;
		}
		fclose(f);
	}
	r = MHD_create_response_from_buffer(buf ? strlen(buf) : 0, buf ? buf : (void *)"",
					    MHD_RESPMEM_MUST_COPY);
	free(buf);
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
	ret = MHD_queue_response(c, strcmp(url, "/metrics") ? 404 : 200, r);
	MHD_destroy_response(r);
	return ret;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: textserve ADDR PORT FILE|--silent\n");
		return 2;
	}
	path = argv[3];
	sa.sin_port = htons(atoi(argv[2]));
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (!strcmp(path, "--silent")) {
		/* The kernel completes handshakes into the backlog; nothing ever reads them. */
		int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
			fprintf(stderr, "textserve: cannot listen on %s:%s\n", argv[1], argv[2]);
			return 1;
		}
		sigprocmask(SIG_BLOCK, &set, NULL);
		sigwait(&set, &sig);
		close(fd);
		return 0;
	}
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, atoi(argv[2]), NULL, NULL, handler,
			     NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "textserve: cannot listen on %s:%s\n", argv[1], argv[2]);
		return 1;
	}
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
