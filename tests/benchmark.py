"""The benchmark of process_exporter.py: figures, not assertions.

    python3 test_process_exporter.py bench [N ...]     every measure, N extra processes
    python3 test_process_exporter.py bench-cmdline [N ...]
    python3 test_process_exporter.py bench-soak        2,000 scrapes: memory over time
    python3 test_process_exporter.py bench-churn [SCRIPT [SECONDS]]   processes coming and
                                                       going, each mode; SCRIPT: another
                                                       release's, for a before and after
    python3 test_process_exporter.py bench-once [PYTHON]   --once against python3 -c pass

Each measure takes its turn in every round, so that a shared machine's slow spells fall
on all of them alike; what it prints are medians and ratios of one run.
"""

import ctypes
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time

import process_exporter as pe
from test_process_exporter import (  # noqa: F401  (the suite's fixtures, reused)
    HERE, SCRIPT, add_fake, cpu_seconds, free_port, parse_exposition, render_series,
    samples_of, standin_library, start_script, stop_process, IS_LINUX)


SEED_FAMILIES = "process_start_time_seconds,process_cpu_seconds_total," \
                "process_resident_memory_bytes"

FLOOR_C = r"""
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Read every /proc/<pid>/stat and statm, `rounds` times; print each round's seconds. */
int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 1;
    char path[64], buf[4096];
    for (int r = 0; r < rounds; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        DIR *proc = opendir("/proc");
        struct dirent *entry;
        long total = 0;
        while ((entry = readdir(proc)) != NULL) {
            if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
            const char *files[] = {"stat", "statm"};
            for (int f = 0; f < 2; f++) {
                snprintf(path, sizeof path, "/proc/%s/%s", entry->d_name, files[f]);
                int fd = open(path, O_RDONLY);
                if (fd < 0) continue;
                total += read(fd, buf, sizeof buf);
                close(fd);
            }
        }
        closedir(proc);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("%.9f %ld\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, total);
    }
    return 0;
}
"""


def median_time(action, rounds):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2]


def interleaved_medians(actions, rounds):
    """Median wall and CPU time of each action, the actions taking turns in every round
    so that a shared machine's slow spells fall on all of them alike."""
    wall = {name: [] for name in actions}
    cpu = {name: [] for name in actions}
    for _ in range(rounds):
        for name, action in actions.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            action()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - started_cpu)
    middle = rounds // 2
    return ({name: sorted(times)[middle] for name, times in wall.items()},
            {name: sorted(times)[middle] for name, times in cpu.items()})


def pids_now():
    return [entry for entry in os.listdir("/proc") if entry.isdigit()]


def python_floor(files):
    """A plain Python loop reading `files` of every process ('fd': counting fd/ as the
    exporter does, by its size where the kernel gives it, else by listing it)."""
    size_counts = pe.fd_dir_size_counts("/proc")

    def read_all():
        for pid in pids_now():
            for name in files:
                try:
                    if name == "fd":
                        if size_counts:
                            os.stat("/proc/%s/fd" % pid)
                        else:
                            os.listdir("/proc/%s/fd" % pid)
                    else:
                        with open("/proc/%s/%s" % (pid, name), "rb") as f:
                            f.read()
                except OSError:
                    pass
    return read_all


