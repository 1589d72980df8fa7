/* apiauth.h: who may ask canaryd for what. Reading is open; changing traffic needs
 * privilege: the Unix socket (its file permissions decide, and SO_PEERCRED names the
 * caller), or a bearer token over TCP. Every changing request must be JSON, and no
 * request may name a foreign Host or Origin, so that a web page in a browser on the
 * host cannot act or read through it (cross-site requests, DNS rebinding). */
#ifndef CANARY_APIAUTH_H
#define CANARY_APIAUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Where canaryd listens by default, and where canaryctl looks for it. */
#define CANARY_DEFAULT_SOCKET "/run/xdp-canary/canaryd.sock"
#define CANARY_DEFAULT_LISTEN "127.0.0.1:9181"

#define API_MAX_TOKENS	   64
#define API_TOKEN_MIN	   32 /* characters: a token is a secret, not a password */
#define API_TOKEN_MAX	   256
#define API_MAX_HOSTS	   16
#define API_NAME_LEN	   32

struct api_tokens {
	unsigned int n;
	struct {
		char name[API_NAME_LEN];
		char secret[API_TOKEN_MAX + 1];
	} t[API_MAX_TOKENS];
};

/* Load a token file: lines "NAME TOKEN" (NAME [a-z0-9_-], TOKEN at least
 * API_TOKEN_MIN printable characters), '#' comments and blank lines. The file must be
 * root's and readable by nobody else (mode 0600 or 0400). Returns 0, or -errno with
 * "FILE:LINE: problem" in why. */
int api_tokens_load(const char *path, struct api_tokens *out, char *why, size_t len);

/* The name of the token an Authorization header carries ("Bearer TOKEN"), or NULL.
 * Compares in constant time for a given token length. */
const char *api_token_match(const struct api_tokens *t, const char *authorization);

/* The names a request may give in Host and Origin: the listener's own address,
 * localhost, 127.0.0.1, ::1 and the operator's --allow-host names. In Host, any
 * address literal is allowed too (DNS rebinding needs a name). An Origin must also
 * carry the listener's port: only a page served by this listener itself may send
 * one. port 0: a door no browser can reach (the Unix socket), where any Origin is
 * refused. */
struct api_hosts {
	unsigned int n;
	unsigned int port;
	char name[API_MAX_HOSTS][256];
};
void api_hosts_init(struct api_hosts *h, const char *listen_host, unsigned int port);
int api_hosts_add(struct api_hosts *h, const char *name);

/* Host header ("name", "name:port", "[v6]:port"): allowed? NULL (HTTP/1.0) is. */
bool api_host_allowed(const struct api_hosts *h, const char *host);
/* Origin header ("scheme://host[:port]", or "null"): allowed? NULL (curl, a controller)
 * is; "null" (a sandboxed or file page) is not. */
bool api_origin_allowed(const struct api_hosts *h, const char *origin);
/* Content-Type is application/json (parameters such as charset allowed). */
bool api_json_type(const char *content_type);

#endif
