#ifndef NNTOP_CNCURSES_SHIM_H
#define NNTOP_CNCURSES_SHIM_H

#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <ncursesw/curses.h>
#include <ncursesw/term.h>
#include <signal.h>
#include <string.h>
#include <locale.h>
#include <langinfo.h>
#include <wchar.h>
#include <unistd.h>
#include <termios.h>

// Swift does not import C macros with arguments nor (in Swift 6) mutable globals such as
// stdscr, LINES, COLS, COLORS. These accessors are the only way the TUI target reaches them.

static inline WINDOW *nntop_stdscr(void) { return stdscr; }
static inline int nntop_lines(void) { return LINES; }
static inline int nntop_cols(void) { return COLS; }
static inline int nntop_colors(void) { return COLORS; }
static inline int nntop_color_pairs(void) { return COLOR_PAIRS; }

static inline attr_t nntop_a_normal(void) { return A_NORMAL; }
static inline attr_t nntop_a_bold(void) { return A_BOLD; }
static inline attr_t nntop_a_dim(void) { return A_DIM; }
static inline attr_t nntop_a_reverse(void) { return A_REVERSE; }
static inline attr_t nntop_a_underline(void) { return A_UNDERLINE; }

static inline int nntop_key_f(int n) { return KEY_F(n); }

static inline void nntop_getmaxyx(WINDOW *w, int *y, int *x) {
    int yy = 0, xx = 0;
    if (w) { getmaxyx(w, yy, xx); }
    *y = yy; *x = xx;
}

/// Writes one cell: `wch` is a NUL-terminated wide string of one spacing character plus
/// optional combining characters. Uses the extended-colour form so pairs above 32767 work.
static inline int nntop_put_cell(int y, int x, const wchar_t *wch, attr_t attr, int pair) {
    cchar_t cc;
    memset(&cc, 0, sizeof cc);
    if (setcchar(&cc, wch, attr, 0, &pair) == ERR) return ERR;
    return mvadd_wch(y, x, &cc);
}

static inline int nntop_init_pair(int pair, int fg, int bg) {
    return init_extended_pair(pair, fg, bg);
}

/// newterm on the process's stdin/stdout; NULL (instead of exiting, as initscr does) on failure.
static inline SCREEN *nntop_newterm(void) { return newterm(NULL, stdout, stdin); }

// ---- signals: the handler only stores the signal number (async-signal-safe) ----

// State lives in function-local statics: Swift's importer emits the inline functions but
// not file-scope tentative definitions.
static inline volatile sig_atomic_t *nntop_pending_signal_ptr(void) {
    static volatile sig_atomic_t pending = 0;
    return &pending;
}

static inline struct sigaction *nntop_saved_action(int i) {
    static struct sigaction saved[4];
    return &saved[i];
}

static void nntop_signal_handler(int sig) { *nntop_pending_signal_ptr() = sig; }

/// The signals the dashboard catches while it runs, and their previous dispositions.
static const int nntop_watched_signals[3] = { SIGINT, SIGTERM, SIGHUP };

/// Points `sig` at `handler` (no flags, nothing masked), saving the previous action in `saved`.
static inline void nntop_set_handler(int sig, void (*handler)(int), struct sigaction *saved) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(sig, &sa, saved);
}

/// Installs the flag-setting handler for SIGINT, SIGTERM and SIGHUP (saving the previous
/// dispositions) and ignores SIGPIPE. No SA_RESTART: a blocking read returns with EINTR.
static inline void nntop_install_handlers(void) {
    for (int i = 0; i < 3; i++) nntop_set_handler(nntop_watched_signals[i], nntop_signal_handler, nntop_saved_action(i));
    nntop_set_handler(SIGPIPE, SIG_IGN, nntop_saved_action(3));
}

/// Puts back what nntop_install_handlers replaced. After a hangup the terminal is gone and
/// more SIGHUPs may follow (from the kernel and the terminal emulator): with `ignore_hup`
/// SIGHUP stays ignored so the app can still shut down cleanly.
static inline void nntop_restore_handlers(int ignore_hup) {
    for (int i = 0; i < 3; i++) sigaction(nntop_watched_signals[i], nntop_saved_action(i), NULL);
    sigaction(SIGPIPE, nntop_saved_action(3), NULL);
    if (ignore_hup) nntop_set_handler(SIGHUP, SIG_IGN, NULL);
}

