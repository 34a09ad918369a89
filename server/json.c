#include "pretnum/server.h"

#include <stdio.h>
#include <string.h>

json_t *srv_json_parse(const char *buf, size_t len, int max_depth, char *err, size_t errlen)
{
    /* jansson recurses up to 2048 levels; we refuse deep nesting before it starts. */
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                snprintf(err, errlen, "JSON nested deeper than %d levels", max_depth);
                return NULL;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    return j;
}
