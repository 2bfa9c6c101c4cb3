/*
 * PIN and passphrase buffers, and reading them from a descriptor or the
 * terminal (see secret.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "p11agent.h"
#include "secret.h"

static void
harden_process(void)
{
	static bool done;
	struct rlimit rl = {0, 0};

	if (done)
		return;
	done = true;
	/* No core file and no ptrace by our own user's other programs. */
	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int
cli_secret_init(struct cli_secret *s)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t cap;
	void *p;

	memset(s, 0, sizeof(*s));
	harden_process();
	if (page <= 0)
		page = 4096;
	cap = (size_t)page;
	while (cap < CLI_SECRET_MAX + 1)
		cap += (size_t)page;
	if (posix_memalign(&p, (size_t)page, cap) != 0)
		return P11AGENT_E_NOMEM;
	memset(p, 0, cap);
	/* Best effort: a low RLIMIT_MEMLOCK must not stop a login. */
	s->locked = mlock(p, cap) == 0;
	(void)madvise(p, cap, MADV_DONTDUMP);
	s->buf = p;
	s->cap = cap;
	return 0;
}

void
cli_secret_clear(struct cli_secret *s)
{
	if (s->buf != NULL)
		OPENSSL_cleanse(s->buf, s->cap);
	s->len = 0;
}

void
cli_secret_cleanup(struct cli_secret *s)
{
	if (s->buf == NULL)
		return;
	OPENSSL_cleanse(s->buf, s->cap);
	if (s->locked)
		(void)munlock(s->buf, s->cap);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

int
cli_secret_append(struct cli_secret *s, const char *p, size_t n)
{
	if (n > CLI_SECRET_MAX - s->len) {
		cli_secret_clear(s);
		return P11AGENT_E_TOO_LARGE;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return 0;
}

/* Drops a trailing CR (from "\r\n" line ends). */
static void
strip_cr(struct cli_secret *s)
{
	if (s->len > 0 && s->buf[s->len - 1] == '\r') {
		s->buf[--s->len] = '\0';
	}
}

int
cli_secret_read_fd(int fd, struct cli_secret *s)
{
	bool any = false;
	ssize_t n;
	char c;
	int r;

	cli_secret_clear(s);
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_secret_clear(s);
			return P11AGENT_E_IO;
		}
		if (n == 0) {
			if (!any)
				return P11AGENT_E_CANCELLED;
			break;
		}
		any = true;
		if (c == '\n')
			break;
		if ((r = cli_secret_append(s, &c, 1)) != 0) {
			OPENSSL_cleanse(&c, sizeof(c));
			return r;
		}
	}
	OPENSSL_cleanse(&c, sizeof(c));
	strip_cr(s);
	return 0;
}

bool
cli_have_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Signals that must not leave the terminal without echo. */
static const int tty_signals[] = {
    SIGALRM, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU,
};
#define NTTY_SIGNALS (sizeof(tty_signals) / sizeof(tty_signals[0]))

static volatile sig_atomic_t tty_caught[NSIG];

static void
tty_handler(int sig)
{
	if (sig > 0 && sig < NSIG)
		tty_caught[sig] = 1;
}

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/*
 * One attempt at reading the line.  Returns 0, a negative code, or 1 when
 * a stop signal asks for a new attempt.
 */
static int
tty_read_once(const char *prompt, struct cli_secret *s)
{
	struct sigaction sa, saved[NTTY_SIGNALS];
	struct termios old, quiet;
	bool have_old = false, restart = false, caught = false;
	int fd, r = 0;
	size_t i;
	ssize_t n;
	char c;

	cli_secret_clear(s);
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return P11AGENT_E_IO;
	for (i = 0; i < NTTY_SIGNALS; i++)
		tty_caught[tty_signals[i]] = 0;
	/* No SA_RESTART: a signal must interrupt the read. */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = tty_handler;
	for (i = 0; i < NTTY_SIGNALS; i++)
		(void)sigaction(tty_signals[i], &sa, &saved[i]);
	if (tcgetattr(fd, &old) == 0) {
		have_old = true;
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
		quiet.c_lflag |= ICANON;
		(void)tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	write_all(fd, prompt, strlen(prompt));
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR) {
			for (i = 0; i < NTTY_SIGNALS; i++)
				caught |= tty_caught[tty_signals[i]] != 0;
			if (caught)
				break;
			continue;
		}
		if (n < 0) {
			r = P11AGENT_E_IO;
			break;
		}
		if (n == 0) {
			if (s->len == 0)
				r = P11AGENT_E_CANCELLED;
			break;
		}
		if (c == '\n')
			break;
		if ((r = cli_secret_append(s, &c, 1)) != 0)
			break;
	}
	OPENSSL_cleanse(&c, sizeof(c));
	/* A signal may also have come before the read began. */
	for (i = 0; i < NTTY_SIGNALS; i++)
		caught |= tty_caught[tty_signals[i]] != 0;
	/* Echo was off, so the user's Enter did not move to a new line. */
	write_all(fd, "\n", 1);
	if (have_old)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	for (i = 0; i < NTTY_SIGNALS; i++)
		(void)sigaction(tty_signals[i], &saved[i], NULL);
	close(fd);
	if (caught) {
		/* Wipe before a signal may end us, then deliver it again. */
		cli_secret_clear(s);
		r = P11AGENT_E_CANCELLED;
		for (i = 0; i < NTTY_SIGNALS; i++) {
			if (!tty_caught[tty_signals[i]])
				continue;
			(void)kill(getpid(), tty_signals[i]);
			if (tty_signals[i] == SIGTSTP ||
			    tty_signals[i] == SIGTTIN ||
			    tty_signals[i] == SIGTTOU)
				restart = true;
		}
		return restart ? 1 : r;
	}
	if (r != 0) {
		cli_secret_clear(s);
		return r;
	}
	strip_cr(s);
	return 0;
}

int
cli_secret_read_tty(const char *prompt, struct cli_secret *s)
{
	int r;

	while ((r = tty_read_once(prompt, s)) == 1)
		;
	return r;
}