/// Returns and clears the last caught signal (0 when none).
static inline int nntop_take_signal(void) {
    int s = *nntop_pending_signal_ptr();
    *nntop_pending_signal_ptr() = 0;
    return s;
}

static inline int nntop_peek_signal(void) { return *nntop_pending_signal_ptr(); }


// ---- fatal signals: give the terminal back before the process dies ----

// A crash (a Swift trap is SIGILL or SIGTRAP, a bad pointer SIGSEGV) while curses owns the
// terminal would leave the user's shell in raw mode on the alternate screen. The handler
// writes the terminal's own reset strings (saved at start: write and tcsetattr are
// async-signal-safe, curses is not), then hands the signal to whoever had it before (the
// Swift runtime's backtracer, or the default action), so the crash still reports and dies.

static const int nntop_fatal_signals[6] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP };

static inline struct sigaction *nntop_saved_fatal_action(int i) {
    static struct sigaction saved[6];
    return &saved[i];
}
static inline struct termios *nntop_saved_termios(void) {
    static struct termios t;
    return &t;
}
static inline volatile sig_atomic_t *nntop_termios_valid(void) {
    static volatile sig_atomic_t valid = 0;
    return &valid;
}
static inline char *nntop_reset_sequence(void) {
    static char seq[256];
    return seq;
}

static void nntop_fatal_handler(int sig) {
    if (*nntop_termios_valid()) tcsetattr(STDIN_FILENO, TCSANOW, nntop_saved_termios());
    const char *seq = nntop_reset_sequence();
    size_t n = strlen(seq);
    if (n > 0) { ssize_t w = write(STDOUT_FILENO, seq, n); (void)w; }
    for (int i = 0; i < 6; i++) {
        if (nntop_fatal_signals[i] == sig) sigaction(sig, nntop_saved_fatal_action(i), NULL);
    }
    raise(sig);  // blocked until this handler returns, then delivered to the previous action
}

static inline void nntop_append_cap(char *dst, size_t size, const char *cap) {
    char *v = tigetstr((char *)cap);
    if (v == NULL || v == (char *)-1) return;
    size_t used = strlen(dst), len = strlen(v);
    if (used + len + 1 > size) return;
    memcpy(dst + used, v, len + 1);
}

/// Call before curses starts (saves the terminal's modes).
static inline void nntop_save_terminal_modes(void) {
    *nntop_termios_valid() = tcgetattr(STDIN_FILENO, nntop_saved_termios()) == 0;
}

/// Call once curses has started: records the reset strings terminfo gives for this terminal
/// (attributes off, cursor shown, alternate screen left) and installs the fatal handlers.
static inline void nntop_install_fatal_handlers(void) {
    char *seq = nntop_reset_sequence();
    seq[0] = 0;
    nntop_append_cap(seq, 255, "sgr0");
    nntop_append_cap(seq, 255, "cnorm");
    nntop_append_cap(seq, 255, "rmcup");
    if (strlen(seq) + 3 <= 255) strcat(seq, "\r\n");
    for (int i = 0; i < 6; i++) nntop_set_handler(nntop_fatal_signals[i], nntop_fatal_handler, nntop_saved_fatal_action(i));
}

/// Puts back the previous fatal-signal actions (after curses has ended normally).
static inline void nntop_restore_fatal_handlers(void) {
    for (int i = 0; i < 6; i++) sigaction(nntop_fatal_signals[i], nntop_saved_fatal_action(i), NULL);
}

// ---- locale and terminfo ----

static inline void nntop_setlocale_all(void) { setlocale(LC_ALL, ""); }

static inline int nntop_codeset_is_utf8(void) {
    const char *cs = nl_langinfo(CODESET);
    if (!cs) return 0;
    return strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0 || strcmp(cs, "utf-8") == 0;
}

/// 1 when terminfo knows `name`; leaves the current terminal (if any) untouched.
static inline int nntop_term_known(const char *name) {
    int err = 0;
    TERMINAL *old = cur_term;
    if (setupterm(name, STDOUT_FILENO, &err) != OK) {
        if (old) set_curterm(old);
        return 0;
    }
    TERMINAL *mine = cur_term;
    set_curterm(old);
    if (mine && mine != old) del_curterm(mine);
    return 1;
}

#endif
