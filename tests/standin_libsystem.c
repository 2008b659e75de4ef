/* A stand-in for macOS's libSystem, for process_exporter.py's tests on any machine.
   Built by test_process_exporter.py (standin_library) with cc; see the comment
   above STANDIN_SOURCE there for what it models. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PROC_PIDLISTFDS 1
#define PROC_PIDTASKALLINFO 2
#define PROC_PIDTHREADINFO 5
#define PROC_PIDLISTTHREADS 6
#define PROC_PIDTHREADID64INFO 15
#define PROC_PIDLISTTHREADIDS 28
#define PROC_PIDLISTTHREADS_SIZE 8           /* 2 * sizeof(uint32_t) */
#define MAXTHREADNAMESIZE 64
#define MAX_THREADS 4                        /* per fake process */
#define PROC_PIDT_SHORTBSDINFO 13
#define PROC_PIDPATHINFO_SIZE 1024
#define PROC_PIDPATHINFO_MAXSIZE 4096
#define RUSAGE_INFO_V4 4
#define RUSAGE_INFO_V6 6
#define MAXCOMLEN 16
#define CTL_KERN 1
#define KERN_PROC 14
#define KERN_PROC_ALL 0
#define SIDL 1
#define KERN_ARGMAX 8
#define KERN_PROCARGS2 49
#define ARG_MAX (1024 * 1024)
#define PAGE_SIZE 16384                      /* arm64's; a cut answer ends on one */
#define SRUN 2
#define SSTOP 4
#define SZOMB 5

struct proc_bsdinfo {
    uint32_t pbi_flags;
    uint32_t pbi_status;
    uint32_t pbi_xstatus;
    uint32_t pbi_pid;
    uint32_t pbi_ppid;
    uint32_t pbi_uid;
    uint32_t pbi_gid;
    uint32_t pbi_ruid;
    uint32_t pbi_rgid;
    uint32_t pbi_svuid;
    uint32_t pbi_svgid;
    uint32_t rfu_1;
    char pbi_comm[16];
    char pbi_name[32];
    uint32_t pbi_nfiles;
    uint32_t pbi_pgid;
    uint32_t pbi_pjobc;
    uint32_t e_tdev;
    uint32_t e_tpgid;
    int32_t pbi_nice;
    uint64_t pbi_start_tvsec;
    uint64_t pbi_start_tvusec;
};

struct proc_bsdshortinfo {
    uint32_t pbsi_pid;
    uint32_t pbsi_ppid;
    uint32_t pbsi_pgid;
    uint32_t pbsi_status;
    char pbsi_comm[16];
    uint32_t pbsi_flags;
    uint32_t pbsi_uid;
    uint32_t pbsi_gid;
    uint32_t pbsi_ruid;
    uint32_t pbsi_rgid;
    uint32_t pbsi_svuid;
    uint32_t pbsi_svgid;
    uint32_t pbsi_rfu;
};

struct proc_taskinfo {
    uint64_t pti_virtual_size;
    uint64_t pti_resident_size;
    uint64_t pti_total_user;
    uint64_t pti_total_system;
    uint64_t pti_threads_user;
    uint64_t pti_threads_system;
    int32_t pti_policy;
    int32_t pti_faults;
    int32_t pti_pageins;
    int32_t pti_cow_faults;
    int32_t pti_messages_sent;
    int32_t pti_messages_received;
    int32_t pti_syscalls_mach;
    int32_t pti_syscalls_unix;
    int32_t pti_csw;
    int32_t pti_threadnum;
    int32_t pti_numrunning;
    int32_t pti_priority;
};

struct proc_taskallinfo {
    struct proc_bsdinfo pbsd;
    struct proc_taskinfo ptinfo;
};

struct proc_threadinfo {
    uint64_t pth_user_time;              /* nanoseconds, unlike the task's ticks */
    uint64_t pth_system_time;
    int32_t pth_cpu_usage;
    int32_t pth_policy;
    int32_t pth_run_state;               /* TH_STATE_RUNNING 1 ... HALTED 5 */
    int32_t pth_flags;
    int32_t pth_sleep_time;
    int32_t pth_curpri;
    int32_t pth_priority;
    int32_t pth_maxpriority;
    char pth_name[MAXTHREADNAMESIZE];
};

struct proc_fdinfo {
    int32_t proc_fd;
    uint32_t proc_fdtype;
};

struct mach_timebase_info {
    uint32_t numer;
    uint32_t denom;
};

/* rusage_info_v4 and _v6, Apple's layout checks and kinfo_proc's offsets: written
   from tests/macos-layout.json into standin_layout.h by the test suite. */
#include "standin_layout.h"

/* ---- the kernel's process table, as xnu keeps it ---- */

