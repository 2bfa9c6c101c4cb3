/*
 * Corpus replay for libFuzzer targets, so that CTest runs every target
 * over its seeds with any compiler, no libFuzzer needed.
 *
 * Usage: replay_TARGET PATH...  where each PATH is a file or a directory
 * whose regular files are each one input.  Each input is passed in a
 * buffer of exactly its size, so AddressSanitizer sees any overread.
 * Exits non-zero when a path cannot be read or no input was found.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are skipped, like libFuzzer's -max_len. */
#define REPLAY_MAX_INPUT (16u * 1024 * 1024)

static int
replay_file(const char *path, size_t *count)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len;
	FILE *f;
	int ret = -1;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "%s: skipped, larger than %u bytes\n", path,
		        REPLAY_MAX_INPUT);
		ret = 0;
		goto out;
	}
	len = (size_t)st.st_size;
	if ((buf = malloc(len == 0 ? 1 : len)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", path);
		goto out;
	}
	if (len > 0 && fread(buf, 1, len, f) != len) {
		fprintf(stderr, "%s: short read\n", path);
		goto out;
	}
	LLVMFuzzerTestOneInput(buf, len);
	(*count)++;
	ret = 0;
out:
	free(buf);
	fclose(f);
	return ret;
}

static int
replay_path(const char *path, size_t *count)
{
	struct dirent *de;
	struct stat st;
	char *child;
	size_t n;
	DIR *d;
	int ret = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? replay_file(path, count) : 0;
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n = strlen(path) + strlen(de->d_name) + 2;
		if ((child = malloc(n)) == NULL) {
			ret = -1;
			break;
		}
		snprintf(child, n, "%s/%s", path, de->d_name);
		if (stat(child, &st) == 0 && S_ISREG(st.st_mode) &&
		    replay_file(child, count) != 0)
			ret = -1;
		free(child);
	}
	closedir(d);
	return ret;
}

int
main(int argc, char **argv)
{
	size_t count = 0;
	int i, failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (replay_path(argv[i], &count) != 0)
			failed = 1;
	}
	printf("%s: replayed %zu inputs\n", argv[0], count);
	if (count == 0) {
		fprintf(stderr, "%s: no inputs found\n", argv[0]);
		return 1;
	}
	return failed;
}
