/* keys.c: the screen's keys in the normal state, one table the help screen lists, each
 * key a command line of the command table or a move of the selection. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/screen.h"

static const struct key_def KEYS[] = {
    {"Up Down j k", "select a layer (PgUp PgDn Home End: by pages, to the ends)"},
    {"Left Right", "move the selected layer's sparsity by 5% (a count typed first: that many "
                   "steps)"},
    {"Shift+Left/Right", "move it by 25%"},
    {"0-9 . Enter", "type a sparsity in % for the selected layer (Backspace edits, Esc drops)"},
    {"g", "global magnitude pruning to a sparsity over all layers"},
    {"a", "allocate to a target from the sensitivity table (params, bytes, latency, energy, "
          "max-drop)"},
    {"m", "the selected layer's method (criterion and granularity)"},
    {"s", "run the sensitivity sweep (Esc cancels, keeping finished layers); with a table: "
          "show the heat map"},
    {"S", "run the sweep again, ignoring the cache"},
    {"c", "measure the size-vs-accuracy curve, then show it"},
    {"Tab v", "switch the panel: metrics, curve, the layer's curve, heat map"},
    {"p", "next hardware profile"},
    {"f", "next storage format"},
    {"u Ctrl-R", "undo, redo"},
    {"r", "reset every layer to dense (undo brings it back)"},
    {"e", "export: config, model, torch or NNI recipe, sensitivity curve"},
    {":", "a command line (every REPL command; Tab completes, Up/Down history)"},
    {"?", "this help"},
    {"q", "quit (asks when the configuration was not exported)"},
    {"Mouse", "click a layer to select it; click or drag on a slider to set it"},
};

size_t keys_count(void)
{
    return sizeof KEYS / sizeof KEYS[0];
}

const struct key_def *keys_at(size_t i)
{
    return i < keys_count() ? &KEYS[i] : NULL;
}

/* The count typed before a key, or 1. */
static long take_count(struct tui *t)
{
    if (t->count_active)
        t->status[0] = '\0'; /* the hint about the count is used up */
    long n = t->count_active ? strtol(t->count, NULL, 10) : 1;
    t->count_active = false;
    t->count[0] = '\0';
    return n > 0 ? n : 1;
}

static void mouse(struct tui *t)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return;
    if (ev.bstate & BUTTON4_PRESSED) {
        tui_select(t, -3);
        return;
    }
    if (ev.bstate & BUTTON5_PRESSED) {
        tui_select(t, 3);
        return;
    }
    int row = ev.y - t->table_y;
    if (row < 0 || row >= t->table_rows || t->top + (size_t)row >= t->snap.n_layers)
        return;
    t->sel = t->top + (size_t)row;
    bool press = ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED | REPORT_MOUSE_POSITION);
    if (press && t->slider_w > 1 && ev.x >= t->slider_x && ev.x < t->slider_x + t->slider_w) {
        /* The cell clicked: its left edge is 0%, the last cell 100% (capped at 99%). */
        double v = (double)(ev.x - t->slider_x) / (double)(t->slider_w - 1);
        v = round(v * 20.0) / 20.0;
        if (fabs(v - t->snap.layers[t->sel].sparsity) > 1e-9)
            tui_set_selected(t, v);
    }
}

static void next_profile(struct tui *t)
{
    const struct snapshot *sn = &t->snap;
    if (sn->n_profiles == 0) {
        tui_message(t, true, "no hardware profiles: %s", sn->estimate_note);
        return;
    }
    size_t at = 0;
    for (size_t i = 0; i < sn->n_profiles; i++)
        if (strcmp(sn->profiles[i], sn->profile) == 0)
            at = (i + 1) % sn->n_profiles;
    char line[96];
    snprintf(line, sizeof line, "profile %s", sn->profiles[at]);
    tui_run_command(t, line, true);
}

static void next_storage(struct tui *t)
{
    enum storage st = STORAGE_DENSE_FP32;
    storage_parse(t->snap.storage, &st);
    char line[64];
    snprintf(line, sizeof line, "storage %s", storage_name((enum storage)(((int)st + 1) % 7)));
    tui_run_command(t, line, true);
}

