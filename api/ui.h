/*
 * The status page's static files (the files of ui/), embedded at build time by
 * scripts/embed-ui.sh; api/ui.c serves them at /ui/.
 */
#ifndef API_UI_H
#define API_UI_H

struct api_ui_file {
	const char *name;    /* "index.html" */
	const char *ctype;
	const char *data;    /* text, NUL-terminated */
};
/* Ends with an entry whose name is NULL. */
extern const struct api_ui_file api_ui_files[];

#endif
