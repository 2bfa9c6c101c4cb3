/*
 * The certificate store's folder (store_dir.h): opening it, walking its
 * "<fingerprint>.pem" files and reading their .meta files.  No libcrypto
 * here: p11 sign reads the store in a process without it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/err.h"
#include "store_dir.h"

struct smime_store {
	char *dir;
};

int
smime_store_mkdirs(const char *path)
{
	char buf[4096], *p;

	if (strlen(path) >= sizeof(buf))
		return P11A_E_ARGS;
	strcpy(buf, path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return P11A_E_IO;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return P11A_E_IO;
	return 0;
}

int
smime_store_open(const char *dir, struct smime_store **out)
{
	struct smime_store *s;
	const char *x, *home;
	char buf[4096];

	*out = NULL;
	if (dir == NULL) {
		x = getenv("XDG_DATA_HOME");
		if (x != NULL && x[0] == '/') {
			if ((size_t)snprintf(buf, sizeof(buf),
			                     "%s/p11agent/certs",
			                     x) >= sizeof(buf))
				return P11A_E_ARGS;
		} else {
			if ((home = getenv("HOME")) == NULL || home[0] != '/')
				return P11A_E_ARGS;
			if ((size_t)snprintf(buf, sizeof(buf),
			                     "%s/.local/share/p11agent/certs",
			                     home) >= sizeof(buf))
				return P11A_E_ARGS;
		}
		dir = buf;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->dir = strdup(dir)) == NULL) {
		free(s);
		return P11A_E_NOMEM;
	}
	*out = s;
	return 0;
}

void
smime_store_free(struct smime_store *s)
{
	if (s == NULL)
		return;
	free(s->dir);
	free(s);
}

const char *
smime_store_dir(const struct smime_store *s)
{
	return s->dir;
}

void
smime_store_read_meta(const char *dir, const char *fp,
                      struct smime_store_meta *m)
{
	char path[4096], line[1024];
	FILE *f;

	memset(m, 0, sizeof(*m));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.meta", dir, fp) >=
	        sizeof(path) ||
	    (f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "capsbits=", 9) == 0)
			m->caps = (unsigned)strtoul(line + 9, NULL, 16);
		else if (strncmp(line, "seen=", 5) == 0)
			m->seen = (time_t)strtoll(line + 5, NULL, 10);
		else if (strncmp(line, "source=", 7) == 0)
			snprintf(m->source, sizeof(m->source), "%.15s",
			         line + 7);
	}
	fclose(f);
}

bool
smime_store_is_fp(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

int
smime_store_each_file(const char *dir,
                      bool (*want)(const char *dir, const char *fp),
                      int (*fn)(void *ctx, const char *fp, const char *path),
                      void *ctx)
{
	char path[4096];
	struct dirent *de;
	size_t n;
	DIR *d;
	int r = 0;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT || errno == ENOTDIR ? 0 : P11A_E_IO;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n != 68 || strcmp(de->d_name + 64, ".pem") != 0 ||
		    !smime_store_is_fp(de->d_name))
			continue;
		de->d_name[64] = '\0';
		if (want != NULL && !want(dir, de->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s.pem", dir,
		                     de->d_name) >= sizeof(path))
			continue;
		if ((r = fn(ctx, de->d_name, path)) != 0)
			break;
	}
	closedir(d);
	return r;
}

/* Kept from a chain or added by hand: a possible intermediate. */
bool
smime_store_is_chain_candidate(const char *dir, const char *fp)
{
	struct smime_store_meta m;

	smime_store_read_meta(dir, fp, &m);
	return strcmp(m.source, "verified") != 0;
}