def rss_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class ScrapeTarget:
    """An exporter-like server started as a process, scraped over one keep-alive link."""

    def __init__(self, command, port):
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                self.scrape()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def scrape(self, gzip_ok=False):
        self.conn.request("GET", "/metrics",
                          headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
        response = self.conn.getresponse()
        body = response.read()
        assert response.status == 200, response.status
        return body

    def stop(self):
        self.conn.close()
        stop_process(self.proc)


def run_benchmark(counts=(0, 1000, 3000), rounds=15, out=sys.stdout):
    """Print medians, per-process costs and ratios for each count of extra processes."""
    say = lambda *parts: (out.write(" ".join(str(p) for p in parts) + "\n"),  # noqa: E731
                          out.flush())
    folder = tempfile.mkdtemp(prefix="process-exporter-bench-")
    floor_c = None
    compiler = shutil.which("cc")
    if compiler:
        floor_c = os.path.join(folder, "floor")
        with open(floor_c + ".c", "w") as f:
            f.write(FLOOR_C)
        subprocess.run([compiler, "-O2", "-o", floor_c, floor_c + ".c"], check=True)
    reference = shutil.which("prometheus-process-exporter")
    reference_config = os.path.join(folder, "reference.yml")
    with open(reference_config, "w") as f:
        f.write('process_names:\n  - name: "{{.Comm}}-{{.PID}}"\n    cmdline:\n    - ".+"\n')
    say("machine: %d cores, Linux %s, Python %s" % (
        os.cpu_count(), os.uname().release, sys.version.split()[0]))
    say("medians of %d rounds; costs are per process listed in /proc" % rounds)
    results = {}
    try:
        for extra in counts:
            idle = [subprocess.Popen(["sleep", "100000"]) for _ in range(extra)]
            try:
                results[extra] = bench_one(extra, rounds, floor_c, reference,
                                           reference_config, say)
            finally:
                for child in idle:           # exactly the processes we started
                    child.kill()
                for child in idle:
                    child.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def bench_one(extra, rounds, floor_c, reference, reference_config, say):
    n = len(pids_now())
    seed_families = pe.select_families(SEED_FAMILIES.split(","))
    per = lambda seconds: seconds / n * 1e6                           # noqa: E731
    figures = {"processes": n}
    targets = {}
    try:
        for label, extra_args in (("seed", ["--metrics", SEED_FAMILIES]), ("all", [])):
            port = free_port()
            targets[label] = ScrapeTarget([sys.executable, SCRIPT,
                                           "--web.listen-address=127.0.0.1:%d" % port]
                                          + extra_args, port)
            parse_exposition(targets[label].scrape().decode("utf-8"))   # valid, no twins
        # Every measure takes its turn in every round, so that a shared machine's slow
        # spells fall on all of them alike: the ratios are what the benchmark is for.
        actions = {
            "py_floor": python_floor(("stat", "statm")),
            "ps": lambda: subprocess.run(["ps", "-eo", "pid,ppid,uid,gid,rss,time,lstart,comm"],
                                         stdout=subprocess.DEVNULL, check=True),
            "py_all_files": python_floor(("stat", "status", "fd", "io")),
            "cold_seed": lambda: pe.Exporter(pe.LinuxReader(fields=pe.fields_of(seed_families)),
                                             seed_families).scrape(),
        }
        for label, target in targets.items():
            actions[label] = target.scrape
            actions[label + "_gzip"] = lambda target=target: target.scrape(True)
        if floor_c:
            # the C floor times itself, one round a call; its own figure is what counts
            c_times = []
            actions["c_floor"] = lambda: c_times.append(float(subprocess.run(
                [floor_c, "1"], stdout=subprocess.PIPE, check=True).stdout.split()[0]))
        cpu_before = {label: cpu_seconds(target.proc.pid) for label, target in targets.items()}
        wall, _ = interleaved_medians(actions, rounds)
        for label, target in targets.items():
            # CPU the exporter spent per scrape (plain and gzip alike), from its own clock
            figures[label + "_cpu"] = (cpu_seconds(target.proc.pid) - cpu_before[label]) \
                / (2 * rounds)
            figures[label + "_rss"] = rss_of(target.proc.pid)
            figures[label + "_fds"] = len(os.listdir("/proc/%d/fd" % target.proc.pid))
        figures.update(wall)
        if floor_c:
            figures["c_floor"] = sorted(c_times)[len(c_times) // 2]
    finally:
        for target in targets.values():
            target.stop()
    if reference:
        port = free_port()
        target = ScrapeTarget([reference, "-config.path", reference_config,
                               "-web.listen-address", "127.0.0.1:%d" % port], port)
        try:
            figures["reference"] = median_time(target.scrape, max(5, rounds // 3))
            figures["reference_rss"] = rss_of(target.proc.pid)
        finally:
            target.stop()
    python_pass = median_time(lambda: subprocess.run([sys.executable, "-c", "pass"]), rounds)
    once = median_time(lambda: subprocess.run(
        [sys.executable, SCRIPT, "--once", "--metrics", SEED_FAMILIES],
        stdout=subprocess.DEVNULL), rounds)
    figures["python_pass"], figures["once"] = python_pass, once

    say("")
    say("== %d extra idle processes (%d in /proc) ==" % (extra, n))
    say("%-44s %10s %12s" % ("", "median ms", "us/process"))
    rows = [("C floor: read every stat+statm", "c_floor"),
            ("Python floor: read every stat+statm", "py_floor"),
            ("ps -eo pid,ppid,uid,gid,rss,time,lstart,comm", "ps"),
            ("exporter, seed families, over HTTP", "seed"),
            ("exporter, seed families, gzip", "seed_gzip"),
            ("Python loop: stat+status+fd/+io", "py_all_files"),
            ("exporter, default families, over HTTP", "all"),
            ("exporter, default families, gzip", "all_gzip"),
            ("reference process-exporter, group per pid", "reference"),
            ("python3 -c pass", "python_pass"),
            ("a first scrape, in-process (seed)", "cold_seed"),
            ("python3 process_exporter.py --once (seed)", "once")]
    for title, key in rows:
        if key in figures:
            say("%-44s %10.2f %12.1f" % (title, figures[key] * 1e3, per(figures[key])))
    ratio = lambda a, b: (figures[a] / figures[b]) if a in figures and b in figures \
        else float("nan")                                             # noqa: E731
    say("ratios:")
    say("  seed / C floor            %.2f  (target <= 1.25)" % ratio("seed", "c_floor"))
    say("  seed / ps                 %.2f  (target <= 0.5)" % ratio("seed", "ps"))
    say("  default / Python same files  %.2f  (target <= 1.25)" % ratio("all", "py_all_files"))
    say("  reference / default       %.1f  (target >= 8)" % ratio("reference", "all"))
    say("  seed gzip / seed plain    %.2f  (target <= 1.25)" % ratio("seed_gzip", "seed"))
    say("  default gzip / plain      %.2f  (target <= 1.25)" % ratio("all_gzip", "all"))
    say("  --once / (python -c pass + a first scrape)  %.2f  (target < 2)"
        % (figures["once"] / (figures["python_pass"] + figures["cold_seed"])))
    say("memory: exporter RSS seed %.1f MiB (target <= 25), all %.1f MiB; reference %s"
        % (figures["seed_rss"] / 2**20, figures["all_rss"] / 2**20,
           "%.1f MiB (target: all <= half)" % (figures["reference_rss"] / 2**20)
           if "reference_rss" in figures else "not installed"))
    say("exporter CPU per scrape: seed %.2f ms (%.1f us/process), all %.2f ms (%.1f us/process)"
        % (figures["seed_cpu"] * 1e3, per(figures["seed_cpu"]), figures["all_cpu"] * 1e3,
           per(figures["all_cpu"])))
    say("open files kept: seed %d, all %d (about 4 KiB of kernel memory each, outside RSS;"
        " --no-linux.keep-files-open gives it up)" % (figures["seed_fds"], figures["all_fds"]))
    return figures


# A program of eight threads that wait for ever: what the thread families read.
THREADED_C = r"""
#include <pthread.h>
#include <unistd.h>
static void *wait_for_ever(void *arg) { (void)arg; for (;;) pause(); return 0; }
int main(void) {
    pthread_t thread;
    for (int i = 0; i < 7; i++) pthread_create(&thread, 0, wait_for_ever, 0);
    for (;;) pause();
}
"""


def bench_groups_and_threads(processes=200, rounds=15, out=sys.stdout):
    """What the per-thread switch sums, --threads and --gather-smaps cost: scrapes over
    HTTP with `processes` extra programs of eight threads each, every variant taking its
    turn in every round; wall time and the exporter's own CPU per scrape."""
    say = lambda *parts: (out.write(" ".join(str(p) for p in parts) + "\n"),  # noqa: E731
                          out.flush())
    compiler = shutil.which("cc")
    if not compiler:
        say("no C compiler: the threads benchmark needs one")
        return {}
    folder = tempfile.mkdtemp(prefix="process-exporter-threads-")
    program = os.path.join(folder, "threaded")
    with open(program + ".c", "w") as f:
        f.write(THREADED_C)
    subprocess.run([compiler, "-O2", "-pthread", "-o", program, program + ".c"], check=True)
    no_switches = ",".join(family.name for family in pe.PROCESS_FAMILIES
                           if family.default and family.name != "process_context_switches_total")
    variants = (("per process, without context switches", ["--metrics", no_switches]),
                ("per process, default (switches summed over threads)", []),
                ("--group-by name", ["--group-by=name"]),
                ("--group-by name --threads", ["--group-by=name", "--threads"]),
                ("--group-by name --gather-smaps", ["--group-by=name", "--gather-smaps"]))
    children = [subprocess.Popen([program]) for _ in range(processes)]
    targets = {}
    try:
        time.sleep(0.5)                     # every thread started
        pids = pids_now()
        threads = sum(len(os.listdir("/proc/%s/task" % pid)) for pid in pids
                      if os.path.isdir("/proc/%s/task" % pid))
        for title, args in variants:
            port = free_port()
            targets[title] = ScrapeTarget([sys.executable, SCRIPT,
                                           "--web.listen-address=127.0.0.1:%d" % port] + args,
                                          port)
        cpu_before = {title: cpu_seconds(t.proc.pid) for title, t in targets.items()}
        wall, _ = interleaved_medians({title: t.scrape for title, t in targets.items()}, rounds)
        cpu = {title: (cpu_seconds(t.proc.pid) - cpu_before[title]) / rounds
               for title, t in targets.items()}
    finally:
        for target in targets.values():
            target.stop()
        for child in children:
            child.kill()
        for child in children:
            child.wait()
        shutil.rmtree(folder, ignore_errors=True)
    say("")
    say("== %d processes, %d threads (%d programs of 8 threads added) ==" % (
        len(pids), threads, processes))
    say("%-54s %9s %9s %11s" % ("", "median ms", "CPU ms", "us/process"))
    for title, _ in variants:
        say("%-54s %9.2f %9.2f %11.1f" % (title, wall[title] * 1e3, cpu[title] * 1e3,
                                           cpu[title] / len(pids) * 1e6))
    base = variants[0][0]
    say("context switches summed over threads: +%.1f us of CPU per thread"
        % ((cpu[variants[1][0]] - cpu[base]) / threads * 1e6))
    groups = variants[2][0]
    say("--threads: +%.1f us of CPU per thread; --gather-smaps: +%.1f us per process"
        % ((cpu[variants[3][0]] - cpu[groups]) / threads * 1e6,
           (cpu[variants[4][0]] - cpu[groups]) / len(pids) * 1e6))
    return {"wall": wall, "cpu": cpu, "processes": len(pids), "threads": threads}


def bench_darwin_standin(count=3000, rounds=15, out=sys.stdout):
    """Python-side cost per process of DarwinReader over the stand-in, against a bare
    loop of the same calls it makes in a steady state (the path is asked for once per
    program run, so not in either)."""
    lib = standin_library()
    lib.standin_reset()
    lib.standin_timebase(125, 3, 24000000)
    lib.standin_caller_uid(501)
    for pid in range(100, 100 + count):
        add_fake(lib, pid, comm=b"proc", start=(1700000000, pid), ticks=(pid * 1000, pid),
                 resident=pid * 4096, path=b"/usr/bin/proc")
        lib.standin_set_counts(pid, 4, pid * 10, pid, pid * 100)
        lib.standin_set_fds(pid, 10, 64, 64)
    seed = pe.select_families(SEED_FAMILIES.split(","))
    default = pe.select_families(None)
    seed_reader = pe.DarwinReader(lib, pe.fields_of(seed))
    default_reader = pe.DarwinReader(lib, pe.fields_of(default))
    info, usage = pe.proc_taskallinfo(), pe.rusage_info_v6()
    fds = (ctypes.c_uint64 * 128)()
    mib = (ctypes.c_int * 3)(pe.CTL_KERN, pe.KERN_PROC, pe.KERN_PROC_ALL)
    table = ctypes.create_string_buffer((count + 64) * ctypes.sizeof(pe.kinfo_proc))
    size = ctypes.c_size_t()

    def bare_calls(with_rest):
        size.value = 0
        lib.sysctl(mib, 3, None, ctypes.byref(size), None, 0)
        size.value = len(table)
        lib.sysctl(mib, 3, table, ctypes.byref(size), None, 0)
        for row in range(size.value // ctypes.sizeof(pe.kinfo_proc)):
            pid = 100 + row
            lib.proc_pidinfo(pid, 2, 0, ctypes.byref(info), 232)
            if with_rest:
                lib.proc_pid_rusage(pid, 6, ctypes.byref(usage))
                lib.proc_pidinfo(pid, 1, 0, fds, ctypes.sizeof(fds))
    labels = pe.LabelCache(pe.process_labels)      # as the exporter renders

    def read_and_render(reader, families):
        render_series(reader.read(), families, labels)
        labels.next_scrape()
    figures, cpu = interleaved_medians({
        "bare_seed": lambda: bare_calls(False),
        "seed_read": seed_reader.read,
        "seed": lambda: read_and_render(seed_reader, seed),
        "bare_default": lambda: bare_calls(True),
        "default_read": default_reader.read,
        "default": lambda: read_and_render(default_reader, default),
    }, rounds)
    out.write("\n== macOS path over the stand-in libSystem, %d processes ==\n" % count)
    for key, title in (("bare_seed", "bare ctypes calls: table + TASKALLINFO"),
                       ("seed_read", "DarwinReader, seed families"),
                       ("seed", "DarwinReader + render, seed families"),
                       ("bare_default", "bare calls: + rusage + LISTFDS"),
                       ("default_read", "DarwinReader, default families"),
                       ("default", "DarwinReader + render, default families")):
        out.write("%-44s %8.2f ms %6.1f us/process (CPU %6.1f us)\n"
                  % (title, figures[key] * 1e3, figures[key] / count * 1e6,
                     cpu[key] / count * 1e6))
    for clock, values in (("wall", figures), ("CPU", cpu)):
        out.write("ratios to the bare calls (%s): reading seed %.2f x, default %.2f x; "
                  "reading and rendering seed %.2f x, default %.2f x\n"
                  % (clock, values["seed_read"] / values["bare_seed"],
                     values["default_read"] / values["bare_default"],
                     values["seed"] / values["bare_seed"],
                     values["default"] / values["bare_default"]))
    lib.standin_reset()
    return figures


def bench_cmdline(counts=(1000, 3000), rounds=31, out=sys.stdout):
    """Scrape cost, in-process and interleaved, with no rule, with a `cmdline:` rule
    and with --label cmdline, in the steady state (every command line read before)."""
    results = {}
    for extra in counts:
        idle = [subprocess.Popen(["sleep", "100000"]) for _ in range(extra)]
        try:
            exporters = {name: pe.build_exporter(pe.parse_args(argv)) for name, argv in (
                ("no rule", []), ("cmdline: rule", ["--exclude=cmdline:--type=renderer"]),
                ("--label cmdline", ["--label=cmdline"]))}
            for exporter in exporters.values():
                exporter.scrape()             # the first scrape reads every command line
            wall, cpu = interleaved_medians(
                {name: exporter.scrape for name, exporter in exporters.items()}, rounds)
            n = len(pids_now())
        finally:
            for child in idle:
                child.kill()
            for child in idle:
                child.wait()
        out.write("\n== command lines: %d extra idle processes (%d in /proc), medians of %d "
                  "interleaved rounds ==\n" % (extra, n, rounds))
        for name in exporters:
            out.write("%-18s %8.2f ms wall %8.2f ms CPU  %5.2f x no rule (CPU %5.2f x)\n"
                      % (name, wall[name] * 1e3, cpu[name] * 1e3, wall[name] / wall["no rule"],
                         cpu[name] / cpu["no rule"]))
        results[extra] = (wall, cpu)
    return results



def bench_soak(scrapes=2000, out=sys.stdout):
    """The exporter's resident memory after 100 scrapes and after `scrapes`, one
    keep-alive connection asking for gzip: what a long run adds."""
    proc, port = start_script()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.monotonic()
        for i in range(scrapes):
            conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
            response = conn.getresponse()
            assert response.status == 200, response.status
            response.read()
            if i == 99:
                after_100 = rss_of(proc.pid)
        at_end = rss_of(proc.pid)
        out.write("soak: %d scrapes in %.1f s; RSS after 100 %.1f MiB, after %d %.1f MiB "
                  "(%+.2f MiB)\n" % (scrapes, time.monotonic() - started, after_100 / 2**20,
                                     scrapes, at_end / 2**20, (at_end - after_100) / 2**20))
        conn.close()
    finally:
        stop_process(proc)


# Starts a short-lived program every `interval` microseconds, each living `life`
# seconds, for `seconds`: processes coming and going as on a build machine.
CHURN_C = r"""
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long interval = atol(argv[1]), n = 0;
    double seconds = atof(argv[2]);
    const char *life = argv[3];
    struct timespec start, now, pause = {0, interval * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    signal(SIGCHLD, SIG_IGN);                 /* reaped by the kernel */
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 > seconds) break;
        char name[32];
        snprintf(name, sizeof name, "churn-%ld", n++ % 50);   /* 50 names, over and over */
        if (fork() == 0) {
            execlp("sleep", name, life, (char *)0);
            _exit(1);
        }
        nanosleep(&pause, 0);
    }
    return 0;
}
"""

CHURN_MODES = (("per process", []), ("--top=10", ["--top=10"]),
               ("--group-by name", ["--group-by=name"]),
               ("--group-by name --threads", ["--group-by=name", "--threads"]))


def bench_churn(script=SCRIPT, seconds=60, rate=200, out=sys.stdout):
    """Each mode of `script` under `rate` new processes a second (each living a second)
    for `seconds`, scraped once a second: its RSS, series and scrape time at the start
    (the fifth second) and at the end, and what it spent in all.  Run it against an
    older release (its script as an argument) for a before and after."""
    compiler = shutil.which("cc")
    if not compiler or not IS_LINUX:
        out.write("the churn benchmark needs cc and Linux\n")
        return {}
    folder = tempfile.mkdtemp(prefix="process-exporter-churn-")
    churner = os.path.join(folder, "churn")
    with open(churner + ".c", "w") as f:
        f.write(CHURN_C)
    subprocess.run([compiler, "-O2", "-o", churner, churner + ".c"], check=True)
    out.write("\n== churn: %d new processes a second for %d s, scraped every second: %s ==\n"
              % (rate, seconds, os.path.relpath(script)))
    out.write("%-28s %17s %15s %17s %9s\n" % ("mode", "RSS MiB start end", "series start end",
                                              "scrape ms start end", "CPU s"))
    results = {}
    try:
        for title, args in CHURN_MODES:
            port = free_port()
            target = ScrapeTarget([sys.executable, script,
                                   "--web.listen-address=127.0.0.1:%d" % port] + args, port)
            churn = subprocess.Popen([churner, str(1000000 // rate), str(seconds), "1"])
            cpu_before, points = cpu_seconds(target.proc.pid), []
            try:
                started = time.monotonic()
                for second in range(seconds):
                    time.sleep(max(0.0, started + second + 1 - time.monotonic()))
                    families = parse_exposition(target.scrape().decode("utf-8"))
                    if second in (4, seconds - 1):
                        points.append((rss_of(target.proc.pid) / 2**20,
                                       own_value(families, "process_exporter_series"),
                                       1e3 * own_value(families,
                                                       "process_exporter_scrape_duration_"
                                                       "seconds")))
                cpu = cpu_seconds(target.proc.pid) - cpu_before
            finally:
                churn.wait()
                target.stop()
            (rss0, series0, ms0), (rss1, series1, ms1) = points
            out.write("%-28s %8.1f %8.1f %7d %7d %8.1f %8.1f %9.2f\n"
                      % (title, rss0, rss1, series0, series1, ms0, ms1, cpu))
            out.flush()
            results[title] = points, cpu
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def own_value(families, name):
    """The value of one of the exporter's own unlabelled series (None if absent)."""
    samples = families.get(name, {"samples": []})["samples"]
    return samples[0][1] if samples else None


def bench_once(python=None, runs=21, out=sys.stdout):
    """CPU of `python3 process_exporter.py --once` against `python3 -c pass`, both run
    in turn `runs` times (the CPU of each finished child, from wait4): the start-up
    cost a shell pipeline pays, on the Mac's oldest python3 (3.8) by default."""
    python = python or oldest_python() or sys.executable
    commands = {"pass": [python, "-c", "pass"], "once": [python, SCRIPT, "--once"],
                "once_seed": [python, SCRIPT, "--once", "--metrics", SEED_FAMILIES]}
    cpu = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            with open(os.devnull, "wb") as devnull:
                child = subprocess.Popen(command, stdout=devnull)
                _, _, usage = os.wait4(child.pid, 0)
                child.returncode = 0
            cpu[name].append(usage.ru_utime + usage.ru_stime)
    ratios = sorted(once / base for once, base in zip(cpu["once"], cpu["pass"]))
    seed_ratios = sorted(once / base for once, base in zip(cpu["once_seed"], cpu["pass"]))
    middle = runs // 2
    out.write("\n== --once against python3 -c pass, %s, %d runs in turn (CPU of each run) ==\n"
              % (subprocess.run([python, "--version"], stdout=subprocess.PIPE,
                                universal_newlines=True).stdout.strip(), runs))
    for name in commands:
        values = sorted(cpu[name])
        out.write("%-10s CPU median %6.1f ms (min %.1f, max %.1f)\n"
                  % (name, values[middle] * 1e3, values[0] * 1e3, values[-1] * 1e3))
    out.write("--once / -c pass: median %.2f x (min %.2f, max %.2f); with the seed families "
              "%.2f x (target <= 4)\n" % (ratios[middle], ratios[0], ratios[-1],
                                          seed_ratios[middle]))
    return ratios


def oldest_python():
    """pyenv's newest 3.8, the oldest /usr/bin/python3 a Mac has had, if there is one."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    try:
        versions = sorted(v for v in os.listdir(os.path.join(root, "versions"))
                          if v.startswith("3.8"))
    except OSError:
        return None
    return os.path.join(root, "versions", versions[-1], "bin", "python3") if versions else None


def main(argv):
    what, counts = argv[0], [arg for arg in argv[1:]]
    if what == "bench-cmdline":
        bench_cmdline([int(n) for n in counts] or (1000, 3000))
    elif what == "bench-soak":
        bench_soak()
    elif what == "bench-churn":          # [SCRIPT [SECONDS]]: another release's, to compare
        bench_churn(*(counts[:1] or [SCRIPT]), *[int(n) for n in counts[1:2]])
    elif what == "bench-once":           # [PYTHON]
        bench_once(*counts[:1])
    else:
        run_benchmark([int(n) for n in counts] or (0, 1000, 3000))
        bench_groups_and_threads()
        bench_darwin_standin()
        bench_once()