#define MAX_PROCS 10000

/* A thread as the task's thread list holds it: the handle libproc names it by is
   its pthread's address (cthread_self), 0 for one that has none (kernel threads). */
struct fake_thread {
    uint64_t thread_id;                  /* unique, never 0, never reused */
    uint64_t handle;
    uint64_t user_ns, system_ns;
    int32_t run_state;
    char name[MAXTHREADNAMESIZE];        /* "" until pthread_setname_np() */
};

struct fake_proc {
    int pid;
    int zombie;           /* exited, not reaped: only some calls still find it */
    int vanishes;         /* listed, then reaped before anything else is asked */
    int exiting;          /* proc_prepareexit() has frozen its rusage; threads still run */
    int64_t reused_start; /* listed, then reaped and its pid reused: the new start */
    int exits_after_listing;    /* listed alive, a zombie by the time it is asked */
    int path_errno;       /* what proc_pidpath fails with (no vnode, deleted), or 0 */
    uint32_t ppid, uid, gid;
    char p_comm[MAXCOMLEN + 1];        /* set_proc_name(): 16 characters */
    char p_name[2 * MAXCOMLEN + 1];    /* 32 characters */
    int64_t start_sec;
    int32_t start_usec;
    uint64_t user_ticks, system_ticks, resident, virtual_size;
    uint64_t faults, pageins, csw;     /* the true counts; the task info narrows them */
    int32_t threads;
    char p_stat;          /* SIDL, SRUN or SSTOP while alive: xnu never sets SSLEEP */
    int32_t numrunning;   /* threads running now (pti_numrunning) */
    int nthreads;         /* threads in the list below (0: only counted) */
    struct fake_thread thread[MAX_THREADS];
    int open_fds;         /* descriptors open, in the first slots of the table */
    int table_slots;      /* the real fd table size (pbi_nfiles may lag behind it) */
    uint32_t reported_slots;
    struct rusage_info_v6 ru;
    /* Time runnable but not running.  The kernel keeps no such count: its runnable
       timer runs from unblock to block, running included (thread.h runnable_timer),
       so ri_runnable_time is the CPU time plus this, less what the two clocks'
       different stamps put between them (runnable_lag). */
    uint64_t wait_ticks, runnable_lag;
    char path[PROC_PIDPATHINFO_MAXSIZE];
    int path_len;
    int argc;             /* exec's argc; the strings sit in arg_arena */
    size_t args_at, args_len;   /* exec path, padding, argv, environment; 0: none set */
};

static struct fake_proc procs[MAX_PROCS];
static int nprocs;
static uint32_t caller_uid = 501;    /* who calls: 0 is root */
static int macos_major = 15;         /* 11: 32-bit counts go negative; 12+: saturate */
static int estimate_slack = 20;      /* proc_listallpids(NULL) answers nprocs + this */
static int list_errno;               /* what proc_listallpids fails with, or 0 */
static int table_errno;              /* what sysctl(KERN_PROC_ALL) fails with, or 0 */
static int grow_after_size_query;    /* processes born between the two sysctl calls */
static int rusage_newest = RUSAGE_INFO_V6;   /* V4: a kernel older than macOS 13 */
static uint32_t tb_numer = 1, tb_denom = 1;
static int64_t tb_frequency;         /* 0: no hw.tbfrequency */
static int32_t perf_levels;          /* 0: no hw.nperflevels (Intel before macOS 12) */
/* calls: listallpids, taskallinfo, pidpath, sysctlbyname, shortbsdinfo, listfds,
   rusage V6, rusage V4, kern.proc.all, kern.procargs2 */
static long calls[10];
static int hint;
static uint64_t next_thread_id = 0x1000;
static int no_thread_ids;            /* a kernel that does not know PROC_PIDLISTTHREADIDS */
/* What exec copied to the top of each process's stack: the strings of every
   process, one after another (a process's are never freed: tests are short). */
static char arg_arena[1 << 22];
static size_t arena_used;

void standin_reset(void) {
    nprocs = 0;
    caller_uid = 501;
    macos_major = 15;
    estimate_slack = 20;
    list_errno = table_errno = grow_after_size_query = 0;
    rusage_newest = RUSAGE_INFO_V6;
    tb_numer = tb_denom = 1;
    tb_frequency = 0;
    perf_levels = 0;
    memset(calls, 0, sizeof calls);
    hint = 0;
    arena_used = 0;
    no_thread_ids = 0;
}

void standin_no_thread_ids(void) { no_thread_ids = 1; }

void standin_timebase(uint32_t numer, uint32_t denom, int64_t frequency) {
    tb_numer = numer;
    tb_denom = denom;
    tb_frequency = frequency;
}

