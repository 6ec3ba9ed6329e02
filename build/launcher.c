/* Front of the pm-server sidecar binary: makes a launch one process and skips the
 * onefile bootstrap's per-launch work.
 *
 * build/sidecar appends a Nuitka onefile executable to this program, then a trailer:
 *
 *     [this launcher][Nuitka onefile executable][offset u64][size u64]["PMFASTLAUNCHER01"]
 *
 * The onefile executable unpacks the compiled server into a cache directory named by
 * the build (PM_UNPACK_DIR below, under $XDG_CACHE_HOME or ~/.cache, as Nuitka's
 * {CACHE_DIR}). Left to itself it stays in memory as a second process that forks the
 * server, and on every launch it re-reads and checksums every unpacked file (~95 MB).
 *
 * Here, a launch whose directory is complete (marker file present) execs the unpacked
 * server directly: same pid as the process the desktop shell spawned, no checksum pass.
 * The first launch writes the onefile executable to a temporary file, runs it with
 * PM_FAST_UNPACK_ONLY=1 (it unpacks, the server exits at once), writes the marker,
 * deletes the temporary file and then execs the same way. If anything about that
 * fails, the onefile executable is run as it is (two processes, as before).
 *
 * Before all that, when the environment names the address the server will listen on
 * (PM_SERVER_HOST and PM_SERVER_PORT, as the desktop shell sets them),
 * the listening socket is bound here, within a millisecond of exec, and handed to the
 * server as PM_FAST_LISTEN_FD. Connections made while the interpreter starts wait in
 * the socket's backlog and are answered once it serves, instead of being refused: the
 * shell gives up on a restarted server after three refused /ready polls, 100 ms apart
 * (spec/server.md §3.3 "Restart"). The server checks the socket is bound where its
 * configuration says (else it closes it and binds as usual); if binding fails here,
 * nothing is passed and the server reports the error itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PM_UNPACK_DIR
#error "build/sidecar defines PM_UNPACK_DIR (the unpack directory below the cache dir)"
#endif

#define MAGIC "PMFASTLAUNCHER01"
#define MAGIC_LEN 16
#define TRAILER_LEN (8 + 8 + MAGIC_LEN)
#define MARKER ".pm-fast-complete"
#define SERVER "pm-server.bin"

extern char **environ;

static void die(const char *what) {
    fprintf(stderr, "pm-server: %s: %s\n", what, strerror(errno));
    exit(2);
}

static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* <cache>/<PM_UNPACK_DIR>, with <cache> chosen like Nuitka's {CACHE_DIR}; 0 if unknown. */
static int unpack_dir(char *out, size_t size) {
    const char *xdg = getenv("XDG_CACHE_HOME");
    int n;
    if (xdg != NULL && xdg[0] == '/') {
        n = snprintf(out, size, "%s/%s", xdg, PM_UNPACK_DIR);
    } else {
        const char *home = getenv("HOME");
        if (home == NULL || home[0] != '/') return 0;
        n = snprintf(out, size, "%s/.cache/%s", home, PM_UNPACK_DIR);
    }
    return n > 0 && (size_t)n < size;
}

static int exists(const char *dir, const char *name) {
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return 0;
    return stat(path, &st) == 0;
}

/* Replace this process with the unpacked server, passing what the onefile bootstrap
 * would pass: argv[0] = this executable, the original argv[0], this executable's dir. */
static void exec_server(const char *dir, const char *self, char **argv) {
    char server[PATH_MAX], self_dir[PATH_MAX];
    if (snprintf(server, sizeof server, "%s/%s", dir, SERVER) >= (int)sizeof server) return;
    if (snprintf(self_dir, sizeof self_dir, "%s", self) >= (int)sizeof self_dir) return;
    char *slash = strrchr(self_dir, '/');
    if (slash != NULL) *slash = '\0';
    setenv("NUITKA_ORIGINAL_ARGV0", argv[0], 1);
    setenv("NUITKA_ONEFILE_DIRECTORY", self_dir, 1);
    unsetenv("NUITKA_ONEFILE_PARENT");
    unsetenv("PM_FAST_UNPACK_ONLY");
    argv[0] = (char *)self;
    execv(server, argv);
    /* returns only on failure: the caller falls back to the onefile executable */
}

/* Copy the embedded onefile executable to `path` (mode 0700). */
static int write_payload(int self_fd, uint64_t offset, uint64_t size, const char *path) {
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (out < 0) return 0;
    static char buf[1 << 16];
    uint64_t done = 0;
    while (done < size) {
        size_t want = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        ssize_t got = pread(self_fd, buf, want, (off_t)(offset + done));
        if (got <= 0) break;
        for (ssize_t w = 0; w < got;) {
            ssize_t put = write(out, buf + w, (size_t)(got - w));
            if (put < 0) {
                if (errno == EINTR) continue;
                close(out);
                unlink(path);
                return 0;
            }
            w += put;
        }
        done += (uint64_t)got;
    }
    if (close(out) != 0 || done != size) {
        unlink(path);
        return 0;
    }
    return 1;
}

