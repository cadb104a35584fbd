/*
 * libFuzzer target for the list splitter of anycst-secondary's --primary,
 * --pin and --primary-tcp (primaries_split).  Any text: no crash, no read
 * past the string; a list that splits has 1..max non-empty items without
 * commas or surrounding spaces, each shorter than PRIMARIES_ITEM_MAX; a
 * refused one has a reason.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secondary/primaries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	static char items[4][PRIMARIES_ITEM_MAX];
	char err[PRIMARIES_ITEM_MAX + 100];
	err[0] = '\0';
	int n = primaries_split(s, items, 4, err, sizeof(err));
	if (n < 0) {
		assert(err[0] != '\0');
	} else {
		assert(n >= 1 && n <= 4);
		for (int i = 0; i < n; i++) {
			size_t len = strlen(items[i]);
			assert(len > 0 && len < PRIMARIES_ITEM_MAX && strchr(items[i], ',') == NULL);
			assert(!isspace((unsigned char)items[i][0]) &&
			       !isspace((unsigned char)items[i][len - 1]));
		}
	}
	free(s);
	return 0;
}
