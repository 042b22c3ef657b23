/*
 * table.c - space-aligned text tables for the admin tools (CLI.md section
 * 8): a header row (optional) and columns as wide as their widest cell.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void
kq_table_row(struct kq_table *t, char **cells)
{
	int i;

	t->cells = kq_xrealloc(t->cells,
			       (size_t)(t->nrows + 1) * (size_t)t->ncol * sizeof(char *));
	for (i = 0; i < t->ncol; i++)
		t->cells[t->nrows * t->ncol + i] = cells[i];
	t->nrows++;
}

static void
print_row(const char *const *cells, const size_t *w, int ncol)
{
	int c;

	for (c = 0; c + 1 < ncol; c++)
		printf("%-*s  ", (int)w[c], cells[c]);
	printf("%s\n", cells[ncol - 1]);
}

void
kq_table_print(struct kq_table *t, const char *const *header, bool headers)
{
	size_t w[KQ_TABLE_MAX_COLS] = { 0 }, l;
	int r, c;

	KQ_ASSERT(t->ncol <= KQ_TABLE_MAX_COLS);
	for (c = 0; c < t->ncol; c++)
		w[c] = headers ? strlen(header[c]) : 0;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncol; c++)
			if ((l = strlen(t->cells[r * t->ncol + c])) > w[c])
				w[c] = l;
	if (headers)
		print_row(header, w, t->ncol);
	for (r = 0; r < t->nrows; r++)
		print_row((const char *const *)&t->cells[r * t->ncol], w, t->ncol);
	for (r = 0; r < t->nrows * t->ncol; r++)
		free(t->cells[r]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}