void standin_caller_uid(uint32_t uid) { caller_uid = uid; }
void standin_macos_major(int major) { macos_major = major; }
void standin_perf_levels(int32_t levels) { perf_levels = levels; }
void standin_estimate_slack(int slack) { estimate_slack = slack; }
void standin_fail_listing(int err) { list_errno = err; }
void standin_fail_table(int err) { table_errno = err; }
void standin_grow_after_size_query(int n) { grow_after_size_query = n; }
void standin_rusage_newest(int flavor) { rusage_newest = flavor; }
long standin_calls(int which) { return calls[which]; }

static struct fake_proc *find(int pid) {
    if (hint < nprocs && procs[hint].pid == pid) return &procs[hint];
    if (hint + 1 < nprocs && procs[hint + 1].pid == pid) return &procs[++hint];
    for (int i = 0; i < nprocs; i++)
        if (procs[i].pid == pid) { hint = i; return &procs[i]; }
    return NULL;
}

/* set_proc_name(): the executable's file name, cut to each field's size. */
static void set_names(struct fake_proc *p, const char *comm, const char *name) {
    memset(p->p_comm, 0, sizeof p->p_comm);
    memset(p->p_name, 0, sizeof p->p_name);
    strncpy(p->p_comm, comm, MAXCOMLEN);
    strncpy(p->p_name, name, 2 * MAXCOMLEN);
}

int standin_add(int pid, uint32_t ppid, uint32_t uid, uint32_t gid,
                const char *comm, const char *name,
                int64_t start_sec, int32_t start_usec,
                uint64_t user_ticks, uint64_t system_ticks,
                uint64_t resident, uint64_t virtual_size,
                const char *path, int path_len, int vanishes, int path_errno) {
    if (nprocs == MAX_PROCS) return -1;
    struct fake_proc *p = &procs[nprocs++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->vanishes = vanishes;
    p->path_errno = path_errno;
    p->ppid = ppid;
    p->uid = uid;
    p->gid = gid;
    p->p_stat = SRUN;
    set_names(p, comm, name);
    p->start_sec = start_sec;
    p->start_usec = start_usec;
    p->user_ticks = user_ticks;
    p->system_ticks = system_ticks;
    p->resident = resident;
    p->virtual_size = virtual_size;
    p->ru.ri_user_time = user_ticks;
    p->ru.ri_system_time = system_ticks;
    p->ru.ri_resident_size = resident;
    if (path_len > PROC_PIDPATHINFO_MAXSIZE - 1) path_len = PROC_PIDPATHINFO_MAXSIZE - 1;
    memcpy(p->path, path, (size_t)path_len);
    p->path_len = path_len;
    return 0;
}

int standin_set_counts(int pid, int32_t threads, uint64_t faults, uint64_t pageins,
                       uint64_t csw) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->threads = threads;
    p->faults = faults;
    p->pageins = pageins;
    p->ru.ri_pageins = pageins;
    p->csw = csw;
    return 0;
}

int standin_set_rusage(int pid, uint64_t footprint, uint64_t bytes_read, uint64_t written,
                       uint64_t instructions, uint64_t cycles, uint64_t energy_nj) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->ru.ri_phys_footprint = footprint;
    p->ru.ri_diskio_bytesread = bytes_read;
    p->ru.ri_diskio_byteswritten = written;
    p->ru.ri_instructions = instructions;
    p->ru.ri_cycles = cycles;
    p->ru.ri_energy_nj = energy_nj;
    return 0;
}

int standin_set_rusage_more(int pid, uint64_t idle_wakeups, uint64_t interrupt_wakeups,
                            uint64_t wired, uint64_t peak_footprint, uint64_t wait_ticks,
                            uint64_t user_pticks, uint64_t system_pticks) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->ru.ri_pkg_idle_wkups = idle_wakeups;
    p->ru.ri_interrupt_wkups = interrupt_wakeups;
    p->ru.ri_wired_size = wired;
    p->ru.ri_lifetime_max_phys_footprint = peak_footprint;
    p->wait_ticks = wait_ticks;
    p->ru.ri_user_ptime = user_pticks;
    p->ru.ri_system_ptime = system_pticks;
    return 0;
}

int standin_runnable_lag(int pid, uint64_t lag) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->runnable_lag = lag;
    return 0;
}

/* What the process table and the task info say of its state. */
int standin_set_state(int pid, int p_stat, int32_t numrunning) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->p_stat = (char)p_stat;
    p->numrunning = numrunning;
    return 0;
}

