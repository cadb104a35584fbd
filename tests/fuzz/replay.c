/*
 * Replays a libFuzzer corpus under gcc so `make test` runs every committed
 * seed through its target (Knot's tests-fuzz/main.c).  Arguments are files
 * or directories; prints "replay: N passed, 0 failed" style totals.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned replayed;

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	replayed++;
	return 0;
}

static int
run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	struct dirent *e;
	int ret = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (run_path(p) != 0)
			ret = -1;
	}
	closedir(d);
	return ret;
}

int
main(int argc, char **argv)
{
	int ret = 0;
	for (int i = 1; i < argc; i++) {
		if (run_path(argv[i]) != 0)
			ret = 1;
	}
	printf("replay %s: %u inputs replayed without a crash\n", argc > 1 ? argv[1] : "", replayed);
	return ret;
}
