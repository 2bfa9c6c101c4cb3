/*
 * agent-probe: a raw protocol client for the agent tests and benchmarks.
 * It speaks the wire format through proto/ only (no client library), so
 * it can also send what a well-behaved client never would.
 *
 *   agent-probe garbage SOCK        hostile clients, then one good request
 *   agent-probe refused SOCK        exit 0 when the agent drops us unanswered
 *   agent-probe login SOCK TOKEN PINFILE        login (PIN from a file)
 *   agent-probe sign SOCK URI CLIENTS COUNT     all must succeed
 *   agent-probe rate SOCK URI CLIENTS SECONDS   prints signatures per second
 *   agent-probe ssh-rate SOCK KIND CLIENTS SECONDS  SSH_AGENTC_SIGN_REQUEST
 *                rate; KIND = rsa2048|p256 (works against any ssh-agent)
 *   agent-probe status SOCK URI SIGNERS SECONDS prints status p50/p99 in ms
 *                                              while SIGNERS clients sign
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/err.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/sshkey.h"

#define PROBE_TIMEOUT_MS 30000

static const char *probe_sock;

static double
probe_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
probe_connect(void)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", probe_sock);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
probe_write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes; 0 ok, 1 EOF/reset, -1 timeout/error. */
static int
probe_read_all(int fd, uint8_t *p, size_t len)
{
	struct pollfd pfd = {fd, POLLIN, 0};

	while (len > 0) {
		ssize_t n;

		if (poll(&pfd, 1, PROBE_TIMEOUT_MS) != 1)
			return -1;
		n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends the writer's frame and reads one reply body into *body. */
static int
probe_roundtrip(int fd, struct proto_writer *w, uint8_t **body, size_t *len)
{
	const uint8_t *p;
	uint8_t hdr[4];
	size_t plen, blen;
	int r;

	*body = NULL;
	if (proto_writer_finish(w, &p, &plen) != 0)
		return -1;
	if (probe_write_all(fd, p, plen) != 0)
		/* The peer hung up on us before we could even ask. */
		return errno == EPIPE || errno == ECONNRESET ? 1 : -1;
	if ((r = probe_read_all(fd, hdr, 4)) != 0)
		return r;
	if (proto_frame_check(hdr, 4, &blen) != P11A_E_INCOMPLETE)
		return -1;
	blen = proto_frame_size(hdr) - 4;
	if ((*body = malloc(blen)) == NULL)
		return -1;
	*len = blen;
	return probe_read_all(fd, *body, blen);
}

static int
probe_query_ok(void)
{
	struct proto_query_reply rep;
	struct proto_writer w;
	uint8_t *body = NULL;
	size_t len = 0;
	int fd = probe_connect(), ok = 0;

	if (fd < 0)
		return 0;
	proto_writer_init(&w);
	proto_query_request_encode(&w);
	if (probe_roundtrip(fd, &w, &body, &len) == 0 &&
	    proto_query_reply_decode(body, len, &rep, NULL) == 0) {
		ok = rep.n > 0;
		proto_query_reply_cleanup(&rep);
	}
	free(body);
	proto_writer_cleanup(&w);
	close(fd);
	return ok;
}

static int
probe_send_raw(const void *p, size_t len, int wait_reply)
{
	uint8_t buf[64];
	int fd = probe_connect(), r = 0;

	if (fd < 0)
		return -1;
	probe_write_all(fd, p, len);
	if (wait_reply)
		r = probe_read_all(fd, buf, 5) == 0 ? buf[4] : -1;
	close(fd);
	return r;
}

static int
probe_garbage(void)
{
	static const uint8_t truncated[] = {0, 0, 0, 100, 27, 0, 0};
	static const uint8_t huge[] = {0x40, 0, 0, 0, 11};
	static const uint8_t unknown[] = {0, 0, 0, 1, 200};
	static const uint8_t empty[] = {0, 0, 0, 0};
	uint8_t junk[4096];
	int i, failures = 0, reply;

	for (i = 0; i < 50; i++) {
		size_t n;

		for (n = 0; n < sizeof(junk); n++)
			junk[n] = (uint8_t)rand();
		probe_send_raw(junk, 1 + (size_t)rand() % sizeof(junk), 0);
	}
	probe_send_raw(truncated, sizeof(truncated), 0);
	probe_send_raw(huge, sizeof(huge), 0);
	probe_send_raw(empty, sizeof(empty), 0);
	reply = probe_send_raw(unknown, sizeof(unknown), 1);
	if (reply != PROTO_SSH_AGENT_FAILURE) {
		fprintf(stderr, "unknown type got reply %d, not FAILURE\n",
		        reply);
		failures++;
	}
	for (i = 0; i < 1000; i++) {
		int fd = probe_connect();

		if (fd < 0) {
			fprintf(stderr, "connect %d failed\n", i);
			failures++;
			break;
		}
		close(fd);
	}
	if (!probe_query_ok()) {
		fprintf(stderr, "a good client is not served afterwards\n");
		failures++;
	}
	printf("garbage: %s\n",
	       failures == 0 ? "agent still serving" : "FAILED");
	return failures == 0 ? 0 : 1;
}

static int
probe_refused(void)
{
	struct proto_writer w;
	uint8_t *body = NULL;
	size_t len;
	int fd = probe_connect(), r;

	if (fd < 0)
		return 0; /* refused at connect: fine too */
	proto_writer_init(&w);
	proto_query_request_encode(&w);
	r = probe_roundtrip(fd, &w, &body, &len);
	free(body);
	proto_writer_cleanup(&w);
	close(fd);
	if (r == 0) {
		fprintf(stderr, "the agent answered another uid\n");
		return 1;
	}
	return r == 1 ? 0 : 1;
}

struct signer {
	pthread_t thread;
	const char *uri;
	const uint8_t *ssh_blob; /* set: SSH sign requests instead */
	size_t ssh_blob_len;
	long count; /* -1: until deadline */
	double deadline;
	long done, failed;
	int ec;
};

static int
probe_ssh_sign_once(int fd, const struct signer *s, uint8_t *data)
{
	struct proto_sign_request req;
	struct proto_sign_reply rep;
	struct proto_writer w;
	uint8_t *body = NULL;
	size_t len = 0;
	int r;

	req.key_blob.p = s->ssh_blob;
	req.key_blob.len = s->ssh_blob_len;
	req.data.p = data;
	req.data.len = 32;
	req.flags = PROTO_SSH_AGENT_RSA_SHA2_256;
	proto_writer_init(&w);
	proto_sign_request_encode(&w, &req);
	r = probe_roundtrip(fd, &w, &body, &len);
	if (r == 0)
		r = proto_sign_reply_decode(body, len, &rep, NULL);
	free(body);
	proto_writer_cleanup(&w);
	return r;
}

static int
probe_sign_once(int fd, const struct signer *s, uint8_t *digest)
{
	struct proto_sign_digest_request req;
	struct proto_sign_digest_reply rep;
	struct proto_failure fail;
	struct proto_writer w;
	uint8_t *body = NULL;
	size_t len = 0;
	int r;

	memset(&req, 0, sizeof(req));
	req.key_uri = proto_text_from(s->uri);
	req.mechanism = s->ec ? PROTO_MECH_ECDSA : PROTO_MECH_RSA_PKCS1;
	req.hash = PROTO_HASH_SHA256;
	req.digest.p = digest;
	req.digest.len = 32;
	proto_writer_init(&w);
	proto_sign_digest_request_encode(&w, &req);
	r = probe_roundtrip(fd, &w, &body, &len);
	if (r == 0) {
		r = proto_sign_digest_reply_decode(body, len, &rep, &fail);
		if (r != 0)
			fprintf(stderr, "sign: %s: %.*s\n", p11a_strerror(r),
			        (int)fail.message.len, fail.message.p);
	}
	free(body);
	proto_writer_cleanup(&w);
	return r;
}

static void *
signer_run(void *arg)
{
	struct signer *s = arg;
	uint8_t digest[32];
	int fd = probe_connect();

	if (fd < 0) {
		s->failed++;
		return NULL;
	}
	memset(digest, 0x11, sizeof(digest));
	while (s->count < 0 ? probe_now() < s->deadline : s->done < s->count) {
		digest[0] = (uint8_t)s->done;
		if ((s->ssh_blob != NULL
		         ? probe_ssh_sign_once(fd, s, digest)
		         : probe_sign_once(fd, s, digest)) != 0) {
			s->failed++;
			break;
		}
		s->done++;
	}
	close(fd);
	return NULL;
}

static const uint8_t *probe_blob;
static size_t probe_blob_len;

static int
probe_signers(struct signer *s, int n, const char *uri, long count,
              double seconds)
{
	int i, ec = strstr(uri, "p256") != NULL || strstr(uri, "p384") != NULL;
	double start = probe_now();

	for (i = 0; i < n; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].uri = uri;
		s[i].count = count > 0 ? count : -1;
		s[i].deadline = start + seconds;
		s[i].ec = ec;
		s[i].ssh_blob = probe_blob;
		s[i].ssh_blob_len = probe_blob_len;
		if (pthread_create(&s[i].thread, NULL, signer_run, &s[i]) != 0)
			return -1;
	}
	return 0;
}

static void
probe_join(struct signer *s, int n, long *done, long *failed)
{
	int i;

	*done = *failed = 0;
	for (i = 0; i < n; i++) {
		pthread_join(s[i].thread, NULL);
		*done += s[i].done;
		*failed += s[i].failed;
	}
}

static int
probe_sign(const char *uri, int clients, long count, double seconds,
           int print_rate)
{
	struct signer *s = calloc((size_t)clients, sizeof(*s));
	double start = probe_now();
	long done, failed;

	if (s == NULL || probe_signers(s, clients, uri, count, seconds) != 0)
		return 1;
	probe_join(s, clients, &done, &failed);
	free(s);
	if (print_rate) {
		printf("%.1f\n", (double)done / (probe_now() - start));
		return failed != 0;
	}
	printf("%d clients: %ld signatures, %ld failed\n", clients, done,
	       failed);
	return failed == 0 && done == count * clients ? 0 : 1;
}

static int
probe_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
probe_status_latency(const char *uri, int signers, double seconds)
{
	struct signer *s = calloc((size_t)signers, sizeof(*s));
	double *lat = calloc(100000, sizeof(*lat)), end;
	size_t n = 0;
	long done, failed;
	int fd;

	if (s == NULL || lat == NULL ||
	    probe_signers(s, signers, uri, 0, seconds) != 0)
		return 1;
	end = probe_now() + seconds;
	fd = probe_connect();
	while (fd >= 0 && probe_now() < end && n < 100000) {
		struct proto_writer w;
		uint8_t *body = NULL;
		size_t len;
		double t0 = probe_now();

		proto_writer_init(&w);
		proto_status_request_encode(&w);
		if (probe_roundtrip(fd, &w, &body, &len) != 0)
			break;
		lat[n++] = (probe_now() - t0) * 1000.0;
		free(body);
		proto_writer_cleanup(&w);
		usleep(5000);
	}
	if (fd >= 0)
		close(fd);
	probe_join(s, signers, &done, &failed);
	free(s);
	if (n == 0)
		return 1;
	qsort(lat, n, sizeof(*lat), probe_cmp_double);
	printf("%.2f %.2f %zu %ld\n", lat[n / 2], lat[(n * 99) / 100], n, done);
	free(lat);
	return failed != 0;
}

static int
probe_login(const char *token, const char *pin_file)
{
	struct proto_login_request req;
	struct proto_failure fail;
	struct proto_writer w;
	char pin[256];
	uint8_t *body = NULL;
	size_t len = 0;
	FILE *f = fopen(pin_file, "r");
	int fd = probe_connect(), r = -1;

	if (f == NULL || fd < 0 || fgets(pin, sizeof(pin), f) == NULL)
		return 1;
	fclose(f);
	pin[strcspn(pin, "\r\n")] = '\0';
	req.token = proto_text_from(token);
	req.pin = proto_text_from(pin);
	proto_writer_init(&w);
	proto_login_request_encode(&w, &req);
	memset(pin, 0, sizeof(pin));
	if (probe_roundtrip(fd, &w, &body, &len) == 0)
		r = proto_login_reply_decode(body, len, &fail);
	if (r != 0 && r != -1)
		fprintf(stderr, "login: %.*s\n", (int)fail.message.len,
		        fail.message.p);
	free(body);
	proto_writer_cleanup(&w);
	close(fd);
	return r == 0 ? 0 : 1;
}

/* Picks the agent's SSH key of a kind; the blob stays in *keep. */
static int
probe_pick_ssh_key(const char *kind, struct proto_identities_reply *ids,
                   uint8_t **keep)
{
	struct proto_writer w;
	size_t len = 0, i;
	int fd = probe_connect();

	*keep = NULL;
	if (fd < 0)
		return -1;
	proto_writer_init(&w);
	proto_identities_request_encode(&w);
	if (probe_roundtrip(fd, &w, keep, &len) != 0 ||
	    proto_identities_reply_decode(*keep, len, ids, NULL) != 0)
		return -1;
	proto_writer_cleanup(&w);
	close(fd);
	for (i = 0; i < ids->n; i++) {
		struct proto_ssh_key k;

		if (proto_ssh_key_decode(ids->ids[i].key_blob.p,
		                         ids->ids[i].key_blob.len, &k) != 0)
			continue;
		if ((strcmp(kind, "rsa2048") == 0 &&
		     k.type == PROTO_SSH_KEY_RSA && k.rsa_n.len == 256) ||
		    (strcmp(kind, "p256") == 0 &&
		     k.type == PROTO_SSH_KEY_ECDSA &&
		     k.curve == PROTO_CURVE_P256)) {
			probe_blob = ids->ids[i].key_blob.p;
			probe_blob_len = ids->ids[i].key_blob.len;
			return 0;
		}
	}
	fprintf(stderr, "agent-probe: no %s key in the agent\n", kind);
	return -1;
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: agent-probe COMMAND SOCKET ...\n");
		return 2;
	}
	probe_sock = argv[2];
	srand((unsigned)time(NULL));
	if (strcmp(argv[1], "garbage") == 0)
		return probe_garbage();
	if (strcmp(argv[1], "refused") == 0)
		return probe_refused();
	if (strcmp(argv[1], "login") == 0 && argc == 5)
		return probe_login(argv[3], argv[4]);
	if (strcmp(argv[1], "sign") == 0 && argc == 6)
		return probe_sign(argv[3], atoi(argv[4]), atol(argv[5]), 0, 0);
	if (strcmp(argv[1], "rate") == 0 && argc == 6)
		return probe_sign(argv[3], atoi(argv[4]), 0, atof(argv[5]), 1);
	if (strcmp(argv[1], "ssh-rate") == 0 && argc == 6) {
		struct proto_identities_reply ids;
		uint8_t *keep = NULL;
		int r = 1;

		if (probe_pick_ssh_key(argv[3], &ids, &keep) == 0) {
			r = probe_sign(argv[3], atoi(argv[4]), 0, atof(argv[5]),
			               1);
			proto_identities_reply_cleanup(&ids);
		}
		free(keep);
		return r;
	}
	if (strcmp(argv[1], "status") == 0 && argc == 6)
		return probe_status_latency(argv[3], atoi(argv[4]),
		                            atof(argv[5]));
	fprintf(stderr, "agent-probe: bad command\n");
	return 2;
}
