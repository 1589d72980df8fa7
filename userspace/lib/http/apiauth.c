/* apiauth.c: who may ask canaryd for what (see apiauth.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/apiauth.h"
#include "base/util.h"

int api_tokens_load(const char *path, struct api_tokens *out, char *why, size_t len)
{
	char line[1024];
	struct stat st;
	int fd, lineno = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		int err = -errno;

		snprintf(why, len, "cannot read the token file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077)) {
		snprintf(why, len, "the token file %s must be a file owned by root that nobody else "
				   "can read or write (chown root %s; chmod 0600 %s)",
			 path, path, path);
		close(fd);
		return -EPERM;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[API_NAME_LEN], secret[API_TOKEN_MAX + 2], extra[8];
		unsigned int i;
		int n;

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		n = sscanf(line, "%31s %257s %7s", name, secret, extra);
		if (n <= 0 || name[0] == '#')
			continue;
		if (n != 2 || !service_name_valid(name)) {
			snprintf(why, len, "%s:%d: expected 'NAME TOKEN' (NAME of a-z, 0-9, '_', '-')",
				 path, lineno);
			goto bad;
		}
		if (strlen(secret) < API_TOKEN_MIN || strlen(secret) > API_TOKEN_MAX) {
			snprintf(why, len, "%s:%d: token '%s' must have %d to %d characters (e.g. "
					   "'openssl rand -hex 32')",
				 path, lineno, name, API_TOKEN_MIN, API_TOKEN_MAX);
			goto bad;
		}
		for (i = 0; i < out->n; i++)
			if (!strcmp(out->t[i].name, name) || !strcmp(out->t[i].secret, secret)) {
				snprintf(why, len, "%s:%d: token '%s' repeats a name or a token", path,
					 lineno, name);
				goto bad;
			}
		if (out->n == API_MAX_TOKENS) {
			snprintf(why, len, "%s:%d: at most %d tokens", path, lineno, API_MAX_TOKENS);
			goto bad;
		}
		snprintf(out->t[out->n].name, sizeof(out->t[out->n].name), "%s", name);
		snprintf(out->t[out->n].secret, sizeof(out->t[out->n].secret), "%s", secret);
		out->n++;
	}
	fclose(f);
	if (!out->n) {
		snprintf(why, len, "the token file %s holds no token", path);
		return -EINVAL;
	}
	return 0;
bad:
	fclose(f);
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/* Equal strings, in time that depends on the lengths only. */
static bool same_secret(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char d = alen != blen;
	size_t i;

	for (i = 0; i < alen && i < blen; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return d == 0;
}

const char *api_token_match(const struct api_tokens *t, const char *authorization)
{
	const char *tok, *found = NULL;
	size_t n;
	unsigned int i;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7))
		return NULL;
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	n = strlen(tok);
	/* Look at every token, so the time does not tell which one came close. */
	for (i = 0; i < t->n; i++)
		if (same_secret(tok, n, t->t[i].secret, strlen(t->t[i].secret)))
			found = t->t[i].name;
	return found;
}

void api_hosts_init(struct api_hosts *h, const char *listen_host, unsigned int port)
{
	memset(h, 0, sizeof(*h));
	h->port = port;
	api_hosts_add(h, "localhost");
	api_hosts_add(h, "127.0.0.1");
	api_hosts_add(h, "::1");
	if (listen_host && *listen_host)
		api_hosts_add(h, listen_host);
}

int api_hosts_add(struct api_hosts *h, const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n >= sizeof(h->name[0]))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr(".-_:", name[i]))
			return -EINVAL;
	if (h->n == API_MAX_HOSTS)
		return -ENOSPC;
	snprintf(h->name[h->n++], sizeof(h->name[0]), "%s", name);
	return 0;
}

/* The host part of "name", "name:port", "[v6]" or "[v6]:port" into out. */
static bool host_part(const char *s, char *out, size_t len)
{
	const char *end;
	size_t n;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		s++;
	} else {
		end = strchr(s, ':');
		if (!end)
			end = s + strlen(s);
		else if (strchr(end + 1, ':'))
			return false; /* a bare IPv6 address is not a Host */
	}
	n = (size_t)(end - s);
	if (!n || n >= len)
		return false;
	memcpy(out, s, n);
	out[n] = 0;
	return true;
}

static bool listed(const struct api_hosts *h, const char *host)
{
	unsigned int i;

	for (i = 0; i < h->n; i++)
		if (!strcasecmp(h->name[i], host))
			return true;
	return false;
}

bool api_host_allowed(const struct api_hosts *h, const char *host)
{
	unsigned char buf[16];
	char name[256];

	if (!host)
		return true;
	if (!host_part(host, name, sizeof(name)))
		return false;
	/* An address literal cannot be rebound to another host: only names can. */
	if (inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1)
		return true;
	return listed(h, name);
}

bool api_origin_allowed(const struct api_hosts *h, const char *origin)
{
	const char *p, *colon;
	unsigned int port;
	char name[256];
	bool tls;

	if (!origin)
		return true;
	if (!h->port)
		return false; /* no browser page can reach this door */
	tls = !strncmp(origin, "https://", 8);
	if (!tls && strncmp(origin, "http://", 7))
		return false;
	p = origin + (tls ? 8 : 7);
	if (strchr(p, '/') || !host_part(p, name, sizeof(name)) || !listed(h, name))
		return false;
	/* Only a page of this listener itself: the same host and the same port. */
	colon = p[0] == '[' ? strchr(p, ']') : p;
	colon = colon ? strchr(colon, ':') : NULL;
	port = tls ? 443 : 80;
	if (colon && sscanf(colon + 1, "%u", &port) != 1)
		return false;
	return port == h->port;
}

bool api_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	if (!ct || strncasecmp(ct, "application/json", n))
		return false;
	return ct[n] == 0 || ct[n] == ';' || ct[n] == ' ';
}
