/* textserve: a tiny HTTP server for the tests.
 *   textserve ADDR PORT FILE       serve FILE's current contents at GET /metrics
 *                                  (Prometheus text format), re-read on every scrape
 *   textserve ADDR PORT --silent   listen, complete handshakes, never answer (a hung
 *                                  server, for timeout tests)
 *   textserve ADDR PORT --answers DIR
 *                                  answer each request, whatever its path, with the next
 *                                  file of DIR in name order, round and round: X.json is
 *                                  a 200 with X's body, X.status500 a 500, X.redirect a
 *                                  302 to the URL in X, X.slow X's body after 3 s. Each
 *                                  answer is logged to stdout ("N NAME"): a hostile
 *                                  Prometheus, for canaryd's tests. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>
#include <pthread.h>

static const char *path;
static char **answers;
static unsigned int nanswers, next_answer;
static pthread_mutex_t answer_lock = PTHREAD_MUTEX_INITIALIZER;

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_answers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4096];

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char **na;

		if (e->d_name[0] == '.')
			continue;
		na = realloc(answers, (nanswers + 1) * sizeof(*answers));
		if (!na)
			return -1;
		answers = na;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		answers[nanswers++] = strdup(p);
	}
	closedir(d);
	qsort(answers, nanswers, sizeof(*answers), name_cmp);
	return nanswers ? 0 : -1;
}

static char *slurp(const char *file)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(file, "r");

	if (f) {
		if (getdelim(&buf, &len, '\0', f) < 0) {
			free(buf);
			buf = NULL;
		}
		fclose(f);
	}
	return buf;
}

static enum MHD_Result answer(struct MHD_Connection *c)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *file, *ext;
	unsigned int n, code = 200;
	char *body;

	pthread_mutex_lock(&answer_lock);
	n = next_answer++;
	file = answers[n % nanswers];
	pthread_mutex_unlock(&answer_lock);
	printf("%u %s\n", n, strrchr(file, '/') + 1);
	fflush(stdout);
	body = slurp(file);
	ext = strrchr(file, '.');
	if (ext && !strcmp(ext, ".slow"))
		sleep(3);
	if (ext && !strcmp(ext, ".status500"))
		code = 500;
	r = MHD_create_response_from_buffer(body ? strlen(body) : 0, body ? body : (void *)"",
					    MHD_RESPMEM_MUST_COPY);
	if (ext && !strcmp(ext, ".redirect")) {
		code = 302;
		MHD_add_response_header(r, "Location", body ? body : "/");
	}
	free(body);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *buf;

	if (answers)
		return answer(c);
	buf = slurp(path);
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

	if (argc < 4 || argc > 5 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
	    (argc == 5 && strcmp(argv[3], "--answers"))) {
		fprintf(stderr, "usage: textserve ADDR PORT FILE|--silent|--answers DIR\n");
		return 2;
	}
	if (argc == 5 && load_answers(argv[4])) {
		fprintf(stderr, "textserve: no answers in %s\n", argv[4]);
		return 1;
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
	/* A thread per connection: a slow answer must not hold up the next request. */
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
			     atoi(argv[2]), NULL, NULL, handler,
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
