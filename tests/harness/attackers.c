/* Hostile processes for the reliability tests (issue G), driven by tests/harness/attackers.py.
 *
 *   attackers [--comm NAME] swap FIFO SECONDS   fd 100 flips between an nsfs file and a FIFO
 *                                               that has no writer, as fast as it can
 *   attackers [--comm NAME] hold COUNT SECONDS  COUNT fds on its network namespace, then waits
 *   attackers churn RATE SECONDS                RATE short-lived children a second
 *
 * `swap` and `hold` first move into a network namespace of their own, so that everything they
 * pin is theirs. `--comm` renames the process (prctl PR_SET_NAME), as a process that wants to be
 * taken for a container runtime would. Every mode dies with its parent (PR_SET_PDEATHSIG) and
 * after SECONDS at the latest (alarm), whatever the test does. Each prints one line when it is
 * set up ("ready ...") and `churn` one more when it is done ("forks N seconds S").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SWAPPED_FD 100
#define MAX_CHILDREN 256 /* children alive at once, at the most */

_Noreturn static void die(const char *what) {
    fprintf(stderr, "attackers: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int own_netns_fd(void) {
    if (unshare(CLONE_NEWNET) != 0) die("unshare(CLONE_NEWNET)");
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open /proc/self/ns/net");
    return fd;
}

_Noreturn static void swap(const char *fifo) {
    int ns = own_netns_fd();
    /* A read-only open of a FIFO with O_NONBLOCK succeeds without a writer; anyone who opens
     * it again through /proc/<pid>/fd without O_NONBLOCK waits for a writer that never comes. */
    int pipe_end = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (pipe_end < 0) die("open fifo");
    printf("ready swap\n");
    fflush(stdout);
    for (;;) {
        dup2(ns, SWAPPED_FD);
        dup2(pipe_end, SWAPPED_FD);
    }
}

_Noreturn static void hold(long count) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) die("getrlimit");
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) die("setrlimit");
    own_netns_fd();
    for (long i = 1; i < count; i++)
        if (open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC) < 0) die("open /proc/self/ns/net");
    printf("ready hold %ld\n", count);
    fflush(stdout);
    for (;;) pause();
}

static void reap(int *alive, int options) {
    while (*alive > 0 && waitpid(-1, NULL, options) > 0) (*alive)--;
}

static int churn(double rate, double seconds) {
    /* Paced in ticks of 10 ms; each child lives 0-4 ms, so scans meet processes that vanish
     * while they are read. */
    const double tick = 0.01;
    double started = now(), next = started;
    long forks = 0;
    int alive = 0;
    srand((unsigned)getpid());
    printf("ready churn\n");
    fflush(stdout);
    while (now() - started < seconds) {
        long due = (long)((next - started + tick) * rate) - forks;
        for (long i = 0; i < due; i++) {
            if (alive >= MAX_CHILDREN) reap(&alive, 0);
            pid_t child = fork();
            if (child == 0) {
                usleep(rand() % 4000);
                _exit(0);
            }
            if (child < 0) die("fork");
            forks++;
            alive++;
        }
        reap(&alive, WNOHANG);
        next += tick;
        double wait = next - now();
        if (wait > 0) usleep((useconds_t)(wait * 1e6));
    }
    reap(&alive, 0);
    printf("forks %ld seconds %.3f\n", forks, now() - started);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return 1; /* the parent is already gone */
    int arg = 1;
    if (argc > 2 && strcmp(argv[1], "--comm") == 0) {
        prctl(PR_SET_NAME, argv[2]);
        arg = 3;
    }
    if (argc - arg != 3) {
        fprintf(stderr, "usage: attackers [--comm NAME] swap|hold|churn ARG SECONDS\n");
        return 2;
    }
    const char *mode = argv[arg];
    double seconds = atof(argv[arg + 2]);
    alarm((unsigned)seconds + 5); /* churn stops itself at SECONDS; this is the backstop */
    if (strcmp(mode, "churn") == 0) return churn(atof(argv[arg + 1]), seconds);
    if (strcmp(mode, "swap") == 0) swap(argv[arg + 1]);
    if (strcmp(mode, "hold") == 0) hold(atol(argv[arg + 1]));
    fprintf(stderr, "attackers: unknown mode %s\n", mode);
    return 2;
}