static void number_key(struct tui *t, int key)
{
    size_t n = strlen(t->count);
    if (n + 1 < sizeof t->count) {
        t->count[n] = (char)key;
        t->count[n + 1] = '\0';
    }
    t->count_active = true;
    tui_message(t, false, "%s: Enter sets %s%% on %s, an arrow moves %s steps", t->count, t->count,
                t->snap.n_layers ? t->snap.layers[t->sel].name : "?", t->count);
}

void keys_dispatch(struct tui *t, int key)
{
    const int page = t->table_rows > 1 ? t->table_rows - 1 : 1;
    if (t->count_active) {
        if ((key >= '0' && key <= '9') || key == '.') {
            number_key(t, key);
            return;
        }
        if (key == '\n' || key == '\r' || key == KEY_ENTER) {
            double v = strtod(t->count, NULL);
            take_count(t);
            tui_set_selected(t, v / 100.0);
            return;
        }
        if (key == KEY_BACKSPACE || key == 127 || key == 8) {
            size_t n = strlen(t->count);
            if (n)
                t->count[n - 1] = '\0';
            t->count_active = n > 1;
            tui_message(t, false, "%s", t->count_active ? t->count : "");
            return;
        }
        if (key == 27) {
            take_count(t);
            tui_message(t, false, "count dropped");
            return;
        }
    }
    switch (key) {
    case KEY_MOUSE: mouse(t); return;
    case KEY_UP:
    case 'k': tui_select(t, -take_count(t)); return;
    case KEY_DOWN:
    case 'j': tui_select(t, take_count(t)); return;
    case KEY_PPAGE: tui_select(t, -page); return;
    case KEY_NPAGE: tui_select(t, page); return;
    case KEY_HOME: tui_select(t, -(long)t->snap.n_layers); return;
    case KEY_END: tui_select(t, (long)t->snap.n_layers); return;
    case KEY_LEFT: tui_move_slider(t, -0.05 * (double)take_count(t)); return;
    case KEY_RIGHT: tui_move_slider(t, 0.05 * (double)take_count(t)); return;
    case KEY_SLEFT: tui_move_slider(t, -0.25); return;
    case KEY_SRIGHT: tui_move_slider(t, 0.25); return;
    case 'g': tui_open_prompt(t, USE_GLOBAL, "global sparsity (%): ", ""); return;
    case 'a':
        t->ask = ASK_AUTO_KIND;
        tui_message(t, false,
                    "auto target: p params, b bytes, l latency, e energy, d max-drop (other: "
                    "cancel)");
        return;
    case 'm':
        if (t->snap.n_layers) {
            char label[96];
            snprintf(label, sizeof label, "method of %.60s: ", t->snap.layers[t->sel].name);
            tui_open_prompt(t, USE_METHOD, label, t->snap.layers[t->sel].method);
        }
        return;
    case 's':
        if (t->snap.have_sens && !t->snap.sens_partial) {
            t->view = t->view == VIEW_HEATMAP ? VIEW_METRICS : VIEW_HEATMAP;
            return;
        }
        tui_run_command(t, "sensitivity", true);
        t->view = VIEW_HEATMAP;
        return;
    case 'S':
        tui_run_command(t, "sensitivity --fresh", true);
        t->view = VIEW_HEATMAP;
        return;
    case 'c':
        tui_run_command(t, "curve", true);
        t->view = VIEW_CURVE;
        return;
    case '\t':
    case 'v': t->view = (enum view)((t->view + 1) % VIEW_COUNT); return;
    case 'p': next_profile(t); return;
    case 'f': next_storage(t); return;
    case 'u': tui_run_command(t, "undo", true); return;
    case 18: tui_run_command(t, "redo", true); return;
    case 'r': tui_run_command(t, "reset", true); return;
    case 'e':
        t->ask = ASK_EXPORT_KIND;
        tui_message(t, false,
                    "export: c config, m model, t torch recipe, n NNI recipe, v sensitivity "
                    "curve (other: cancel)");
        return;
    case ':': tui_open_prompt(t, USE_COMMAND, ":", ""); return;
    case '?': tui_show_help(t); return;
    case 'q':
        if (tui_unexported(t)) {
            t->ask = ASK_QUIT;
            tui_message(t, false, "the configuration was not exported: quit anyway? (y/n)");
        } else {
            t->quit = true;
        }
        return;
    case 'Q': t->quit = true; return;
    default:
        if ((key >= '0' && key <= '9') || key == '.') {
            number_key(t, key);
            return;
        }
        break;
    }
}
