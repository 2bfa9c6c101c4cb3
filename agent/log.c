/*
 * Logging: stderr in the foreground, syslog when daemonized.  Lines never
 * carry PINs, passphrases or key material.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "agent/agent.h"

static int log_stderr = 1;
static enum agent_log_level log_max = AGENT_LOG_INFO;

void
agent_log_init(int to_stderr, enum agent_log_level max)
{
	log_stderr = to_stderr;
	log_max = max;
	if (!to_stderr)
		openlog("p11agent", LOG_PID, LOG_AUTH);
}

static void
log_line(enum agent_log_level level, const char *line)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

	if (log_stderr)
		fprintf(stderr, "p11agent: %s\n", line);
	else
		syslog(prio[level], "%s", line);
}

void
agent_log(enum agent_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_line(level, line);
}

void
agent_die(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_line(AGENT_LOG_ERROR, line);
	abort();
}