/* A thread (at most MAX_THREADS of them; the task's thread count follows). */
int standin_add_thread(int pid, uint64_t handle, const char *name, uint64_t user_ns,
                       uint64_t system_ns, int32_t run_state) {
    struct fake_proc *p = find(pid);
    if (p == NULL || p->nthreads == MAX_THREADS) return -1;
    struct fake_thread *t = &p->thread[p->nthreads++];
    memset(t, 0, sizeof *t);
    t->thread_id = next_thread_id++;
    t->handle = handle;
    strncpy(t->name, name, MAXTHREADNAMESIZE - 1);
    t->user_ns = user_ns;
    t->system_ns = system_ns;
    t->run_state = run_state;
    p->threads = p->nthreads;
    return 0;
}

/* A thread exits: it leaves the list (and its handle may be reused). */
int standin_end_thread(int pid, uint64_t handle) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    for (int i = 0; i < p->nthreads; i++) {
        if (p->thread[i].handle == handle) {
            memmove(&p->thread[i], &p->thread[i + 1],
                    (size_t)(p->nthreads - i - 1) * sizeof p->thread[0]);
            p->threads = --p->nthreads;
            return 0;
        }
    }
    return -1;
}

int standin_set_fds(int pid, int open_fds, int table_slots, uint32_t reported_slots) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->open_fds = open_fds;
    p->table_slots = table_slots;
    p->reported_slots = reported_slots;
    return 0;
}

/* exec: a new program in the same process (same pid, same start time, same CPU
   counters), named from its file; ri_uuid is the new executable's LC_UUID, here a
   digest of its path (the same binary run again keeps it). */
int standin_exec(int pid, const char *name, const char *path, int path_len) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    set_names(p, name, name);
    memcpy(p->path, path, (size_t)path_len);
    p->path_len = path_len;
    memset(p->ru.ri_uuid, 0, sizeof p->ru.ri_uuid);
    for (int i = 0; i < path_len; i++)
        p->ru.ri_uuid[i % 16] = (uint8_t)(p->ru.ri_uuid[i % 16] * 31 + (uint8_t)path[i]);
    return 0;
}

/* setuid() without exec: the effective uid every permission check reads anew. */
int standin_set_uid(int pid, uint32_t uid) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->uid = uid;
    return 0;
}

/* exec's strings: the area as the kernel keeps it above the stack (exec path,
   NUL padding, argc arguments, the environment), and argc. */
int standin_set_args(int pid, int argc, const char *area, size_t len) {
    struct fake_proc *p = find(pid);
    if (p == NULL || len == 0 || arena_used + len > sizeof arg_arena) return -1;
    memcpy(arg_arena + arena_used, area, len);
    p->argc = argc;
    p->args_at = arena_used;
    p->args_len = len;
    arena_used += len;
    return 0;
}

/* The task's CPU time so far; its rusage follows until the exit begins. */
int standin_set_ticks(int pid, uint64_t user_ticks, uint64_t system_ticks) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->user_ticks = user_ticks;
    p->system_ticks = system_ticks;
    if (!p->exiting) {
        p->ru.ri_user_time = user_ticks;
        p->ru.ri_system_time = system_ticks;
    }
    return 0;
}

/* proc_prepareexit(): the rusage is kept from here on, while the other threads
   still run and the task info still answers. */
int standin_begin_exit(int pid) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->exiting = 1;
    return 0;
}

/* exit: the task (memory, threads, descriptors, executable vnode) is gone; the
   rusage kept at exit, its footprint zeroed, stays until the parent reaps it. */
int standin_make_zombie(int pid) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->zombie = 1;
    p->ru.ri_phys_footprint = 0;
    return 0;
}

int standin_reuse_after_listing(int pid, int64_t start_sec) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->reused_start = start_sec;
    return 0;
}

int standin_exit_after_listing(int pid) {
    struct fake_proc *p = find(pid);
    if (p == NULL) return -1;
    p->exits_after_listing = 1;
    return 0;
}

int standin_reap(int pid) {
    for (int i = 0; i < nprocs; i++) {
        if (procs[i].pid == pid) {
            memmove(&procs[i], &procs[i + 1], (size_t)(nprocs - i - 1) * sizeof procs[0]);
            nprocs--;
            hint = 0;
            return 0;
        }
    }
    return -1;
}

/* ---- what the kernel decides ---- */

/* proc_security_policy(CHECK_SAME_USER): the caller's effective uid, or root. */
static int may_read(struct fake_proc *p) { return caller_uid == 0 || caller_uid == p->uid; }

/* fill_taskprocinfo(): 32-bit counts; macOS 12+ saturate (the context switch sum is
   a uint32 that wraps first), macOS 11 truncates them to int32. */
static int32_t narrow(uint64_t count) {
    if (macos_major >= 12) return count > INT32_MAX ? INT32_MAX : (int32_t)count;
    return (int32_t)(uint32_t)count;
}

