/* The floor of a namespace scan: readlink(2) the 8 namespace links of every process under a
 * proc root, and nothing else. Prints the processes seen, the links read and the seconds taken
 * (CLOCK_MONOTONIC, so process start-up is not counted).
 * Usage: floor [PROC_ROOT]   (default /proc) */
#include <dirent.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *const NS_TYPES[] = {"net", "ipc", "uts", "pid", "mnt", "user", "cgroup", "time"};

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : "/proc";
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    DIR *dir = opendir(root);
    if (dir == NULL) {
        perror(root);
        return 1;
    }
    long processes = 0, links = 0;
    char path[4096], target[64];
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        processes++;
        for (size_t i = 0; i < sizeof NS_TYPES / sizeof NS_TYPES[0]; i++) {
            snprintf(path, sizeof path, "%s/%s/ns/%s", root, entry->d_name, NS_TYPES[i]);
            if (readlink(path, target, sizeof target) > 0)
                links++;
        }
    }
    closedir(dir);
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("%ld %ld %.9f\n", processes, links,
           (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
    return 0;
}
