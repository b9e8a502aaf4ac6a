/* The output sink: text or one-line JSON objects (jansson). Not the commands. */
#include "commands/output.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void out_init(struct out *o, bool json, FILE *fp, FILE *diag)
{
    o->json = json;
    o->quiet = false;
    o->fp = fp;
    o->diag = diag;
    o->result = NULL;
    o->where[0] = '\0';
    o->progress = NULL;
    o->progress_ctx = NULL;
}

void out_printf(struct out *o, const char *fmt, ...)
{
    if (o->json || o->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->fp, fmt, ap);
    va_end(ap);
}

void out_set(struct out *o, const char *key, json_t *v)
{
    if (!o->result)
        o->result = json_object();
    if (o->result)
        json_object_set_new(o->result, key, v);
    else
        json_decref(v);
}

void out_warn(struct out *o, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!o->json || o->quiet) {
        fprintf(o->diag, "prunescope: warning: %s\n", msg);
        return;
    }
    if (!o->result)
        o->result = json_object();
    if (!o->result)
        return;
    json_t *w = json_object_get(o->result, "warnings");
    if (!w) {
        w = json_array();
        json_object_set_new(o->result, "warnings", w);
    }
    json_array_append_new(w, json_string(msg));
}

void out_begin(struct out *o)
{
    json_decref(o->result);
    o->result = json_object();
}

void out_end(struct out *o, const char *name, const char *error)
{
    if (o->quiet && !error) {
        json_decref(o->result);
        o->result = NULL;
        return;
    }
    if (o->json) {
        json_t *obj;
        if (error) {
            obj = json_object();
            if (obj) {
                json_object_set_new(obj, "error", json_string(error));
                json_object_set_new(obj, "command", json_string(name));
                if (o->where[0])
                    json_object_set_new(obj, "where", json_string(o->where));
            }
        } else {
            obj = o->result ? json_incref(o->result) : json_object();
            if (obj)
                json_object_set_new(obj, "command", json_string(name));
        }
        if (obj) {
            char *line = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER |
                                             JSON_REAL_PRECISION(15));
            if (line) {
                fprintf(o->fp, "%s\n", line);
                free(line);
            }
            json_decref(obj);
        }
    } else if (error) {
        fflush(o->fp);
        fprintf(o->diag, "prunescope: %s%s%s: %s\n", o->where, o->where[0] ? ": " : "", name,
                error);
    }
    fflush(o->fp);
    json_decref(o->result);
    o->result = NULL;
}

void out_progress(struct out *o, const char *what, size_t done, size_t total, double elapsed_s)
{
    if (o->progress) {
        o->progress(o->progress_ctx, what, done, total, elapsed_s);
        return;
    }
    if (o->json || o->quiet || !o->diag || !isatty(fileno(o->diag)) || total == 0)
        return;
    double left = done ? elapsed_s * (double)(total - done) / (double)done : 0.0;
    fprintf(o->diag, "\r%s: %3.0f%% (%zu of %zu evaluations, about %.1f s left)  ", what,
            100.0 * (double)done / (double)total, done, total, left);
    if (done == total)
        fputc('\n', o->diag);
    fflush(o->diag);
}