static int32_t narrow_switches(uint64_t count) {
    uint32_t wrapped = (uint32_t)count;
    if (macos_major >= 12) return wrapped > INT32_MAX ? INT32_MAX : (int32_t)wrapped;
    return (int32_t)wrapped;
}

static void fill_taskallinfo(struct fake_proc *p, struct proc_taskallinfo *t) {
    memset(t, 0, sizeof *t);
    t->pbsd.pbi_pid = (uint32_t)p->pid;
    t->pbsd.pbi_ppid = p->ppid;
    t->pbsd.pbi_uid = t->pbsd.pbi_ruid = t->pbsd.pbi_svuid = p->uid;
    t->pbsd.pbi_gid = t->pbsd.pbi_rgid = t->pbsd.pbi_svgid = p->gid;
    t->pbsd.pbi_status = (uint32_t)p->p_stat;
    memcpy(t->pbsd.pbi_comm, p->p_comm, MAXCOMLEN);
    t->pbsd.pbi_comm[MAXCOMLEN - 1] = 0;
    memcpy(t->pbsd.pbi_name, p->p_name, 2 * MAXCOMLEN);
    t->pbsd.pbi_name[2 * MAXCOMLEN - 1] = 0;
    t->pbsd.pbi_nfiles = p->reported_slots;
    t->pbsd.pbi_start_tvsec = (uint64_t)p->start_sec;
    t->pbsd.pbi_start_tvusec = (uint64_t)p->start_usec;
    t->ptinfo.pti_virtual_size = p->virtual_size;
    t->ptinfo.pti_resident_size = p->resident;
    t->ptinfo.pti_total_user = p->user_ticks;
    t->ptinfo.pti_total_system = p->system_ticks;
    t->ptinfo.pti_faults = narrow(p->faults);
    t->ptinfo.pti_pageins = narrow(p->pageins);
    t->ptinfo.pti_csw = narrow_switches(p->csw);
    t->ptinfo.pti_threadnum = p->threads;
    t->ptinfo.pti_numrunning = p->numrunning;
}

static void put(unsigned char *row, size_t offset, const void *value, size_t size) {
    memcpy(row + offset, value, size);
}

/* fill_user64_proc(): what sysctl(KERN_PROC_ALL) gives of one process. */
static void fill_kinfo(struct fake_proc *p, unsigned char *row) {
    int64_t sec = p->start_sec;
    int32_t usec = p->start_usec, pid = p->pid, ppid = (int32_t)p->ppid, tdev = -1, oppid = 0;
    char stat = p->zombie ? SZOMB : p->p_stat;
    int16_t ngroups = 1;
    memset(row, 0, KINFO_SIZE);
    put(row, KINFO_kp_proc_p_starttime_tv_sec, &sec, sizeof sec);
    put(row, KINFO_kp_proc_p_starttime_tv_usec, &usec, sizeof usec);
    put(row, KINFO_kp_proc_p_stat, &stat, sizeof stat);
    put(row, KINFO_kp_proc_p_pid, &pid, sizeof pid);
    put(row, KINFO_kp_proc_p_oppid, &oppid, sizeof oppid);    /* the parent before ptrace */
    put(row, KINFO_kp_proc_p_comm, p->p_comm, MAXCOMLEN);     /* bcopy MAXCOMLEN */
    put(row, KINFO_kp_eproc_e_pcred_p_ruid, &p->uid, sizeof p->uid);
    put(row, KINFO_kp_eproc_e_pcred_p_svuid, &p->uid, sizeof p->uid);
    put(row, KINFO_kp_eproc_e_pcred_p_rgid, &p->gid, sizeof p->gid);
    put(row, KINFO_kp_eproc_e_pcred_p_svgid, &p->gid, sizeof p->gid);
    put(row, KINFO_kp_eproc_e_ucred_cr_uid, &p->uid, sizeof p->uid);
    put(row, KINFO_kp_eproc_e_ucred_cr_ngroups, &ngroups, sizeof ngroups);
    put(row, KINFO_kp_eproc_e_ucred_cr_groups, &p->gid, sizeof p->gid);
    put(row, KINFO_kp_eproc_e_ppid, &ppid, sizeof ppid);
    put(row, KINFO_kp_eproc_e_tdev, &tdev, sizeof tdev);
}

/* ---- the process table: sysctl({CTL_KERN, KERN_PROC, KERN_PROC_ALL}) ---- */

static void add_clone_of_last(void) {
    if (nprocs == 0 || nprocs == MAX_PROCS) return;
    procs[nprocs] = procs[nprocs - 1];
    procs[nprocs].pid = procs[nprocs - 1].pid + 1;
    nprocs++;
}