static int mkdirs(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int bad = mkdir(path, 0700) != 0 && errno != EEXIST;
        *p = '/';
        if (bad) return 0;
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST;
}

/* Bind and listen on PM_SERVER_HOST:PM_SERVER_PORT; export the descriptor as
 * PM_FAST_LISTEN_FD (inherited across exec). Silently does nothing if the variables are
 * missing, the port is not 1-65535, or no address of the host can be bound. */
static void prebind(void) {
    const char *host = getenv("PM_SERVER_HOST");
    const char *port_s = getenv("PM_SERVER_PORT");
    unsetenv("PM_FAST_LISTEN_FD");
    if (host == NULL || port_s == NULL || port_s[0] == '\0') return;
    long port = 0;
    for (const char *c = port_s; *c; c++) {
        if (*c < '0' || *c > '9' || port > 65535) return;
        port = port * 10 + (*c - '0');
    }
    if (port < 1 || port > 65535) return;

    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, port_s, &hints, &found) != 0) return;
    /* IPv4 addresses first, as the server orders them: the shell polls 127.0.0.1. */
    int fd = -1;
    for (int pass = 0; pass < 2 && fd < 0; pass++) {
        for (struct addrinfo *ai = found; ai != NULL && fd < 0; ai = ai->ai_next) {
            if ((ai->ai_family == AF_INET) != (pass == 0)) continue;
            fd = socket(ai->ai_family, SOCK_STREAM, 0); /* no CLOEXEC: the server inherits it */
            if (fd < 0) continue;
            int one = 1;
            if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
                close(fd);
                fd = -1;
            }
        }
    }
    freeaddrinfo(found);
    if (fd < 0) return;
    char text[16];
    snprintf(text, sizeof text, "%d", fd);
    setenv("PM_FAST_LISTEN_FD", text, 1);
}

int main(int argc, char **argv) {
    (void)argc;
    prebind();
    static char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) die("cannot find its own executable");
    self[len] = '\0';

    char dir[PATH_MAX];
    int have_dir = unpack_dir(dir, sizeof dir);
    if (have_dir && exists(dir, MARKER) && exists(dir, SERVER)) exec_server(dir, self, argv);

    /* First launch (or a launch that could not exec): find the onefile executable. */
    int fd = open(self, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot read its own executable");
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < TRAILER_LEN) die("cannot read its own executable");
    unsigned char trailer[TRAILER_LEN];
    if (pread(fd, trailer, TRAILER_LEN, st.st_size - TRAILER_LEN) != TRAILER_LEN)
        die("cannot read its own executable");
    if (memcmp(trailer + 16, MAGIC, MAGIC_LEN) != 0) {
        errno = EINVAL;
        die("no embedded server");
    }
    uint64_t offset = get_u64(trailer), size = get_u64(trailer + 8);

    char tmp[PATH_MAX];
    char parent[PATH_MAX];
    if (have_dir) {
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash != NULL) *slash = '\0';
    } else {
        snprintf(parent, sizeof parent, "%s", "/tmp");
    }
    if (!mkdirs(parent)) snprintf(parent, sizeof parent, "%s", "/tmp");
    if (snprintf(tmp, sizeof tmp, "%s/.pm-server-%ld.onefile", parent, (long)getpid()) >=
        (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        die("cannot unpack the server");
    }
    if (!write_payload(fd, offset, size, tmp)) die("cannot write the server to unpack it");
    close(fd);

    if (have_dir) {
        /* Unpack only: the onefile executable fills `dir`, its server exits at once. */
        pid_t pid = fork();
        if (pid == 0) {
            setenv("PM_FAST_UNPACK_ONLY", "1", 1);
            unsetenv("PM_FAST_LISTEN_FD"); /* the listener is for the server, not this run */
            int null = open("/dev/null", O_RDWR);
            if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
            }
            char *child_argv[] = {tmp, NULL};
            execv(tmp, child_argv);
            _exit(127);
        }
        int status = 0;
        if (pid > 0) {
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
        if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && exists(dir, SERVER)) {
            char marker[PATH_MAX];
            int m = -1;
            if (snprintf(marker, sizeof marker, "%s/%s", dir, MARKER) < (int)sizeof marker)
                m = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            if (m >= 0) {
                close(m);
                unlink(tmp);
                exec_server(dir, self, argv);
            }
        }
    }
    /* Fallback: run the onefile executable as it is (it unpacks and runs the server as
     * its child). The temporary file stays behind: it is being executed. */
    execv(tmp, argv);
    die("cannot run the server");
    return 2;
}