/* sysctl_procargsx() with argc_yes: int argc, then the strings exec left above the
   stack.  Every refusal is EINVAL: a buffer of no room or more than ARG_MAX, no
   such process, a zombie or pid 0 (no user stack), another user's process unless
   the caller is root.  Without a buffer, the size, asked of anyone.  A buffer too
   small for the strings gets their last bytes, as xnu's copy does. */
static int procargs2(int pid, void *oldp, size_t *oldlenp) {
    calls[9]++;
    if (oldlenp == NULL) { errno = EFAULT; return -1; }
    size_t buflen = oldp != NULL ? *oldlenp - sizeof(int) : 0;
    if (oldp != NULL && (*oldlenp <= sizeof(int) || buflen > ARG_MAX)) {
        errno = EINVAL;
        return -1;
    }
    struct fake_proc *p = find(pid);
    if (p == NULL || p->zombie || p->vanishes || pid == 0) { errno = EINVAL; return -1; }
    /* exec always leaves the path and argv[0]; a fake told nothing has its comm */
    char own[PROC_PIDPATHINFO_MAXSIZE + MAXCOMLEN + 16];
    const char *area = own;
    size_t len;
    int argc = 1;
    if (p->args_len) {
        area = arg_arena + p->args_at;
        len = p->args_len;
        argc = p->argc;
    } else {
        memset(own, 0, sizeof own);
        memcpy(own, p->path, (size_t)p->path_len);
        len = ((size_t)p->path_len / 8 + 1) * 8;
        strcpy(own + len, p->p_comm);
        len += strlen(p->p_comm) + 1;
    }
    if (oldp == NULL) { *oldlenp = len + sizeof(int); return 0; }
    if (!may_read(p)) { errno = EINVAL; return -1; }     /* not EPERM */
    size_t zeroed = 0;
    if (buflen < len) {         /* the tail, its last bytes to a page boundary zeroed */
        area += len - buflen;
        len = buflen;
        zeroed = (buflen + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE - buflen;
        if (zeroed > len) zeroed = len;
    }
    memcpy(oldp, &argc, sizeof argc);
    memcpy((char *)oldp + sizeof(int), area, len - zeroed);
    memset((char *)oldp + sizeof(int) + len - zeroed, 0, zeroed);
    *oldlenp = len + sizeof(int);   /* the caller's own size when cut */
    return 0;
}

int sysctl(int *name, unsigned int namelen, void *oldp, size_t *oldlenp,
           void *newp, size_t newlen) {
    (void)newp; (void)newlen;
    if (namelen == 3 && name[0] == CTL_KERN && name[1] == KERN_PROCARGS2)
        return procargs2(name[2], oldp, oldlenp);
    calls[8]++;
    if (namelen == 2 && name[0] == CTL_KERN && name[1] == KERN_ARGMAX) {
        int argmax = ARG_MAX;
        if (oldlenp == NULL || oldp == NULL || *oldlenp < sizeof argmax) {
            errno = ENOMEM;
            return -1;
        }
        memcpy(oldp, &argmax, sizeof argmax);
        *oldlenp = sizeof argmax;
        return 0;
    }
    if (namelen != 3 || name[0] != CTL_KERN || name[1] != KERN_PROC
        || name[2] != KERN_PROC_ALL) { errno = ENOTSUP; return -1; }
    if (table_errno) { errno = table_errno; return -1; }
    if (oldlenp == NULL) { errno = EFAULT; return -1; }
    if (oldp == NULL) {                       /* a size: every process, 5 rows of slop */
        *oldlenp = (size_t)(nprocs + 5) * KINFO_SIZE;
        for (int i = 0; i < grow_after_size_query; i++) add_clone_of_last();
        grow_after_size_query = 0;
        return 0;
    }
    size_t room = *oldlenp / KINFO_SIZE;
    int n = 0;
    for (int i = 0; i < nprocs && (size_t)n < room; i++, n++)
        fill_kinfo(&procs[i], (unsigned char *)oldp + (size_t)n * KINFO_SIZE);
    if (n < nprocs) {           /* rows that fit are copied out, but the length is 0 */
        *oldlenp = 0;
        errno = ENOMEM;
        return -1;
    }
    *oldlenp = (size_t)n * KINFO_SIZE;
    for (int i = 0; i < nprocs; i++) {
        if (procs[i].exits_after_listing) {
            procs[i].exits_after_listing = 0;
            standin_make_zombie(procs[i].pid);
        }
        if (procs[i].reused_start) {          /* reaped; a new process has its pid */
            procs[i].start_sec = procs[i].reused_start;
            procs[i].reused_start = 0;
        }
    }
    return 0;
}

/* ---- libproc, as Apple's wrappers and xnu's proc_info.c behave ---- */

int proc_listallpids(void *buffer, int buffersize) {
    calls[0]++;
    if (list_errno) { errno = list_errno; return 0; }
    if (buffer == NULL) {
        int estimate = nprocs + estimate_slack;
        return estimate > 0 ? estimate : 1;
    }
    if (buffersize < 4) { errno = ENOMEM; return 0; }
    int n = buffersize / 4 < nprocs ? buffersize / 4 : nprocs;
    for (int i = 0; i < n; i++) ((int *)buffer)[i] = procs[i].pid;
    return n;                                   /* a count of pids, not bytes */
}

/* Any user may read it; zombies are found only with a non-zero arg. */
static int short_info(struct fake_proc *p, void *buffer, int buffersize) {
    calls[4]++;
    if (buffersize < (int)sizeof(struct proc_bsdshortinfo)) { errno = ENOMEM; return 0; }
    struct proc_bsdshortinfo s;
    memset(&s, 0, sizeof s);
    s.pbsi_pid = (uint32_t)p->pid;
    s.pbsi_ppid = p->ppid;
    s.pbsi_status = p->zombie ? SZOMB : (uint32_t)p->p_stat;     /* p->p_stat, as xnu */
    memcpy(s.pbsi_comm, p->p_comm, MAXCOMLEN);
    s.pbsi_comm[MAXCOMLEN - 1] = 0;
    s.pbsi_uid = s.pbsi_ruid = s.pbsi_svuid = p->uid;
    s.pbsi_gid = s.pbsi_rgid = s.pbsi_svgid = p->gid;
    memcpy(buffer, &s, sizeof s);
    return (int)sizeof s;
}

static int list_fds(struct fake_proc *p, void *buffer, int buffersize) {
    calls[5]++;
    if (buffer == NULL) return (p->table_slots + 20) * (int)sizeof(struct proc_fdinfo);
    if (buffersize < (int)sizeof(struct proc_fdinfo)) { errno = ENOMEM; return 0; }
    int slots = p->table_slots;
    int room = buffersize / (int)sizeof(struct proc_fdinfo);
    if (slots > room) slots = room;             /* the kernel fills what fits */
    int n = p->open_fds < slots ? p->open_fds : slots;
    for (int i = 0; i < n; i++) {
        ((struct proc_fdinfo *)buffer)[i].proc_fd = i;
        ((struct proc_fdinfo *)buffer)[i].proc_fdtype = 1;
    }
    return n * (int)sizeof(struct proc_fdinfo);
}

/* proc_pidlistthreads(): room for the thread count + 10 handles (or, for LISTTHREADIDS,
   unique thread ids) at most, filled in list order; the answer is in bytes. */
static int list_threads(struct fake_proc *p, int by_id, void *buffer, int buffersize) {
    if (buffersize < PROC_PIDLISTTHREADS_SIZE) { errno = ENOMEM; return 0; }
    int room = buffersize / (int)sizeof(uint64_t);
    if (room > p->nthreads + 10) room = p->nthreads + 10;
    int n = p->nthreads < room ? p->nthreads : room;
    for (int i = 0; i < n; i++)
        ((uint64_t *)buffer)[i] = by_id ? p->thread[i].thread_id : p->thread[i].handle;
    return n * (int)sizeof(uint64_t);
}

/* proc_pidthreadinfo(): the first thread whose handle (or, for THREADID64INFO, unique
   thread id) is `arg`: handles of 0 are all the same one, and a handle is reused by a
   new thread at the same address; ESRCH when none is; same user or root. */
static int thread_info(struct fake_proc *p, uint64_t arg, int by_id, void *buffer,
                       int buffersize) {
    if (buffersize < (int)sizeof(struct proc_threadinfo)) { errno = ENOMEM; return 0; }
    if (!may_read(p)) { errno = EPERM; return 0; }
    for (int i = 0; i < p->nthreads; i++) {
        struct fake_thread *t = &p->thread[i];
        if ((by_id ? t->thread_id : t->handle) != arg) continue;
        struct proc_threadinfo info;
        memset(&info, 0, sizeof info);
        info.pth_user_time = t->user_ns;
        info.pth_system_time = t->system_ns;
        info.pth_run_state = t->run_state;
        memcpy(info.pth_name, t->name, MAXTHREADNAMESIZE);
        memcpy(buffer, &info, sizeof info);
        return (int)sizeof info;
    }
    errno = ESRCH;
    return 0;
}

/* It is stricter than Apple in one way: a non-zero arg to the flavours that take
   none is refused, since it can only be a caller's 64-bit bug. */
int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer, int buffersize) {
    if (flavor == PROC_PIDTASKALLINFO) calls[1]++;
    struct fake_proc *p = find(pid);
    if (p == NULL || p->vanishes) { errno = ESRCH; return 0; }
    if (p->zombie && !(flavor == PROC_PIDT_SHORTBSDINFO && arg != 0)) {
        errno = ESRCH;                          /* proc_find() finds no zombie */
        return 0;
    }
    if (flavor == PROC_PIDT_SHORTBSDINFO) return short_info(p, buffer, buffersize);
    if (flavor == PROC_PIDTHREADINFO) return thread_info(p, arg, 0, buffer, buffersize);
    if (flavor == PROC_PIDTHREADID64INFO) return thread_info(p, arg, 1, buffer, buffersize);
    if (arg != 0) { errno = EINVAL; return 0; }
    if (!may_read(p)) { errno = EPERM; return 0; }
    if (flavor == PROC_PIDLISTFDS) return list_fds(p, buffer, buffersize);
    if (flavor == PROC_PIDLISTTHREADS) return list_threads(p, 0, buffer, buffersize);
    if (flavor == PROC_PIDLISTTHREADIDS && !no_thread_ids)
        return list_threads(p, 1, buffer, buffersize);
    if (flavor != PROC_PIDTASKALLINFO) { errno = EINVAL; return 0; }
    if (buffersize < (int)sizeof(struct proc_taskallinfo)) { errno = ENOMEM; return 0; }
    fill_taskallinfo(p, (struct proc_taskallinfo *)buffer);
    return (int)sizeof(struct proc_taskallinfo);
}

/* PROC_PIDPATHINFO: no same-user check; a zombie's vnode is released (ESRCH). */
int proc_pidpath(int pid, void *buffer, uint32_t buffersize) {
    calls[2]++;
    if (buffersize < PROC_PIDPATHINFO_SIZE) { errno = ENOMEM; return 0; }
    if (buffersize > PROC_PIDPATHINFO_MAXSIZE) { errno = EOVERFLOW; return 0; }
    struct fake_proc *p = find(pid);
    if (p == NULL || p->zombie || p->vanishes) { errno = ESRCH; return 0; }
    if (p->path_errno) { errno = p->path_errno; return 0; }
    memcpy(buffer, p->path, (size_t)p->path_len);
    ((char *)buffer)[p->path_len] = 0;
    return p->path_len;
}

/* Finds zombies (their rusage kept at exit); same user or root. */
int proc_pid_rusage(int pid, int flavor, void *buffer) {
    if (flavor == RUSAGE_INFO_V6) calls[6]++;
    if (flavor == RUSAGE_INFO_V4) calls[7]++;
    struct fake_proc *p = find(pid);
    if (p == NULL || p->vanishes) { errno = ESRCH; return -1; }
    if (!may_read(p)) { errno = EPERM; return -1; }      /* before the flavour, as xnu */
    if (flavor > rusage_newest || (flavor != RUSAGE_INFO_V4 && flavor != RUSAGE_INFO_V6)) {
        errno = EINVAL;
        return -1;
    }
    /* Like the kernel: the whole struct of that flavour, no size check. */
    p->ru.ri_runnable_time = p->ru.ri_user_time + p->ru.ri_system_time + p->wait_ticks;
    p->ru.ri_runnable_time -= p->runnable_lag < p->ru.ri_runnable_time
                              ? p->runnable_lag : p->ru.ri_runnable_time;
    memcpy(buffer, &p->ru, flavor == RUSAGE_INFO_V6 ? sizeof(struct rusage_info_v6)
                                                    : sizeof(struct rusage_info_v4));
    if (macos_major < 12)       /* task->pageins was an integer_t, sign-extended */
        ((struct rusage_info_v4 *)buffer)->ri_pageins =
            (uint64_t)(int64_t)(int32_t)(uint32_t)p->pageins;
    return 0;
}

int mach_timebase_info(struct mach_timebase_info *info) {
    info->numer = tb_numer;
    info->denom = tb_denom;
    return 0;                                   /* KERN_SUCCESS */
}

int sysctlbyname(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) {
    calls[3]++;
    (void)newp; (void)newlen;
    const void *value;
    size_t size;
    static const int argmax = ARG_MAX;
    if (strcmp(name, "kern.argmax") == 0) {
        value = &argmax;
        size = sizeof argmax;
    } else if (strcmp(name, "hw.tbfrequency") == 0 && tb_frequency != 0) {
        value = &tb_frequency;
        size = sizeof tb_frequency;
    } else if (strcmp(name, "hw.nperflevels") == 0 && perf_levels != 0) {
        value = &perf_levels;
        size = sizeof perf_levels;
    } else {
        errno = ENOENT;
        return -1;
    }
    if (oldlenp == NULL || *oldlenp < size) { errno = ENOMEM; return -1; }
    memcpy(oldp, value, size);
    *oldlenp = size;
    return 0;
}
