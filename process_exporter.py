#!/usr/bin/env python3
"""process_exporter.py: a Prometheus exporter of per-process metrics for macOS and Linux.

One file, standard library only, for the Mac's own /usr/bin/python3 (3.8 and later).
On macOS it reads the kernel's process table (sysctl KERN_PROC_ALL, as `ps` does) and
libproc through ctypes; on Linux it reads /proc.  Run it and let Prometheus scrape it:

    python3 process_exporter.py                      # serves http://127.0.0.1:9256/metrics
    python3 process_exporter.py --once               # prints one exposition and exits
    python3 process_exporter.py --web.listen-address=:9256   # every interface

Data flows one way, read, select, render, serve, and the sections below follow it:

    groundwork       the log; files read within bounds
    the data         FIELDS, declared once; Process; never_lower and kin
    reading          Reader, what both platforms' readers share
    macOS structs    the kernel's structs, through ctypes
    macOS            DarwinReader (the process table and libproc)
    Linux            LinuxReader (/proc)
    selecting        Rule, Filter (--include, --exclude, --user), TopConsumers (--top)
    counters         Ledger: sums over processes that come and go
    naming groups    --group names, --config.path items, --group-by app
    groups           Grouper (--group-by, --group)
    the families     one table per mode, which the renderer and the README follow
    labels           a series' labels; command lines with their secrets hidden
    rendering        the text exposition format 0.0.4
    one scrape       Exporter: read, select, group, render
    security         password hashes, BasicAuth, TLS, files reloaded when they change
    configuration    YAML; --config.file, --config.path and --web.config.file
    HTTP             a thin ThreadingHTTPServer handler
    command line     flags, and main()

See README.md for every flag and metric.
"""

import collections
import ctypes
import errno
import functools
import io
import operator
import os
import re
import sys
import threading
import time
from contextlib import suppress
from stat import S_ISREG

__version__ = "0.1.0"

DEFAULT_LISTEN_ADDRESS = "127.0.0.1:9256"
DEFAULT_TELEMETRY_PATH = "/metrics"


# ---------------------------------------------------------------------------
# Groundwork: the log, and files read within bounds
# ---------------------------------------------------------------------------

LOG_LEVELS = ("debug", "info", "warn", "error")
LOG_ESCAPES = re.compile(r'[\x00-\x1f\x7f"\\]')    # a message is one quoted string


class Logging:
    """--log.level and --log.format, as Prometheus's own programs name them."""
    level = 1                 # LOG_LEVELS' index: info and above
    json = False              # logfmt, else one JSON object a line


def log(message, level="info"):
    """One record a line on stderr: time (UTC), level and message, as logfmt or JSON.  A
    log that cannot be written loses the line, never the exporter."""
    if LOG_LEVELS.index(level) < Logging.level:
        return
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (now % 1 * 1000)
    quoted = '"%s"' % LOG_ESCAPES.sub(lambda match: "\\u%04x" % ord(match.group()) if
                                      match.group() not in '"\\' else "\\" + match.group(),
                                      message)
    if Logging.json:
        line = '{"time":"%s","level":"%s","msg":%s}' % (stamp, level.upper(), quoted)
    else:
        line = "time=%s level=%s msg=%s" % (stamp, level.upper(), quoted)
    with suppress(OSError, ValueError, AttributeError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


class LogBursts:
    """One log line for a burst of like events (threads that cannot start, a failing
    accept): the first, then at most one a minute, saying how many came meanwhile."""

    def __init__(self, every=60.0):
        self.every = every
        self._last = {}       # kind -> [when last said, how many since]

    def __call__(self, kind, message, level="warn"):
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last[0] < self.every:
            last[1] += 1
            return
        more = " (and %d more like it since the last such line)" % last[1] \
            if last is not None and last[1] else ""
        self._last[kind] = [now, 0]
        log(message + more, level)


MAX_FILE_BYTES = 1 << 20      # a password file, a certificate, a /proc file: far less


def read_regular_file(path, limit=MAX_FILE_BYTES, follow=True):
    """The bytes of the regular file at path, at most `limit` of them (with follow=False
    not through a symbolic link), else a ValueError: a FIFO would block, a device such
    as /dev/zero never end."""
    data = read_start_of(path, limit + 1, regular=True, follow=follow)
    if len(data) > limit:
        raise ValueError("%s is larger than %d bytes" % (path, limit))
    return data


def read_start_of(path, limit, regular=False, follow=True):
    """At most `limit` bytes from a file's start; a FIFO blocks neither open nor read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW))
    try:
        if regular and not S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("%s is not a regular file" % path)
        chunks, size = [], 0
        while size < limit:
            chunk = os.read(fd, min(limit - size, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# The data: a process's fields, declared once, and the rules no counter goes down by
# ---------------------------------------------------------------------------

# A process's fields, declared once for the readers, the groups and --top.  Columns:
# the field; its kind: `id` (always set), `value` (read by default), `text` (read
# only when a rule or label needs CMDLINE) or `extra` (read only when asked for:
# --metrics, --threads, --gather-smaps); counter or gauge; `groups` where a group sums
# it; its unit (s and J are fractions, kept in billionths by a Ledger); `rusage`
# where macOS reads it from proc_pid_rusage.  A reader reads only what the wanted
# fields need, so an unexported family costs nothing.  A number the platform or the
# permissions did not give stays None and is not exported: a user would read an
# exported 0 as real.
FIELDS = {row[0]: dict(zip(("kind", "type", "groups", "unit", "macos"), row[1:6]))
          for row in (line.split() for line in """
pid                          id    -       -      - -
ppid                         id    -       -      - -
uid                          id    -       -      - -      effective
gid                          id    -       -      - -      effective
name                         id    -       -      - -      invalid UTF-8 replaced
path                         id    -       -      - -      "" when the kernel would not say
start_time                   value gauge   -      s -      since the epoch, float
cpu_user                     value counter groups s -
cpu_system                   value counter groups s -
resident_bytes               value gauge   groups B -
virtual_bytes                value gauge   groups B -
footprint_bytes              value gauge   groups B rusage macOS: Activity Monitor's Memory
threads                      value gauge   groups - -
open_fds                     value gauge   groups - -
disk_read_bytes              value counter groups B rusage
disk_written_bytes           value counter groups B rusage
major_faults                 value counter groups - rusage macOS: its 64-bit page-ins
minor_faults                 value counter groups - -
context_switches             value counter groups - -      macOS: all threads' (Linux splits them)
instructions                 value counter -      - rusage macOS: CPU counters, absent in VMs
cycles                       value counter -      - rusage
energy_joules                value counter -      J rusage macOS 13+ on Apple Silicon
voluntary_switches           value counter groups - -      Linux: every thread's, gone ones too
nonvoluntary_switches        value counter groups - -
swapped_bytes                value gauge   groups B -      Linux: VmSwap
fd_limit                     value gauge   -      - -      the soft limit on open descriptors
state                        value -       -      - -      one of STATES, None if not known
cmdline                      text  -       -      - -      the arguments joined by spaces
argv0                        text  -       -      - -      the first, as exec was given it
idle_wakeups                 extra counter -      - rusage macOS
interrupt_wakeups            extra counter -      - rusage macOS
cpu_user_performance         extra counter -      s rusage macOS: on performance cores
cpu_system_performance       extra counter -      s rusage
cpu_wait                     extra counter -      s rusage runnable, waiting for a CPU
wired_bytes                  extra gauge   -      B rusage macOS
footprint_peak_bytes         extra gauge   -      B rusage macOS
proportional_resident_bytes  extra gauge   groups B -      Linux: PSS (--gather-smaps)
proportional_swapped_bytes   extra gauge   groups B -
wchan                        extra -       -      - -      Linux: the kernel function it waits in
thread_list                  extra -       -      - -      [Thread], for two threads or more
""".strip().splitlines())}


def fields_with(**columns):
    """The fields, in FIELDS' order, whose columns hold these values."""
    return tuple(field for field, has in FIELDS.items()
                 if all(has[column] == value for column, value in columns.items()))


IDENTITY, VALUE_FIELDS, EXTRA_FIELDS = (fields_with(kind=kind) for kind in ("id", "value", "extra"))
# Not a number: a reader reads command lines only when `fields` hold this (a rule
# on `cmdline:` or --label cmdline asks for it), once per program run.
CMDLINE = "cmdline"
# At most this much of a command line is kept: a rule sees no further.
CMDLINE_BYTES = 65536

# A process's state, in the reference exporter's words: Linux's R, S, D, Z and the
# rest; macOS's from its process table and running threads (see DarwinReader).
STATES = ("Running", "Sleeping", "Waiting", "Zombie", "Other")


def init_of(required, optional, **fixed):
    """An __init__ setting `required` and `optional` (None unless given), by position or
    name, and `fixed`; written out and compiled once, as it runs for every process of
    every scrape, where a setattr loop costs several times as much."""
    source = "def __init__(self, %s):\n%s" % (
        ", ".join(required + tuple(name + "=None" for name in optional)),
        "".join("    self.%s = %s\n" % (name, name if name not in fixed else repr(fixed[name]))
                for name in required + optional + tuple(fixed)))
    namespace = {}
    exec(source, namespace)
    return namespace["__init__"]


class Process:
    """What one reading of one process gave: the FIELDS, by position in their order."""

    # The texts are slots too: a record holding them in a dict of its own costs a tenth
    # more per scrape.  The extras are None on the class, and set on a record (in its
    # __dict__) only when read, so that the records of a default scrape cost no more.
    __slots__ = IDENTITY + VALUE_FIELDS + fields_with(kind="text") + ("partial", "__dict__")
    __init__ = init_of(IDENTITY, __slots__[len(IDENTITY):-2], partial=False)  # refused some
    info = 1                # the value of process_info, the same for every process
    kernel_thread = False   # Linux: a kernel thread, not a program

    def __repr__(self):
        return "Process(%s)" % ", ".join("%s=%r" % (field, getattr(self, field)) for field
                                         in tuple(FIELDS) + ("partial",)
                                         if getattr(self, field) is not None)


for _field in EXTRA_FIELDS:
    setattr(Process, _field, None)


# What the per-thread families sum over the threads of one name in a group.
THREAD_COUNTERS = ("cpu_user", "cpu_system", "read_bytes", "written_bytes", "major_faults",
                   "minor_faults", "voluntary_switches", "nonvoluntary_switches")


class Thread:
    """A thread (--threads): id, name and what it used; None where the kernel says not."""

    __slots__ = ("tid", "name") + THREAD_COUNTERS + ("wchan",)
    __init__ = init_of(__slots__[:2], __slots__[2:])


# No counter goes down: Prometheus would read a reset.  A count lower than last time
# is kept at its last (never_lower), or is another thread under the same id (went_down),
# or, where the kernel keeps it in too few bits, no count any more (climbing).

def never_lower(values, last):
    """This scrape's counters, each kept at its last value if it is unread now or lower
    (a saturated macOS count, a thread gone from the sum)."""
    if last is None:
        return values
    return [old if new is None or (old is not None and new < old) else new
            for new, old in zip(values, last)]


def went_down(values, last):
    """Whether any count is lower than last time: another thread under the same id."""
    for new, old in zip(values, last):
        if new is not None and old is not None and new < old:
            return True
    return False


def climbing(last, count, ceiling):
    """(what to remember, the count or None) of a kernel count kept in too few bits: one
    at its ceiling, negative or lower than last time has saturated or wrapped, and is
    left out for the rest of the process's life."""
    if last <= count < ceiling:
        return count, count
    return ceiling, None


# ---------------------------------------------------------------------------
# Reading: what the readers of both platforms share
# ---------------------------------------------------------------------------

# Why a process listed by the kernel did not make it into the exposition.
SKIP_REASONS = ("permission_denied", "vanished", "error")


def failure_reason(failure):
    """Why reading a process failed, as one of SKIP_REASONS, from an errno or an
    exception."""
    err = failure if isinstance(failure, int) else getattr(failure, "errno", None)
    if err in (errno.ESRCH, errno.ENOENT):
        return "vanished"
    if err in (errno.EPERM, errno.EACCES):
        return "permission_denied"
    return "error"


def decode(raw):
    """Kernel bytes (a path, a name) as text that is always valid UTF-8."""
    return raw.decode("utf-8", "replace")


def joined_arguments(arguments):
    """Arguments joined by spaces (at most CMDLINE_BYTES), and argv[0], as text."""
    return decode(b" ".join(arguments)[:CMDLINE_BYTES]), \
        decode(arguments[0]) if arguments else ""


class Known:
    """What a reader keeps of a process between scrapes: the program it runs (see
    Reader.remember), and what its numbers need (an owner read from status, threads'
    context switches, 32-bit counts, the executable's UUID)."""

    __slots__ = ("comm", "name", "path", "cmdline", "argv0", "cmdline_uid", "executable",
                 "uid", "gid", "checked_at", "start_time", "minor_faults", "switches",
                 "pageins", "task_times", "wait", "thread_switches", "gone_switches")

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, None)
        self.minor_faults = self.switches = self.pageins = self.wait = 0
        # Linux: each live thread's last (voluntary, nonvoluntary) switches, and the sum
        # of those of threads gone, so that the process's sum never goes down.
        self.thread_switches = {}
        self.gone_switches = (0, 0)


class Reader:
    """What both platform readers share: the fields to read, what is kept of each
    process, and each read()'s tallies: `skipped` by reason, and `partial`."""

    states_told = STATES      # the states this platform tells apart

    def __init__(self, fields=None):
        self.set_fields(fields)
        self._start_reading()
        self._known = {}          # (pid, start) -> Known, as of the last whole listing

    def set_fields(self, fields):
        """Read these fields from now on (a reload may change them)."""
        self.fields = frozenset(VALUE_FIELDS + EXTRA_FIELDS if fields is None else fields)

    def wants(self, *fields):
        return not self.fields.isdisjoint(fields)

    def _start_reading(self):
        self.skipped = dict.fromkeys(SKIP_REASONS, 0)
        self.partial = 0
        self._seen = {}

    def _end_reading(self):
        """Only once the whole listing was read: a scrape that fails forgets nothing."""
        self._known = self._seen

    def remember(self, key, comm, *where):
        """The Known of process `key` for this scrape.  A new key, or a new kernel name
        for it (exec changes it), is a new program, whose name and path identify(*where)
        gives, once per program run."""
        known = self._known.get(key)
        if known is None:
            known = Known()
        if known.comm != comm:
            known.comm = comm
            known.name, known.path = self.identify(*where)
            known.cmdline = known.argv0 = known.cmdline_uid = known.executable = \
                known.checked_at = None
        self._seen[key] = known
        return known

    def learn_cmdline(self, known, uid, where):
        """read_cmdline(where) once per program run, or again as another user."""
        if known.cmdline is None and known.cmdline_uid != uid:
            (known.cmdline, known.argv0), known.cmdline_uid = self.read_cmdline(where), uid

    def refused_some(self, record):
        """The kernel refused some of record's numbers: it is exported without them."""
        record.partial = True
        self.partial += 1


def make_reader(procfs="/proc", fields=None, platform=None, kept_files=0):
    """This platform's reader of `fields` (Linux keeping up to kept_files open)."""
    platform = platform or sys.platform
    if platform == "darwin":
        return DarwinReader(fields=fields)
    if platform.startswith("linux"):
        return LinuxReader(procfs, fields, kept_files=kept_files)
    raise OSError("unsupported platform %r: only macOS and Linux are read" % platform)


# ---------------------------------------------------------------------------
# macOS: the kernel's structs, through ctypes
#
# The structs carry Apple's C names and field names (xnu bsd/sys/proc_info.h,
# bsd/sys/resource.h); a test checks every size and offset against Apple's.
# ---------------------------------------------------------------------------

LIBSYSTEM_PATH = "/usr/lib/libSystem.B.dylib"

# proc_pidinfo's flavours and the sizes it checks; proc_pid_rusage's; sysctl's names.
PROC_PIDLISTFDS, PROC_PIDTASKALLINFO, PROC_PIDTHREADINFO, PROC_PIDLISTTHREADS = 1, 2, 5, 6
PROC_PIDT_SHORTBSDINFO, PROC_PIDTHREADID64INFO = 13, 15
PROC_PIDLISTTHREADIDS = 28      # private header from macOS 14; known since 10.15
PROC_PIDTASKALLINFO_SIZE = 232
PROC_PIDLISTFD_SIZE = 8             # sizeof(struct proc_fdinfo)
PROC_PIDPATHINFO_MAXSIZE = 4096     # 4 * MAXPATHLEN; proc_pidpath refuses more
MAXCOMLEN, MAXTHREADNAMESIZE = 16, 64
RUSAGE_INFO_V4, RUSAGE_INFO_V6 = 4, 6
CTL_KERN, KERN_PROC, KERN_PROC_ALL, KERN_PROCARGS2 = 1, 14, 0, 49
# p_stat: SIDL being created, SRUN alive (xnu never sets SSLEEP, so running or not is
# the threads'), SSTOP stopped, SZOMB a zombie.
SIDL, SRUN, SSTOP, SZOMB = 1, 2, 4, 5
INT32_MAX = 2 ** 31 - 1


def c_fields(spec):
    """A ctypes _fields_ from "TYPE: name name ... TYPE: name ...", TYPE a ctypes type
    less its c_ or a struct here, *N (a number or a constant here) an array of N."""
    fields, kind = [], None
    for word in spec.split():
        if word.endswith(":"):
            name, _, count = word[:-1].partition("*")
            kind = getattr(ctypes, "c_" + name, None) or globals()[name]
            if count:
                kind = kind * (int(count) if count.isdigit() else globals()[count])
        else:
            fields.append((word, kind))
    return fields


class proc_bsdinfo(ctypes.Structure):
    # pbi_uid is the effective uid; pbi_comm holds at most 15 chars, pbi_name (its
    # size 2 * MAXCOMLEN) 31 or none; pbi_nfiles counts fd table slots, not open
    # descriptors; pbi_start_tv* is the wall clock at fork, kept across exec.
    _fields_ = c_fields("""uint32: pbi_flags pbi_status pbi_xstatus pbi_pid pbi_ppid pbi_uid
        pbi_gid pbi_ruid pbi_rgid pbi_svuid pbi_svgid rfu_1  char*MAXCOMLEN: pbi_comm
        char*32: pbi_name  uint32: pbi_nfiles pbi_pgid pbi_pjobc e_tdev e_tpgid
        int32: pbi_nice  uint64: pbi_start_tvsec pbi_start_tvusec""")


class proc_bsdshortinfo(ctypes.Structure):
    """The one BSD flavour any user may read of any process."""
    _fields_ = c_fields("""uint32: pbsi_pid pbsi_ppid pbsi_pgid pbsi_status
        char*MAXCOMLEN: pbsi_comm  uint32: pbsi_flags pbsi_uid pbsi_gid pbsi_ruid pbsi_rgid
        pbsi_svuid pbsi_svgid pbsi_rfu""")


class proc_taskinfo(ctypes.Structure):
    # Sizes in bytes, times in Mach absolute-time ticks (not ns); pti_faults counts all
    # faults, pti_pageins those that read from disk; pti_csw is voluntary + involuntary.
    _fields_ = c_fields("""uint64: pti_virtual_size pti_resident_size pti_total_user
        pti_total_system pti_threads_user pti_threads_system  int32: pti_policy pti_faults
        pti_pageins pti_cow_faults pti_messages_sent pti_messages_received pti_syscalls_mach
        pti_syscalls_unix pti_csw pti_threadnum pti_numrunning pti_priority""")


class proc_taskallinfo(ctypes.Structure):
    _fields_ = c_fields("proc_bsdinfo: pbsd  proc_taskinfo: ptinfo")


# rusage_info_v4 (macOS 10.13+); v6 (macOS 13+) appends v5's ri_flags and its own.
# Times are Mach ticks, sizes bytes, energy nanojoules; ri_phys_footprint is Activity
# Monitor's Memory column.
RUSAGE_INFO_V4_FIELDS = c_fields("""uint8*16: ri_uuid  uint64: ri_user_time ri_system_time
    ri_pkg_idle_wkups ri_interrupt_wkups ri_pageins ri_wired_size ri_resident_size
    ri_phys_footprint ri_proc_start_abstime ri_proc_exit_abstime ri_child_user_time
    ri_child_system_time ri_child_pkg_idle_wkups ri_child_interrupt_wkups ri_child_pageins
    ri_child_elapsed_abstime ri_diskio_bytesread ri_diskio_byteswritten
    ri_cpu_time_qos_default ri_cpu_time_qos_maintenance ri_cpu_time_qos_background
    ri_cpu_time_qos_utility ri_cpu_time_qos_legacy ri_cpu_time_qos_user_initiated
    ri_cpu_time_qos_user_interactive ri_billed_system_time ri_serviced_system_time
    ri_logical_writes ri_lifetime_max_phys_footprint ri_instructions ri_cycles
    ri_billed_energy ri_serviced_energy ri_interval_max_phys_footprint ri_runnable_time""")


class rusage_info_v4(ctypes.Structure):
    _fields_ = RUSAGE_INFO_V4_FIELDS


class rusage_info_v6(ctypes.Structure):
    _fields_ = RUSAGE_INFO_V4_FIELDS + c_fields("""uint64: ri_flags ri_user_ptime
        ri_system_ptime ri_pinstructions ri_pcycles ri_energy_nj ri_penergy_nj
        ri_secure_time_in_system ri_secure_ptime_in_system ri_neural_footprint
        ri_lifetime_max_neural_footprint ri_interval_max_neural_footprint
        uint64*9: ri_reserved""")


class proc_threadinfo(ctypes.Structure):
    # Times in nanoseconds, unlike the task's ticks; pth_run_state is TH_STATE_RUNNING
    # (1) ... TH_STATE_HALTED (5).
    _fields_ = c_fields("""uint64: pth_user_time pth_system_time  int32: pth_cpu_usage
        pth_policy pth_run_state pth_flags pth_sleep_time pth_curpri pth_priority
        pth_maxpriority  char*MAXTHREADNAMESIZE: pth_name""")


class mach_timebase_info(ctypes.Structure):
    _fields_ = c_fields("uint32: numer denom")


# struct kinfo_proc (bsd/sys/sysctl.h), what sysctl KERN_PROC_ALL gives for every
# process, zombies included, to any user.  Only the fields the kernel fills and an
# exporter may use are named; the bytes between them are reserved_* here.

class timeval(ctypes.Structure):
    _fields_ = c_fields("int64: tv_sec  int32: tv_usec")


class extern_proc(ctypes.Structure):
    # p_starttime is the fork time, kept across exec; p_stat one of SIDL ... SZOMB;
    # p_comm (MAXCOMLEN + 1) holds at most 16 chars.
    _fields_ = c_fields("""timeval: p_starttime  uint8*16: reserved_1  int32: p_flag
        uint8: p_stat  uint8*3: reserved_2  int32: p_pid p_oppid  uint8*192: reserved_3
        uint8: p_priority p_usrpri  int8: p_nice  char*17: p_comm  uint8*20: reserved_4
        uint16: p_xstat  uint8*14: reserved_5""")


class _pcred(ctypes.Structure):
    # reserved_1 is pc_lock and pc_ucred.
    _fields_ = c_fields("""uint8*80: reserved_1  uint32: p_ruid p_svuid p_rgid p_svgid
        uint8*8: reserved_2""")


class _ucred(ctypes.Structure):
    # reserved_1 is cr_ref; cr_uid is the effective uid, cr_groups[0] the effective gid.
    _fields_ = c_fields("""uint8*4: reserved_1  uint32: cr_uid  int16: cr_ngroups
        uint8*2: reserved_2  uint32*16: cr_groups""")


class eproc(ctypes.Structure):
    # Reserved: e_paddr and e_sess; e_vm; e_jobc; e_tsess, e_wmesg, e_xsize...; e_login
    # and e_spare.  e_tdev is -1 without a controlling terminal.
    _fields_ = c_fields("""uint8*16: reserved_1  _pcred: e_pcred  _ucred: e_ucred
        uint8*68: reserved_2  int32: e_ppid e_pgid  uint8*4: reserved_3  int32: e_tdev
        e_tpgid  uint8*32: reserved_4  int32: e_flag  uint8*32: reserved_5""")


class kinfo_proc(ctypes.Structure):
    _fields_ = c_fields("extern_proc: kp_proc  eproc: kp_eproc")


def field_at(struct, dotted):
    """(offset, ctypes type) of a struct's field, named a.b or a[0]."""
    offset = 0
    for part in dotted.split("."):
        name, _, index = part.partition("[")
        offset += getattr(struct, name).offset
        struct = dict(struct._fields_)[name]
        if index:
            struct = struct._type_
            offset += int(index.rstrip("]")) * ctypes.sizeof(struct)
    return offset, struct


STRUCT_CODES = {getattr(ctypes, "c_" + name): code for name, code in (
    ("uint8", "B"), ("int8", "b"), ("uint16", "H"), ("int16", "h"), ("uint32", "I"),
    ("int32", "i"), ("uint64", "Q"), ("int64", "q"))}


def unpacker(struct, fields):
    """A struct.Struct that reads the named fields (in offset order) of a ctypes struct
    in one call, cheaper than an attribute each, for every process of every scrape."""
    import struct as struct_module
    fmt, position = "=", 0
    for dotted in fields:
        offset, kind = field_at(struct, dotted)
        if offset < position:
            raise ValueError("%s is out of offset order" % dotted)
        fmt += "%dx" % (offset - position) if offset > position else ""
        is_text = issubclass(kind, ctypes.Array) and kind._type_ in (ctypes.c_char, ctypes.c_uint8)
        fmt += "%ds" % kind._length_ if is_text else STRUCT_CODES[kind]
        position = offset + ctypes.sizeof(kind)
    return struct_module.Struct(fmt + "%dx" % (ctypes.sizeof(struct) - position))


# One row of the process table: (start seconds, start microseconds, state, pid, the
# 16-character name, effective uid, effective gid, ppid).
KINFO_ROW = unpacker(kinfo_proc, """kp_proc.p_starttime.tv_sec kp_proc.p_starttime.tv_usec
    kp_proc.p_stat kp_proc.p_pid kp_proc.p_comm kp_eproc.e_ucred.cr_uid
    kp_eproc.e_ucred.cr_groups[0] kp_eproc.e_ppid""".split())

# What a scrape takes from PROC_PIDTASKALLINFO, in offset order.
TASK_VALUES = unpacker(proc_taskallinfo, """pbsd.pbi_name pbsd.pbi_nfiles pbsd.pbi_start_tvsec
    pbsd.pbi_start_tvusec ptinfo.pti_virtual_size ptinfo.pti_resident_size
    ptinfo.pti_total_user ptinfo.pti_total_system ptinfo.pti_faults ptinfo.pti_pageins
    ptinfo.pti_csw ptinfo.pti_threadnum ptinfo.pti_numrunning""".split())

# And from proc_pid_rusage; V6 adds performance-core time and energy.
RUSAGE_V4_NAMES = tuple("""ri_uuid ri_user_time ri_system_time ri_pkg_idle_wkups
    ri_interrupt_wkups ri_pageins ri_wired_size ri_phys_footprint ri_diskio_bytesread
    ri_diskio_byteswritten ri_lifetime_max_phys_footprint ri_instructions ri_cycles
    ri_runnable_time""".split())
RUSAGE_V6_NAMES = RUSAGE_V4_NAMES + ("ri_user_ptime", "ri_system_ptime", "ri_energy_nj")


def load_libsystem(path=None):
    """libSystem, where libproc lives; dlopen finds it in the dyld shared cache."""
    return ctypes.CDLL(path or LIBSYSTEM_PATH, use_errno=True)


def declare_prototypes(lib):
    """Give every libproc call its C prototype: an untyped 64-bit argument is a bug."""
    c_int, c_void_p, c_size_p = ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)
    for name, argtypes in (
            ("proc_listallpids", [c_void_p, c_int]),
            ("proc_pidinfo", [c_int, c_int, ctypes.c_uint64, c_void_p, c_int]),
            ("proc_pidpath", [c_int, c_void_p, ctypes.c_uint32]),
            ("proc_pid_rusage", [c_int, c_int, c_void_p]),
            ("mach_timebase_info", [ctypes.POINTER(mach_timebase_info)]),
            ("sysctl", [ctypes.POINTER(c_int), ctypes.c_uint, c_void_p, c_size_p, c_void_p,
                        ctypes.c_size_t]),
            ("sysctlbyname", [ctypes.c_char_p, c_void_p, c_size_p, c_void_p, ctypes.c_size_t])):
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, c_int


def sysctl_number(lib, name, kind=ctypes.c_int64):
    """A number sysctl gives by name, or None where this Mac has no such name."""
    value = kind(0)
    size = ctypes.c_size_t(ctypes.sizeof(value))
    if lib.sysctlbyname(name, ctypes.byref(value), ctypes.byref(size), None, 0) != 0:
        return None
    return value.value


def mach_tick_ratio(lib):
    """(numer, denom) such that seconds = Mach ticks * numer / denom.  hw.tbfrequency
    first: under Rosetta mach_timebase_info() answers 1/1 while the kernel still counts
    native ticks (24 MHz on Apple Silicon, 41.67 ns each)."""
    frequency = sysctl_number(lib, b"hw.tbfrequency")
    if frequency:
        return 1, frequency
    timebase = mach_timebase_info()
    if lib.mach_timebase_info(ctypes.byref(timebase)) != 0 or timebase.denom == 0:
        raise OSError("mach_timebase_info failed")
    return timebase.numer, timebase.denom * 1000000000


def libproc_error(call):
    err = ctypes.get_errno()
    return OSError(err, "%s: %s" % (call, os.strerror(err)))


# ---------------------------------------------------------------------------
# macOS: the reader
# ---------------------------------------------------------------------------

def program_name(path, kernel_name, short_name):
    """The name label, from the kernel's bytes: the executable's file name where its
    path is known (the one full name any user can read) and begins with the process
    table's 16 bytes, else the kernel's name, less a character its cut left in two.  The
    path is looked up anew, so a file renamed since the exec may have another name now."""
    file_name = path.rpartition(b"/")[2]
    if file_name and file_name.startswith(short_name):
        return decode(file_name)
    return decode_cut(kernel_name or short_name)


def decode_cut(raw):
    """Text of bytes cut at a fixed size, less a character the cut left incomplete."""
    for back in range(1, min(4, len(raw)) + 1):
        byte = raw[-back]
        if byte & 0xC0 != 0x80:                  # a character's first byte, or ASCII
            length = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else \
                4 if byte & 0xF8 == 0xF0 else 1
            if length > back:
                raw = raw[:-back]
            break
    return decode(raw)


def text_before_nul(raw):
    return raw.split(b"\0", 1)[0]


def procargs_arguments(raw):
    """The arguments in a KERN_PROCARGS2 answer, or None if it is not one: a native int
    argc, the exec path padded with NULs to 8 bytes (so an empty argv[0] is the one NUL
    after), argc NUL-terminated arguments, then the environment, never looked at."""
    if len(raw) < 4:
        return None
    argc = int.from_bytes(raw[:4], sys.byteorder, signed=True)
    end = raw.find(b"\0", 4)
    if argc < 0 or end < 0:
        return None
    position = 4 + (end - 4 + 1 + 7) // 8 * 8
    arguments = []
    while len(arguments) < argc and position < len(raw):
        end = raw.find(b"\0", position)
        if end < 0:            # cut short: what there is of the last one
            end = len(raw)
        arguments.append(raw[position:end])
        position = end + 1
    return arguments


# The numbers proc_pid_rusage gives, and of those the ones read only when asked for.
RUSAGE_FIELDS = fields_with(macos="rusage")
RUSAGE_EXTRAS = fields_with(macos="rusage", kind="extra")


def darwin_state(p_stat, running_threads):
    """A state from p_stat and, for a live process, its running threads (None when not
    told: then not known).  Uninterruptible waits look like sleep: no Waiting."""
    if p_stat == SZOMB:
        return "Zombie"
    if running_threads:         # a process spawned suspended keeps SSTOP once resumed
        return "Running"
    if p_stat in (SSTOP, SIDL):
        return "Other"
    if running_threads is None:
        return None
    return "Sleeping"


class DarwinReader(Reader):
    """Reads every process through the process table and libproc (docs/macos.md): one
    sysctl(KERN_PROC_ALL) lists them all, zombies too, with identity, start time and
    state, for any user; then proc_pidinfo and, as the fields need, proc_pid_rusage and
    the fd list, which the kernel gives for our own processes or to root.  Refused the
    table (a sandbox), it lists with proc_listallpids, for good."""

    states_told = ("Running", "Sleeping", "Zombie", "Other")    # no Waiting: see darwin_state

    def __init__(self, lib=None, fields=None):
        self.lib = lib if lib is not None else load_libsystem()
        declare_prototypes(self.lib)
        self._args = None
        Reader.__init__(self, fields)
        self._proc_pidinfo = self.lib.proc_pidinfo
        self.tick_numer, self.tick_denom = mach_tick_ratio(self.lib)
        # Performance-core time means something only where there are two kinds of core.
        self.has_performance_cores = (sysctl_number(self.lib, b"hw.nperflevels",
                                                    ctypes.c_int32) or 0) >= 2
        self.listing = "process table"      # or "proc_listallpids", once refused
        self._thread_info = proc_threadinfo()
        self._thread_handles = (ctypes.c_uint64 * 64)()
        self._list_threads = PROC_PIDLISTTHREADIDS      # EINVAL: PROC_PIDLISTTHREADS
        self._thread_flavor = PROC_PIDTHREADID64INFO
        # One buffer of each kind, reused for every pid of every scrape.
        self._mib = (ctypes.c_int * 3)(CTL_KERN, KERN_PROC, KERN_PROC_ALL)
        self._table = ctypes.create_string_buffer(0)
        self._table_size = ctypes.c_size_t(0)
        self._info = proc_taskallinfo()
        self._info_ref = ctypes.byref(self._info)
        self._short = proc_bsdshortinfo()
        self._path = ctypes.create_string_buffer(PROC_PIDPATHINFO_MAXSIZE)
        self._pids = (ctypes.c_int * 0)()
        self._fds = (ctypes.c_uint64 * 64)()        # proc_fdinfo is 8 bytes
        # V6 first; a kernel older than macOS 13 answers EINVAL, and V4 it is for good.
        self._use_rusage(rusage_info_v6(), RUSAGE_INFO_V6, RUSAGE_V6_NAMES)

    def set_fields(self, fields):
        Reader.set_fields(self, fields)
        self.with_extras = self.wants(*RUSAGE_EXTRAS)
        self.with_threads = self.wants("thread_list")
        if self.wants(CMDLINE) and self._args is None:    # kern.argmax bytes, only then
            argmax = sysctl_number(self.lib, b"kern.argmax", ctypes.c_int32) or 1 << 20
            self._args = ctypes.create_string_buffer(argmax)
            self._args_mib = (ctypes.c_int * 3)(CTL_KERN, KERN_PROCARGS2, 0)
        elif not self.wants(CMDLINE):
            self._args = self._args_mib = None

    def _use_rusage(self, buffer, flavor, names):
        self._rusage, self._rusage_flavor = buffer, flavor
        self._rusage_ref = ctypes.byref(buffer)
        self._rusage_values = unpacker(type(buffer), names).unpack_from

    # -- listing ------------------------------------------------------------

    def process_table(self):
        """Every process as (start s, start us, state, pid, name, uid, gid, ppid) rows,
        from one sysctl; ENOMEM means the table grew past our slack: ask again."""
        lib, size, row = self.lib, self._table_size, KINFO_ROW.size
        size.value = 0
        if lib.sysctl(self._mib, 3, None, ctypes.byref(size), None, 0) != 0:
            raise libproc_error("sysctl kern.proc.all")
        wanted = size.value + 64 * row     # the kernel's answer has 5 rows of slack
        for _ in range(8):
            if len(self._table) < wanted:
                self._table = ctypes.create_string_buffer(wanted)
            size.value = len(self._table)
            if lib.sysctl(self._mib, 3, self._table, ctypes.byref(size), None, 0) == 0:
                used = size.value - size.value % row
                return KINFO_ROW.iter_unpack(memoryview(self._table)[:used])
            if ctypes.get_errno() != errno.ENOMEM:
                raise libproc_error("sysctl kern.proc.all")
            wanted = len(self._table) * 2
        raise OSError(errno.ENOMEM, "sysctl kern.proc.all: the table keeps growing")

    def list_pids(self):
        """Every pid, zombies included; proc_listallpids counts pids but takes bytes."""
        lib = self.lib
        estimate = lib.proc_listallpids(None, 0)
        if estimate <= 0:
            raise libproc_error("proc_listallpids")
        capacity = max(len(self._pids), estimate + 64)
        while True:
            if len(self._pids) < capacity:
                self._pids = (ctypes.c_int * capacity)()
            count = lib.proc_listallpids(self._pids, ctypes.sizeof(self._pids))
            if count <= 0:
                raise libproc_error("proc_listallpids")
            if count < capacity:
                return self._pids[:count]
            capacity *= 2      # it came back full: there may be more

    def short_rows(self):
        """Rows as process_table's, without start times, for any user."""
        short, size = self._short, ctypes.sizeof(self._short)
        for pid in self.list_pids():
            if self.lib.proc_pidinfo(pid, PROC_PIDT_SHORTBSDINFO, 1, ctypes.byref(short),
                                     size) != size:
                self.skipped[failure_reason(ctypes.get_errno())] += 1
                continue
            yield (None, None, short.pbsi_status, pid, short.pbsi_comm, short.pbsi_uid,
                   short.pbsi_gid, short.pbsi_ppid)

    def rows(self):
        if self.listing == "process table":
            try:
                return self.process_table()
            except OSError:
                self.listing = "proc_listallpids"
        return self.short_rows()

    # -- reading ------------------------------------------------------------

    def read(self):
        self._start_reading()
        records = []
        seen = set()
        with_rusage = self.wants(*RUSAGE_FIELDS)
        with_fds = self.wants("open_fds")
        rows = self.rows()
        # Without the process table a zombie has no start time of its own: the one it
        # had alive, if we saw it alive, keeps it the same process.
        self._known_starts = {} if self.listing == "process table" else \
            {pid: start for pid, start in self._known}
        read_process = self.read_process
        for row in rows:
            if row[3] in seen:        # a pid listed twice: moving to the zombie list
                continue
            seen.add(row[3])
            record = read_process(row, with_rusage, with_fds)
            if record is not None:
                records.append(record)
        self._end_reading()
        return records

    def read_process(self, row, with_rusage=True, with_fds=True):
        """One process as a record, or None (counted in `skipped`)."""
        start_sec, start_usec, state, pid, comm, uid, gid, ppid = row
        start = None if start_sec is None else start_sec + start_usec / 1e6
        if state == SZOMB:
            return self.read_zombie(row, start)
        if self._proc_pidinfo(pid, PROC_PIDTASKALLINFO, 0, self._info_ref,
                              PROC_PIDTASKALLINFO_SIZE) != PROC_PIDTASKALLINFO_SIZE:
            err = ctypes.get_errno()
            if err == errno.EPERM:       # another user's process, and we are not root
                known = self.remember((pid, start), comm, pid, comm)
                if self._args is not None:
                    self.learn_cmdline(known, uid, pid)
                record = Process(pid, ppid, uid, gid, known.name, known.path, start,
                                 state=darwin_state(state, None), cmdline=known.cmdline,
                                 argv0=known.argv0)
                self.refused_some(record)
                return record
            if err == errno.ESRCH:       # it exited since the listing: a zombie, or gone
                return self.read_zombie(row, start)
            self.skipped[failure_reason(err)] += 1
            return None
        (kernel_name, table_slots, task_sec, task_usec, virtual, resident, user, system,
         faults, pageins, switches, threads, running) = TASK_VALUES.unpack_from(self._info)
        if start is None:                # listed without the process table
            start = task_sec + task_usec / 1e6
        elif task_sec != start_sec or task_usec != start_usec:
            self.skipped["vanished"] += 1    # reaped, and its pid reused, since the listing
            return None
        known = self.remember((pid, start), comm, pid, comm, kernel_name)
        if self._args is not None:
            self.learn_cmdline(known, uid, pid)
        known.task_times = (user, system)    # a zombie's rusage may lag behind them
        # The kernel keeps these counts in 32 bits: from macOS 12 they stop at 2**31 - 1
        # (the context switch sum wraps at 2**32 first), on macOS 11 they go negative.
        # Minor faults are all faults less page-ins, both from the one snapshot.
        known.switches, switches = climbing(known.switches, switches, INT32_MAX)
        minor = faults - pageins if pageins >= 0 and faults < INT32_MAX else -1
        known.minor_faults, minor = climbing(known.minor_faults, minor, INT32_MAX)
        numer, denom = self.tick_numer, self.tick_denom
        # Positional, in Process's order: this runs for every process of every scrape.
        record = Process(
            pid, ppid, uid, gid, known.name, known.path, start,
            user * numer / denom,                               # cpu_user
            system * numer / denom,                             # cpu_system
            resident, virtual,
            None,                                               # footprint: rusage
            threads,
            None, None, None, None,                             # fds, disk, major: below
            minor, switches,                                    # context_switches
            None, None, None, None, None, None, None,           # rusage's, Linux's, fd_limit
            darwin_state(state, running))
        if self.with_threads and threads > 1:
            record.thread_list = self.read_threads(pid, threads, known.name)
        refused = False
        if with_rusage:
            refused = self.read_rusage(pid, record, known) == errno.EPERM
            if known.comm is None:           # another executable: an exec, just noticed
                known = self.remember((pid, start), comm, pid, comm, kernel_name)
                if self._args is not None:
                    self.learn_cmdline(known, uid, pid)
                record.name, record.path = known.name, known.path
        if known.cmdline is not None:
            record.cmdline, record.argv0 = known.cmdline, known.argv0
        if with_fds:
            refused = self.read_open_fds(pid, table_slots, record) == errno.EPERM or refused
        if refused:
            self.refused_some(record)
        return record

    def read_zombie(self, row, start):
        """A zombie as it was alive, with its final rusage; None if reaped."""
        _, _, _, pid, comm, uid, gid, ppid = row
        if start is None:
            start = self._known_starts.get(pid)
        known = self.remember((pid, start), comm, pid, comm, b"", False)
        # What it had alive: a zombie's path and command line are refused.
        record = Process(pid, ppid, uid, gid, known.name, known.path, start, state="Zombie",
                         cmdline=known.cmdline, argv0=known.argv0)
        err = self.read_rusage(pid, record, known)
        if err == errno.ESRCH:
            self.skipped[failure_reason(err)] += 1
            return None
        if err:
            self.refused_some(record)
        elif known.task_times is not None:
            # The kernel keeps a zombie's rusage from the start of its exit, before its
            # last threads stopped: never below what its task said last time.
            numer, denom = self.tick_numer, self.tick_denom
            record.cpu_user, record.cpu_system = never_lower(
                [record.cpu_user, record.cpu_system],
                [ticks * numer / denom for ticks in known.task_times])
        # A zombie holds no memory; its 32-bit task counts are gone with its task.
        record.footprint_bytes = record.wired_bytes = record.footprint_peak_bytes = None
        return record

    def identify(self, pid, comm, kernel_name=b"", alive=True):
        """A new program's name and path, asked only then: the kernel logs a line each
        time it cannot look one up, and refuses a zombie's."""
        path = self.read_path(pid) if alive else b""
        return (program_name(path, text_before_nul(kernel_name), text_before_nul(comm)),
                decode(path))

    def read_cmdline(self, pid):
        """The arguments joined by spaces, and argv[0]; (None, None) where the kernel
        says EINVAL (others' processes, zombies, pid 0) or the answer fills the buffer
        (a longer one comes back cut)."""
        self._args_mib[2] = pid
        size = ctypes.c_size_t(len(self._args))
        if self.lib.sysctl(self._args_mib, 3, self._args, ctypes.byref(size), None, 0) != 0 \
                or size.value >= len(self._args):
            return None, None
        arguments = procargs_arguments(ctypes.string_at(self._args, size.value))
        return (None, None) if arguments is None else joined_arguments(arguments)

    def read_path(self, pid):
        """The executable's path (any user may ask); b"" where there is none."""
        length = self.lib.proc_pidpath(pid, self._path, PROC_PIDPATHINFO_MAXSIZE)
        return ctypes.string_at(self._path, length) if length > 0 else b""

    def read_rusage(self, pid, record, known):
        """Fill in what proc_pid_rusage gives; return its errno, or 0."""
        while self.lib.proc_pid_rusage(pid, self._rusage_flavor, self._rusage_ref) != 0:
            err = ctypes.get_errno()
            if err != errno.EINVAL or self._rusage_flavor == RUSAGE_INFO_V4:
                return err
            # The kernel writes the whole struct unchecked, so the buffer matches the flavour.
            self._use_rusage(rusage_info_v4(), RUSAGE_INFO_V4, RUSAGE_V4_NAMES)
        values = self._rusage_values(self._rusage)
        (executable, user, system, idle_wakeups, interrupt_wakeups, pageins, wired,
         footprint, disk_read, disk_written, footprint_peak, instructions, cycles,
         runnable) = values[:14]
        if executable != known.executable:
            # The executable's LC_UUID: another one, though the process table's 16
            # bytes of name stayed, is an exec (not of the same binary, though).
            if known.executable is not None and record.state != "Zombie":
                known.comm = None
            known.executable = executable
        numer, denom = self.tick_numer, self.tick_denom
        if record.cpu_user is None:      # a zombie: its task times are gone
            record.cpu_user = user * numer / denom
            record.cpu_system = system * numer / denom
        record.footprint_bytes = footprint
        record.disk_read_bytes = disk_read
        record.disk_written_bytes = disk_written
        # 64 bits from macOS 12; on macOS 11 a 32-bit count, sign-extended past 2**31.
        known.pageins, record.major_faults = climbing(known.pageins, pageins, 2 ** 63)
        record.instructions = instructions or None     # 0: the CPU keeps no count
        record.cycles = cycles or None
        v6 = len(values) > 14
        if v6:
            energy = values[16]
            record.energy_joules = energy / 1e9 if energy else None
        if self.with_extras:
            record.idle_wakeups = idle_wakeups
            record.interrupt_wakeups = interrupt_wakeups
            # The runnable timer runs from unblock to block, running included: the
            # wait is what exceeds the CPU time of the same snapshot.  The two are
            # stamped by different clocks, so the difference may step back a little:
            # it is kept at its highest.
            (known.wait,) = never_lower([runnable - user - system], [known.wait])
            record.cpu_wait = known.wait * numer / denom
            record.wired_bytes = wired
            record.footprint_peak_bytes = footprint_peak
            if v6 and self.has_performance_cores:
                record.cpu_user_performance = values[14] * numer / denom
                record.cpu_system_performance = values[15] * numer / denom
        return 0

    def read_threads(self, pid, count, process_name):
        """Each thread (--threads) with its CPU time; None if refused.  By unique 64-bit
        ids, or where the kernel knows no such flavour by pthread address, for good
        (handles then may be reused: see went_down).  An unnamed thread takes the
        process's name."""
        while True:
            if count + 16 > len(self._thread_handles):
                self._thread_handles = (ctypes.c_uint64 * (count + 64))()
            handles = self._thread_handles
            used = self._proc_pidinfo(pid, self._list_threads, 0, handles, ctypes.sizeof(handles))
            if used <= 0 and self._list_threads == PROC_PIDLISTTHREADIDS \
                    and ctypes.get_errno() == errno.EINVAL:
                self._list_threads = PROC_PIDLISTTHREADS
                self._thread_flavor = PROC_PIDTHREADINFO
                continue
            if used < ctypes.sizeof(handles):
                break
            count = len(handles) * 2        # full: the list may have been cut short
        if used <= 0:
            return None
        info, size = self._thread_info, ctypes.sizeof(self._thread_info)
        threads, seen = [], set()
        for handle in handles[:used // 8]:
            if handle in seen:
                continue
            seen.add(handle)
            if self._proc_pidinfo(pid, self._thread_flavor, handle, ctypes.byref(info),
                                  size) != size:
                continue
            name = decode(text_before_nul(info.pth_name)) or process_name
            threads.append(Thread(handle, name, info.pth_user_time / 1e9,
                                  info.pth_system_time / 1e9))
        return threads

    def read_open_fds(self, pid, table_slots, record):
        """Count open descriptors; return the errno, or 0.  A buffer of pbi_nfiles
        entries takes them all in one call."""
        if table_slots >= len(self._fds):
            self._fds = (ctypes.c_uint64 * (table_slots + 64))()
        capacity = ctypes.sizeof(self._fds)
        used = self.lib.proc_pidinfo(pid, PROC_PIDLISTFDS, 0, self._fds, capacity)
        if 0 < used < capacity:
            record.open_fds = used // PROC_PIDLISTFD_SIZE
            return 0
        return self._read_open_fds_again(pid, record)

    def _read_open_fds_again(self, pid, record):
        """The rare cases: an error, no descriptor, a table grown."""
        lib = self.lib
        while True:
            capacity = ctypes.sizeof(self._fds)
            ctypes.set_errno(0)
            used = lib.proc_pidinfo(pid, PROC_PIDLISTFDS, 0, self._fds, capacity)
            if used <= 0 and ctypes.get_errno():
                return ctypes.get_errno()
            if used < capacity:
                record.open_fds = used // PROC_PIDLISTFD_SIZE
                return 0
            # Full.  Ask the kernel how big the table is now.
            estimate = lib.proc_pidinfo(pid, PROC_PIDLISTFDS, 0, None, 0)
            slots = max(len(self._fds) * 2, estimate // PROC_PIDLISTFD_SIZE + 64)
            self._fds = (ctypes.c_uint64 * slots)()


# ---------------------------------------------------------------------------
# Linux: /proc
# ---------------------------------------------------------------------------

PF_KTHREAD = 0x00200000          # stat flags: a kernel thread (always root)
STATUS_RECHECK_SECONDS = 60.0    # how long an owner read from status is trusted
DELETED = " (deleted)"           # what readlink adds to the exe of a replaced binary

# The columns of /proc/<pid>/stat after its name (see split_stat): man 5 proc numbers
# them from 1 (pid), so each index is the manual's number less 3.  utime and stime are
# in clock ticks, starttime in clock ticks since boot, vsize in bytes, rss in pages.
(STAT_STATE, STAT_PPID, STAT_FLAGS, STAT_MINFLT, STAT_MAJFLT, STAT_UTIME, STAT_STIME,
 STAT_NUM_THREADS, STAT_STARTTIME, STAT_VSIZE, STAT_RSS) = 0, 1, 6, 7, 9, 11, 12, 17, 19, 20, 21

# stat's state letters as the reference exporter counts them; any other is "Other"
# (T stopped, t traced, I idle kernel thread, X dead...).
LINUX_STATES = {b"R": "Running", b"S": "Sleeping", b"D": "Waiting", b"Z": "Zombie"}


def split_stat(stat):
    """A stat file's name and the columns after it; the name may hold spaces and ')'."""
    name_end = stat.rindex(b")")
    return stat[stat.index(b"(") + 1:name_end], stat[name_end + 2:].split()


class ProcFiles:
    """Files of /proc/<pid>/ kept open between scrapes, at most `budget`: reading one
    again at offset 0 regenerates it, saving an open and a close.  A file belongs to its
    process: once it is gone the read fails, even if its pid is reused."""

    def __init__(self, budget=0):
        self.budget = budget
        self._open = {}          # (pid, name) -> fd kept in this scrape
        self._previous = {}      # what the last scrape kept

    def start_scrape(self):
        self._previous, self._open = self._open, {}

    def end_scrape(self):
        """Close the files of processes gone since the last scrape."""
        for fd in self._previous.values():
            os.close(fd)
        self._previous = {}

    def close(self):
        self.end_scrape()
        self.start_scrape()
        self.end_scrape()

    def __len__(self):
        return len(self._open)

    def read(self, directory, pid, name, size=4096, with_owner=False):
        """The bytes of directory + name (and, with_owner, the file's os.stat)."""
        key = (pid, name)
        fd = self._previous.pop(key, None)
        if fd is not None:
            try:
                data = os.pread(fd, size, 0)
            except OSError:                  # that process is gone; the pid may be reused
                data = b""
            if data:
                self._open[key] = fd
                return (data, os.fstat(fd)) if with_owner else data
            os.close(fd)
        fd = os.open(directory + name, os.O_RDONLY | os.O_NONBLOCK)   # a FIFO must not block
        try:
            data = os.read(fd, size)
            owner = os.fstat(fd) if with_owner else None
        except BaseException:
            os.close(fd)
            raise
        if len(self._open) < self.budget:
            self._open[key] = fd
        else:
            os.close(fd)
        return (data, owner) if with_owner else data


class LinuxReader(Reader):
    """Reads every process from a procfs tree (docs/linux.md): per pid stat and its
    owner; status when the owner does not tell or switches are wanted; the exe link once
    per program run; fd/, io and more as the fields need."""

    def __init__(self, procfs="/proc", fields=None, clock=time.monotonic, kept_files=0,
                 wall_clock=time.time):
        Reader.__init__(self, fields)
        self.procfs = procfs
        self.clock = clock
        self.wall_clock = wall_clock
        self.clock_ticks = os.sysconf("SC_CLK_TCK")
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        self.boot_time = self._boot_time()
        self.files = ProcFiles(kept_files)
        self.fd_dir_size_counts = fd_dir_size_counts(procfs)
        self._now = clock()

    def set_fields(self, fields):
        Reader.set_fields(self, fields)
        self.with_fds = self.wants("open_fds")
        self.with_io = self.wants("disk_read_bytes", "disk_written_bytes")
        self.with_switches = self.wants("voluntary_switches", "nonvoluntary_switches")
        self.with_status = self.with_switches or self.wants("swapped_bytes")
        self.with_wait = self.wants("cpu_wait")      # schedstat: one more file each
        self.with_limits = self.wants("fd_limit")
        self.with_wchan = self.wants("wchan")
        self.with_smaps = self.wants("proportional_resident_bytes", "proportional_swapped_bytes")
        self.with_threads = self.wants("thread_list")
        self.with_cmdline = self.wants(CMDLINE)      # cmdline, once per program run

    def close(self):
        """Close the files kept open between scrapes."""
        self.files.close()

    def __del__(self):
        with suppress(Exception):   # at interpreter exit os may be gone already
            self.close()

    def _boot_time(self):
        """Wall-clock time of boot as the clock says now: now less /proc/uptime, finer
        than /proc/stat's btime, both on the boot clock of a process's starttime."""
        with suppress(OSError, ValueError, IndexError):
            uptime = read_regular_file(os.path.join(self.procfs, "uptime"), 4096)
            return self.wall_clock() - float(uptime.split()[0])
        return float(boot_second(self.procfs))

    def _follow_the_clock(self):
        """Boot time afresh, taken only when the clock stepped by a second or more, so
        that no start time (groups key on it) moves with the hundredths two readings
        wobble by."""
        try:
            boot_time = self._boot_time()
        except (OSError, ValueError):
            return           # the last one stays
        if abs(boot_time - self.boot_time) >= 1.0:
            self.boot_time = boot_time

    def read(self):
        """Every process now; what is kept of each is replaced only after a whole
        listing."""
        self._start_reading()
        self._now = self.clock()
        self._follow_the_clock()
        self.files.start_scrape()
        records = []
        try:
            for entry in os.listdir(self.procfs):
                if not entry.isdigit():
                    continue
                try:
                    records.append(self.read_process(int(entry), entry))
                except (OSError, ValueError, IndexError) as exc:
                    self.skipped[failure_reason(exc)] += 1
        finally:
            self.files.end_scrape()
        self._end_reading()
        return records

    def read_process(self, pid, entry=None):
        """One process as a record; an OSError or a ValueError for the caller."""
        directory = "%s/%s/" % (self.procfs, entry or pid)
        if self.with_status:            # status will tell the owner
            stat, stat_owner = self.files.read(directory, pid, "stat"), None
        else:
            stat, stat_owner = self.files.read(directory, pid, "stat", with_owner=True)
        comm, columns = split_stat(stat)
        start_ticks = int(columns[STAT_STARTTIME])      # a short stat fails here
        known = self.remember((pid, start_ticks), comm, comm, directory)
        if known.start_time is None:
            # As first computed, whatever the wall clock does later: groups key on it.
            known.start_time = self.boot_time + start_ticks / self.clock_ticks
        threads = int(columns[STAT_NUM_THREADS])
        voluntary = nonvoluntary = swapped = None
        if self.with_status:
            status = self.files.read(directory, pid, "status", 16384)
            uid, gid, leader_switches, swapped = parse_status(status)
            if self.with_switches:
                voluntary, nonvoluntary = self.switches(
                    directory, pid, known, threads, leader_switches)
        else:
            uid, gid = self.effective_ids(pid, directory, stat_owner, columns, known)
        ticks = self.clock_ticks
        # Positional, in Process's order: this runs for every process of every scrape.
        record = Process(
            pid, int(columns[STAT_PPID]), uid, gid, known.name, known.path,
            known.start_time,
            int(columns[STAT_UTIME]) / ticks,               # cpu_user
            int(columns[STAT_STIME]) / ticks,               # cpu_system
            int(columns[STAT_RSS]) * self.page_size,        # resident (= statm's)
            int(columns[STAT_VSIZE]),                       # virtual_bytes
            None,                                           # footprint: none on Linux
            threads,
            None, None, None,                               # fds and io, below
            int(columns[STAT_MAJFLT]),
            int(columns[STAT_MINFLT]),
            None,                                           # no total: the split
            None, None, None,                               # macOS's counters, energy
            voluntary, nonvoluntary, swapped,
            None,                                           # fd_limit, below
            LINUX_STATES.get(columns[STAT_STATE], "Other"),
        )
        if int(columns[STAT_FLAGS]) & PF_KTHREAD:
            record.kernel_thread = True
        if self.with_cmdline:
            self.learn_cmdline(known, uid, directory)
        if known.cmdline is not None:
            record.cmdline, record.argv0 = known.cmdline, known.argv0
        refused = False
        if self.with_fds:
            refused = self.read_open_fds(directory, record) or refused
        if self.with_io:
            refused = self.read_io(directory, pid, record) or refused
        if self.with_wait:
            self.read_wait(directory, pid, record)
        if self.with_limits:
            self.read_fd_limit(directory, pid, record)
        if self.with_wchan:
            record.wchan = self.read_wchan(directory, pid)
        if self.with_smaps:
            refused = self.read_smaps(directory, pid, record) or refused
        if self.with_threads and threads > 1:
            record.thread_list = self.read_threads(directory, pid, known)
        if refused:
            self.refused_some(record)
        return record

    @staticmethod
    def read_cmdline(directory):
        """The arguments joined by spaces and argv[0]; (None, None) where hidden."""
        try:
            raw = read_start_of(directory + "cmdline", CMDLINE_BYTES)
        except OSError:
            return None, None
        raw = raw.rstrip(b"\0")        # setproctitle pads with NULs
        return joined_arguments(raw.split(b"\0") if raw else [])

    @staticmethod
    def identify(comm, directory):
        """A new program's name, the kernel's, and path, the exe link's ("" where not
        told).  A binary replaced since (an upgrade) reads "PATH (deleted)": the suffix
        is dropped, so that rules still match."""
        try:
            path = decode(os.readlink(os.fsencode(directory + "exe")))
        except OSError:
            return decode(comm), ""
        return decode(comm), path[:-len(DELETED)] if path.endswith(DELETED) else path

    # fd/, io and schedstat are other users' secrets unless we are root, and the
    # process may exit mid-read: either way those numbers are left out, not the
    # process.  Each returns whether the kernel refused (for `partial`).

    def read_open_fds(self, directory, record):
        try:
            if self.fd_dir_size_counts:
                record.open_fds = os.stat(directory + "fd").st_size
            else:
                record.open_fds = len(os.listdir(directory + "fd"))
        except OSError as exc:
            return failure_reason(exc) == "permission_denied"
        return False

    def read_io(self, directory, pid, record):
        try:
            io = self.files.read(directory, pid, "io")
            record.disk_read_bytes = number_after(io, b"\nread_bytes:")
            record.disk_written_bytes = number_after(io, b"\nwrite_bytes:")
        except (OSError, ValueError) as exc:
            return failure_reason(exc) == "permission_denied"
        return False

    def read_wait(self, directory, pid, record):
        try:        # run time, time runnable but waiting, time slices: in ns
            schedstat = self.files.read(directory, pid, "schedstat")
            record.cpu_wait = int(schedstat.split()[1]) / 1e9
        except (OSError, ValueError, IndexError):     # no CONFIG_SCHED_INFO
            pass

    def read_fd_limit(self, directory, pid, record):
        """The soft limit on descriptors (anyone may read limits); None for unlimited."""
        try:
            limits = self.files.read(directory, pid, "limits")
            soft = limits[limits.index(b"\nMax open files") + 15:].split(None, 1)[0]
            record.fd_limit = int(soft) if soft.isdigit() else None
        except (OSError, ValueError):
            pass

    def read_wchan(self, directory, pid, task=""):
        """Where it sleeps in the kernel; None when running or hidden ("0")."""
        try:
            wchan = decode(self.files.read(directory, pid, task + "wchan", 256).strip())
        except OSError:
            return None
        return None if wchan in ("", "0") else wchan

    def read_smaps(self, directory, pid, record):
        """Proportional memory from smaps_rollup, which walks every page table."""
        try:
            rollup = self.files.read(directory, pid, "smaps_rollup", 8192)
            record.proportional_resident_bytes = number_after(rollup, b"\nPss:", 0) * 1024
            if b"\nSwapPss:" in rollup:
                record.proportional_swapped_bytes = number_after(rollup, b"\nSwapPss:", 0) * 1024
        except (OSError, ValueError) as exc:
            return failure_reason(exc) == "permission_denied"
        return False

    # A process's context switches are its threads': status counts one thread (the
    # main one in /proc/<pid>/status), and a thread's counts leave with it.

    def switches(self, directory, pid, known, threads, leader_switches):
        """Context switches of every thread, gone ones too; (None, None) if untold."""
        if leader_switches is None:
            return None, None
        if threads > 1:
            return sum_switches(known, self.thread_switches(directory, pid, leader_switches))
        last = known.thread_switches.get(pid)
        if len(known.thread_switches) == 1 and last is not None and \
                not went_down(leader_switches, last):
            # One thread, the same as last time: nothing gone (the common case, made cheap)
            known.thread_switches[pid] = leader_switches
            gone = known.gone_switches
            return gone[0] + leader_switches[0], gone[1] + leader_switches[1]
        return sum_switches(known, {pid: leader_switches})

    def thread_switches(self, directory, pid, leader_switches):
        """{tid: (voluntary, nonvoluntary)} for each thread alive now."""
        current = {pid: leader_switches}
        try:
            tids = os.listdir(directory + "task")
        except OSError:
            return current
        for tid in tids:
            if tid.isdigit() and int(tid) != pid:
                try:
                    status = self.files.read(directory, pid, "task/%s/status" % tid, 16384)
                    switches = status_switches(status)
                except (OSError, ValueError):
                    continue            # it ended while we looked
                if switches is not None:
                    current[int(tid)] = switches
        return current

    def read_threads(self, directory, pid, known):
        """Each thread (--threads); one that ends meanwhile is left out."""
        threads = []
        try:
            tids = os.listdir(directory + "task")
        except OSError:
            return None
        ticks = self.clock_ticks
        for tid in tids:
            if not tid.isdigit():
                continue
            task = "task/%s/" % tid
            try:
                name, columns = split_stat(self.files.read(directory, pid, task + "stat"))
                thread = Thread(int(tid), decode(name),
                                int(columns[STAT_UTIME]) / ticks,
                                int(columns[STAT_STIME]) / ticks,
                                major_faults=int(columns[STAT_MAJFLT]),
                                minor_faults=int(columns[STAT_MINFLT]))
            except (OSError, ValueError, IndexError):
                continue
            switches = known.thread_switches.get(int(tid))
            if switches is not None:
                thread.voluntary_switches, thread.nonvoluntary_switches = switches
            try:        # another user's needs root
                io = self.files.read(directory, pid, task + "io")
                thread.read_bytes = number_after(io, b"\nread_bytes:")
                thread.written_bytes = number_after(io, b"\nwrite_bytes:")
            except (OSError, ValueError):
                pass
            if self.with_wchan:
                thread.wchan = self.read_wchan(directory, pid, task)
            threads.append(thread)
        return threads

    def effective_ids(self, pid, directory, stat_owner, columns, known):
        """Effective uid and gid: the owner of /proc/<pid>'s files, unless root (a
        process not dumpable has root's); a kernel thread is root; else status's,
        trusted for STATUS_RECHECK_SECONDS."""
        if stat_owner.st_uid or stat_owner.st_gid:
            return stat_owner.st_uid, stat_owner.st_gid
        if int(columns[STAT_FLAGS]) & PF_KTHREAD:
            return 0, 0
        if known.checked_at is None or self._now - known.checked_at >= STATUS_RECHECK_SECONDS:
            status = self.files.read(directory, pid, "status", 16384)
            known.uid, known.gid, _, _ = parse_status(status)
            known.checked_at = self._now
        return known.uid, known.gid


def boot_second(procfs):
    """/proc/stat's btime: the boot's wall-clock time in whole seconds."""
    for line in read_regular_file(os.path.join(procfs, "stat")).splitlines():
        words = line.split()
        if words[:1] == [b"btime"] and len(words) == 2 and words[1].isdigit():
            return int(words[1])
    raise OSError("no boot time in %s" % procfs)


def number_after(text, label, column=None):
    """The number after `label` in /proc text: the rest of its line, or its column."""
    start = text.index(label) + len(label)
    end = text.index(b"\n", start)
    return int(text[start:end] if column is None else text[start:end].split()[column])


def parse_status(status):
    """Effective uid and gid, this thread's (voluntary, nonvoluntary) switches and
    VmSwap in bytes (each None where not told), found in this order."""
    start = status.index(b"\nUid:") + 5
    end = status.index(b"\n", start)
    uid = int(status[start:end].split()[1])
    start = status.index(b"\nGid:", end) + 5
    end = status.index(b"\n", start)
    gid = int(status[start:end].split()[1])
    swapped = None
    start = status.find(b"\nVmSwap:", end)
    if start >= 0:
        end = status.index(b"\n", start + 8)
        swapped = int(status[start + 8:end].split()[0]) * 1024
    return uid, gid, status_switches(status, end), swapped


def status_switches(status, after=0):
    """A thread's (voluntary, nonvoluntary) switches from status, or None."""
    start = status.find(b"\nvoluntary_ctxt_switches:", after)
    if start < 0:
        return None
    end = status.index(b"\n", start + 25)
    other = status.index(b"\nnonvoluntary_ctxt_switches:", end) + 28
    return int(status[start + 25:end]), int(status[other:status.index(b"\n", other)])


def sum_switches(known, current):
    """The (voluntary, nonvoluntary) switches of the threads alive now (`current`, {tid:
    counts}) and of those gone; a tid whose counts went down is a new thread."""
    gone_voluntary, gone_nonvoluntary = known.gone_switches
    for tid, last in known.thread_switches.items():
        now = current.get(tid)
        if now is None or went_down(now, last):
            gone_voluntary += last[0]
            gone_nonvoluntary += last[1]
    known.gone_switches = (gone_voluntary, gone_nonvoluntary)
    known.thread_switches = current
    return (gone_voluntary + sum(counts[0] for counts in current.values()),
            gone_nonvoluntary + sum(counts[1] for counts in current.values()))


def fd_dir_size_counts(procfs):
    """Whether fd/'s size counts descriptors (Linux 6.2+), checked on our own."""
    own = os.path.join(procfs, "self", "fd")
    try:
        size = os.stat(own).st_size
        return size > 0 and abs(size - len(os.listdir(own))) <= 1
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Selecting: rules, what their regexes may cost, filters and --top
# ---------------------------------------------------------------------------

class UserNames:
    """uid -> user name through pwd (so NSS and directory users resolve), cached; a
    uid with no name stays a number, as `ps` shows it."""

    def __init__(self):
        self._names = {}

    def __call__(self, uid):
        name = self._names.get(uid)
        if name is None:
            import pwd
            try:
                # pwd decodes with surrogate escapes: a name that is not UTF-8 would
                # fail the exposition's encoding.  Mend it as the kernel's bytes are.
                name = decode(os.fsencode(pwd.getpwuid(uid).pw_name))
            except (KeyError, OverflowError):
                name = str(uid)
            self._names[uid] = name
        return name


class Remembered:
    """A question about a process, answered once while what it depends on stays (exec
    changes name and path): a path crafted to make a regex slow costs once, not every
    scrape."""

    depends_on = ("pid", "start_time", "name", "path")

    def __init__(self, question):
        self.question = question
        self._key = operator.attrgetter(*self.depends_on)
        self._last = {}
        self._now = {}

    def __call__(self, record):
        key = self._key(record)
        try:
            return self._now[key]
        except KeyError:
            pass
        answer = self._last[key] if key in self._last else self.question(record)
        self._now[key] = answer
        return answer

    def next_scrape(self):
        self._last, self._now = self._now, {}


# The fields a rule (--include, --exclude, --group) may name: `FIELD:REGEX`.
RULE_FIELDS = ("name", "path", "cmdline", "user")


def split_rule(text):
    """A rule as (field or None for name-or-path, regex); a ValueError for a stranger."""
    prefix = re.match(r"([a-z]+):", text)
    if prefix is None:
        return None, text
    if prefix.group(1) not in RULE_FIELDS:
        raise ValueError("unknown field %r in %r: there are %s (a name or path with a "
                         "colon: write it as \\:)"
                         % (prefix.group(1), text, ", ".join(RULE_FIELDS)))
    return prefix.group(1), text[prefix.end():]


class Rule:
    """A regex on a process's name or else path, or (prefixed) its path, cmdline or user
    alone; what is not known matches nothing.  A long text is searched in its first
    `reach` characters (see regex_reach)."""

    __slots__ = ("field", "regex", "reach")

    def __init__(self, text):
        self.field, pattern = split_rule(text)
        self.regex = re.compile(pattern)
        self.reach = regex_reach(pattern)

    def search(self, record, user_names):
        """The match object, or None."""
        field = self.field
        if field is None:
            return self._search(record.name) or self._search(record.path)
        if field == "user":
            value = user_names(record.uid) if record.uid != "" else None
        else:
            value = getattr(record, field)
        return None if value is None else self._search(value)

    def _search(self, text):
        return self.regex.search(text if len(text) <= self.reach else text[:self.reach])


# Python's regexes backtrack, and any local user chooses the names, paths and
# command lines they run against.  What one search may cost, in steps of the engine
# (some tens of milliseconds): a regex that could cost more on a long text searches
# its start.
REGEX_STEPS = 4 * 10 ** 6
VARIABLE = 16        # a repeat whose count may vary by more than this costs per character


def regex_reach(pattern):
    """How many characters the regex may search within REGEX_STEPS: about n ** degree
    steps on n characters, a factor for each repeat that may give back and retry, one
    more unanchored.  Exponential backtracking (a repeat in a repeat, ambiguous
    alternation) is a ValueError: no length is safe."""
    try:
        from re import _parser as sre_parse
    except ImportError:                              # Python < 3.11
        import sre_parse
    parsed = sre_parse.parse(pattern)
    items = list(parsed)
    first = items[0] if items else (None, None)
    anchored = first[0] is sre_parse.AT and str(first[1]) in (
        "AT_BEGINNING", "AT_BEGINNING_STRING") and not parsed.state.flags & re.MULTILINE
    degree = (0 if anchored else 1) + _repeat_factors(items, sre_parse, 0)
    return REGEX_STEPS if degree <= 1 else int(REGEX_STEPS ** (1.0 / degree))


def _repeat_factors(items, sre_parse, depth, followed=False):
    """The factors of n the repeats among parsed items cost; `followed`: the pattern
    goes on after them."""
    if depth > 50:
        raise ValueError("nested more than 50 deep")
    factors = 0
    for i, (op, av) in enumerate(items):
        name = str(op)
        rest = followed or i + 1 < len(items)       # a repeat last of all gives nothing back
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = av
            body = list(body)
            variable = high == sre_parse.MAXREPEAT or high - low > VARIABLE
            if high > 1 and _varies(body, sre_parse):
                raise ValueError("a repeat inside a repeat can take time exponential in "
                                 "the length of the text")
            if variable and high > 1 and _ambiguous_body(body):
                raise ValueError("a repeated alternation whose branches can match the "
                                 "same text can take exponential time")
            if variable and rest and name != "POSSESSIVE_REPEAT" \
                    and not _rescans_nothing(items, i, av):
                factors += 1
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            body = av[-1] if name == "SUBPATTERN" else av
            factors += _repeat_factors(list(body), sre_parse, depth + 1, rest)
        elif name == "BRANCH":
            factors += max(_repeat_factors(list(branch), sre_parse, depth + 1, rest)
                           for branch in av[1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            factors += _repeat_factors(list(av[1]), sre_parse, depth + 1, True)
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            factors += 1          # a backreference compares up to n characters
    return factors


def _varies(items, sre_parse):
    """Whether parsed items match texts of many lengths (exponential when repeated)."""
    for op, av in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            if av[1] == sre_parse.MAXREPEAT or av[1] - av[0] > VARIABLE or \
                    _varies(list(av[2]), sre_parse):
                return True
        elif name == "SUBPATTERN" and _varies(list(av[-1]), sre_parse):
            return True
        elif name == "BRANCH" and any(_varies(list(branch), sre_parse) for branch in av[1]):
            return True
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            return True
    return False


def _ambiguous_body(body):
    """Whether a repeated body's alternation could match a text two ways: anything but
    distinct plain words, none a prefix of another."""
    for op, av in body:
        if str(op) == "SUBPATTERN":
            return _ambiguous_body(list(av[-1]))
        if str(op) == "BRANCH":
            words = []
            for branch in av[1]:
                if not branch or any(str(item_op) != "LITERAL" for item_op, _ in branch):
                    return True
                words.append("".join(chr(code) for _, code in branch))
            return any(a != b and b.startswith(a) or a == b and i != j
                       for i, a in enumerate(words) for j, b in enumerate(words))
    return False


def _rescans_nothing(items, i, repeat):
    """Whether a one-class repeat after a literal it cannot match (-jar\\s+) scans each
    stretch of text once in a whole search."""
    low, high, body = repeat
    body = list(body)
    if i == 0 or str(items[i - 1][0]) != "LITERAL" or len(body) != 1:
        return False
    before = chr(items[i - 1][1])
    op, av = body[0]
    name = str(op)
    if name == "LITERAL":
        return chr(av) != before
    if name == "NOT_LITERAL":
        return chr(av) == before
    if name != "IN":
        return False                  # ANY, and what else there is: it may match
    matched, negated = False, False
    for item_op, item_av in av:
        kind = str(item_op)
        if kind == "NEGATE":
            negated = True
        elif kind == "LITERAL":
            matched = matched or chr(item_av) == before
        elif kind == "RANGE":
            matched = matched or item_av[0] <= ord(before) <= item_av[1]
        elif kind == "CATEGORY":
            category = str(item_av)
            test = {"CATEGORY_DIGIT": str.isdecimal, "CATEGORY_SPACE": str.isspace,
                    "CATEGORY_WORD": lambda c: c.isalnum() or c == "_"}.get(
                category.replace("_NOT", ""))
            if test is None:
                return False
            matched = matched or test(before) != ("_NOT_" in category)
        else:
            return False
    return matched == negated


def checked_regex(text):
    """A regex Python compiles and whose cost an outsider cannot make explode."""
    try:
        re.compile(text)
        regex_reach(text)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        raise ValueError("bad regex %r: %s" % (text, exc)) from None
    return text


def needs_cmdline(rules):
    return any(split_rule(text)[0] == CMDLINE for text in rules)


class RememberedMatch(Remembered):
    """A rule's answer, asked again for another user or a first command line."""

    depends_on = Remembered.depends_on + ("uid", "cmdline")


def remembered_match(question, rules):
    """Remembered, or RememberedMatch where a rule looks at the user or command line."""
    if any(rule.field in ("user", CMDLINE) for rule in rules):
        return RememberedMatch(question)
    return Remembered(question)


class Filter:
    """Which processes to export: --include, --exclude (Rules), --user."""

    def __init__(self, include=(), exclude=(), uids=(), user_names=None):
        self.include = [Rule(text) for text in include]
        self.exclude = [Rule(text) for text in exclude]
        self.uids = frozenset(uids)
        self.user_names = user_names or UserNames()
        self._selected = remembered_match(self._selected_by_patterns, self.include + self.exclude)

    def __bool__(self):
        return bool(self.include or self.exclude or self.uids)

    def keeps(self, record):
        if self.uids and record.uid not in self.uids:
            return False
        return self._selected(record)

    def _selected_by_patterns(self, record):
        if self.include and not matches_any(self.include, record, self.user_names):
            return False
        return not matches_any(self.exclude, record, self.user_names)

    def apply(self, records):
        if not self:
            return records
        kept = [record for record in records if self.keeps(record)]
        self._selected.next_scrape()
        return kept


def matches_any(rules, record, user_names):
    return any(rule.search(record, user_names) for rule in rules)


class OtherProcesses(Process):
    """--top's rest, summed, labelled pid="other" alone: no process_info, no start time."""

    __slots__ = ()
    info = None

    def __init__(self):
        Process.__init__(self, "other", "", "", "", "", "")


class TopConsumers:
    """--top=N: series for the N processes using the most CPU since the last scrape and
    the N largest in memory; the rest summed, its counters by a Ledger, which a reload
    keeps."""

    REST = "rest"

    def __init__(self, count, families):
        self.count = count
        self.ledger = Ledger(fields_with(type="counter"))
        self._cpu = [self.ledger.fields.index(field) for field in ("cpu_user", "cpu_system")]
        # Gauges with a label from the data (process_state) are no number to sum.
        self.gauges = sorted({attribute for family in families
                              if family.type == "gauge" and not family.identity
                              and family.each is None
                              for attribute in family.fields} - {"start_time"})

    def inherit(self, older):
        """Keep an older TopConsumers' sums (a reload), so that they never go down."""
        self.ledger = older.ledger

    def select(self, records):
        """The top records, and the rest as one OtherProcesses at the end."""
        top = self._heaviest(records)
        totals, _ = self.ledger.update(
            ((record.pid, record.start_time), None if record.pid in top else self.REST, record)
            for record in records)
        rest = OtherProcesses()
        for field, total in zip(self.ledger.fields, totals.get(self.REST) or ()):
            setattr(rest, field, total)
        for record in records:
            if record.pid not in top:
                for field in self.gauges:
                    value = getattr(record, field)
                    if value is not None:
                        setattr(rest, field, (getattr(rest, field) or 0) + value)
        return [record for record in records if record.pid in top] + [rest]

    def _heaviest(self, records):
        """Pids of the N top CPU users since the last scrape, and the N largest."""
        members, (user, system) = self.ledger.members, self._cpu

        def cpu_since(record):
            now = (record.cpu_user or 0) + (record.cpu_system or 0)
            entry = members.get((record.pid, record.start_time))
            return now if entry is None else \
                now - ((entry[2][user] or 0) + (entry[2][system] or 0)) / 1e9
        by_cpu = sorted(records, key=cpu_since, reverse=True)[:self.count]
        by_memory = sorted((record for record in records if record.resident_bytes),
                           key=lambda record: record.resident_bytes, reverse=True)[:self.count]
        return {record.pid for record in by_cpu + by_memory}


# ---------------------------------------------------------------------------
# Counters: sums over processes that come, go and move between groups
# ---------------------------------------------------------------------------

def add_used(sums, bucket, base, last):
    """Add what a member used in a bucket (last less base) to sums[bucket]."""
    used = [None if v is None else v - b for v, b in zip(last, base)]
    total = sums.get(bucket)
    sums[bucket] = used if total is None else [
        t if v is None else v if t is None else t + v for t, v in zip(total, used)]


# Counters read as fractions (seconds, joules): a Ledger keeps them in billionths.
FRACTIONAL = frozenset(fields_with(type="counter", unit="s") + fields_with(unit="J"))


class Ledger:
    """Counters per bucket (a group, a group's thread name, --top's rest) over members
    that come, go and move.  A member counts in a bucket what it used there, which stays
    when it leaves; in integers (see values) and never_lower, no total goes down.  A
    member missing one scrape is the same when back; `replaced(values, last)` says a key
    names another."""

    def __init__(self, fields, replaced=None):
        self.fields = tuple(fields)
        self.width = len(self.fields)
        self._get = operator.attrgetter(*self.fields)
        self._fractions = [i for i, field in enumerate(self.fields) if field in FRACTIONAL]
        self.replaced = replaced
        self.members = {}        # key -> [bucket, base, last, ever in a bucket]
        self.left = {}           # bucket -> what the members that left it used there
        self._away = {}          # key -> entry of a member missing since the last scrape

    def values(self, item):
        """An item's counters in integers (fractions in billionths): exact in any order."""
        values = list(self._get(item))
        for i in self._fractions:
            if values[i] is not None:
                values[i] = round(values[i] * 1e9)
        return values

    def update(self, entries):
        """Take this scrape's (key, bucket or None, item); return {bucket: totals} and
        {bucket: members in a bucket for the first time}."""
        previous, away, self._away = self.members, self._away, {}
        members, arrivals = {}, {}
        for key, bucket, item in entries:
            values = self.values(item)
            entry = previous.pop(key, None)
            if entry is None:
                entry = away.pop(key, None)
                if entry is not None:        # what it used before is with its bucket
                    entry[1] = entry[2]
            if entry is not None and self.replaced and self.replaced(values, entry[2]):
                self._leave(entry)
                entry = None
            if entry is None:
                entry = [None, [0] * self.width, values, False]
            else:
                values = never_lower(values, entry[2])
                if entry[0] != bucket:
                    self._leave(entry)
                    entry[1] = entry[2]
                if None in entry[1]:         # a number first known now counts from now
                    entry[1] = [v if b is None else b for b, v in zip(entry[1], values)]
                entry[2] = values
            entry[0] = bucket
            if bucket is not None and not entry[3]:
                entry[3] = True
                arrivals[bucket] = arrivals.get(bucket, 0) + 1
            members[key] = entry
        for key, entry in previous.items():
            self._leave(entry)
            self._away[key] = entry
        self.members = members
        return self.totals(), arrivals

    def totals(self):
        """{bucket: its counters}, fractions back in their units."""
        totals = dict(self.left)
        for bucket, base, last, _ in self.members.values():
            if bucket is not None:
                add_used(totals, bucket, base, last)
        for bucket, sums in totals.items():
            sums = totals[bucket] = list(sums)
            for i in self._fractions:
                if sums[i] is not None:
                    sums[i] /= 1e9
        return totals

    def _leave(self, entry):
        if entry[0] is not None:
            add_used(self.left, *entry[:3])

    def forget(self, buckets):
        for bucket in buckets:
            self.left.pop(bucket, None)

    def mark_all_arrived(self):
        """A reload: the members known now are not new to any group later."""
        for entry in list(self.members.values()) + list(self._away.values()):
            entry[3] = True


# ---------------------------------------------------------------------------
# Naming groups: --group names, the reference's process_names, --group-by app
# ---------------------------------------------------------------------------

# {name}, {path}, {user} or a named group of the rule's regex, in a --group name.
PLACEHOLDER = re.compile(r"\{(\w*)\}")
PLACEHOLDER_FIELDS = ("name", "path", "user")


def check_template(name, pattern):
    """A ValueError unless each brace in a --group name is a placeholder the rule fills."""
    regex = re.compile(split_rule(pattern)[1])
    if "{" in PLACEHOLDER.sub("", name) or "}" in PLACEHOLDER.sub("", name):
        raise ValueError("bad group name %r: braces only around a placeholder such as "
                         "{name}" % name)
    for field in PLACEHOLDER.findall(name):
        if field not in PLACEHOLDER_FIELDS and field not in regex.groupindex:
            raise ValueError("bad group name %r: no {%s} (there are {name}, {path}, "
                             "{user} and the regex's named groups)" % (name, field))


def filled_template(template, match, record, user_names):
    """A --group name filled in; None if a placeholder comes out empty."""
    captured = match.groupdict()

    def value(placeholder):
        field = placeholder.group(1)
        if field in captured:
            text = captured[field]
        elif field == "user":
            text = user_names(record.uid) if record.uid != "" else ""
        else:
            text = getattr(record, field)
        if not text:
            raise LookupError(field)
        return text
    try:
        return PLACEHOLDER.sub(value, template)
    except LookupError:
        return None


# --config.path: the reference exporter's process_names ---------------------

GO_TEMPLATE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
TEMPLATE_FIELD = re.compile(r"\.(Comm|ExeBase|ExeFull|Username|PID|StartTime|Cgroups)\Z|"
                            r"\.Matches\.(\w+)\Z")
# POSIX classes, which Go's regexes know inside brackets and Python's do not.
POSIX_CLASSES = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f",
                 "blank": " \\t", "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9",
                 "graph": "!-~", "lower": "a-z", "print": " -~", "space": "\\s",
                 "upper": "A-Z", "word": "\\w", "xdigit": "0-9A-Fa-f",
                 "punct": "!-/:-@\\[-`{-~"}


def go_regex(text):
    """A Go (RE2) regex in Python's spelling; a ValueError if Python cannot read it."""
    text = re.sub(r"\(\?<(?=\w+>)", "(?P<", text).replace("\\z", "\\Z")
    text = re.sub(r"\[:(\w+):\]", lambda match: POSIX_CLASSES.get(match.group(1),
                                                                 match.group()), text)
    return checked_regex(text)


def go_time(seconds, digits):
    """A time as Go prints a UTC time.Time, to `digits` decimals at most."""
    whole = int(seconds)
    fraction = ("%.*f" % (digits, seconds - whole))[2:].rstrip("0")
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(whole)) + \
        ("." + fraction if fraction else "") + " +0000 UTC"


def go_base(path):
    """Go's filepath.Base: the last element, trailing slashes dropped; "." for ""."""
    stripped = path.rstrip("/")
    return stripped.rpartition("/")[2] if stripped else ("/" if path else ".")


class ProcessNames:
    """One item of the reference exporter's process_names (--config.path): selectors
    that must all match, and a Go template naming the group.  Without a command line
    argv[0] is the process's name, as for the reference."""

    def __init__(self, item, where, procfs="/proc"):
        if not isinstance(item, dict):
            raise ValueError("%s: each of process_names is a mapping of name, comm, exe "
                             "and cmdline" % where)
        unknown = sorted(set(item) - {"name", "comm", "exe", "cmdline"})
        if unknown:
            raise ValueError("%s: unknown key %r in process_names (there are name, comm, "
                             "exe and cmdline)" % (where, unknown[0]))
        self.comm = self.strings(item, "comm", where)
        exe = self.strings(item, "exe", where)
        # As the reference keys them: by file name, the last entry of a name winning.
        self.exe = None if exe is None else {entry.rpartition("/")[2]: entry for entry in exe}
        try:
            self.cmdline = [(re.compile(pattern), regex_reach(pattern)) for pattern in
                            map(go_regex, self.strings(item, "cmdline", where) or ())]
        except ValueError as exc:
            raise ValueError("%s: %s" % (where, exc)) from None
        if self.comm is None and self.exe is None and not self.cmdline:
            raise ValueError("%s: an item of process_names needs comm, exe or cmdline" % where)
        self.template = item.get("name") or "{{.ExeBase}}"
        for field in GO_TEMPLATE.findall(self.template):
            if not TEMPLATE_FIELD.match(field):
                raise ValueError("%s: name %r: only {{.Comm}}, {{.ExeBase}}, {{.ExeFull}}, "
                                 "{{.Username}}, {{.PID}}, {{.StartTime}}, {{.Cgroups}} and "
                                 "{{.Matches.NAME}} are filled here" % (where, self.template))
        self.procfs = procfs

    def start_time(self, record):
        """The start as the reference prints it (Linux: btime plus ticks)."""
        try:
            stat = read_start_of("%s/%d/stat" % (self.procfs, record.pid), 4096)
            ticks = int(split_stat(stat)[1][STAT_STARTTIME])
            return go_time(boot_second(self.procfs) + ticks / os.sysconf("SC_CLK_TCK"), 2)
        except (OSError, ValueError, IndexError):
            return "" if record.start_time is None else go_time(record.start_time, 6)

    @staticmethod
    def strings(item, key, where):
        values = item.get(key)
        if values is None:
            return None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError("%s: %s takes a list of strings" % (where, key))
        return values

    def search(self, record, user_names):
        """The group's name for this process, or None if a selector does not match."""
        if self.comm is not None and not any(     # (a macOS name is longer than comm)
                entry == record.name or len(entry) >= 15 and record.name.startswith(entry)
                for entry in self.comm):
            return None
        has_argv = bool(record.cmdline)      # none: a kernel thread, or not readable
        if self.exe is not None:
            base = has_argv and go_base(record.argv0)
            entry = self.exe.get(base) if has_argv else None
            if entry is None or entry not in (base, record.argv0):
                return None
        matches = {}
        for regex, reach in self.cmdline:
            text = record.cmdline
            match = None if text is None else regex.search(text[:reach])
            if match is None:
                return None
            matches.update(match.groupdict(""))
        exe_full = record.argv0 if has_argv else record.name
        return GO_TEMPLATE.sub(lambda field: self.fill(field.group(1), record, exe_full,
                                                       matches, user_names), self.template)

    def fill(self, field, record, exe_full, matches, user_names):
        name = TEMPLATE_FIELD.match(field)
        if name.group(2) is not None:
            return matches.get(name.group(2), "<no value>")
        value = name.group(1)
        if value == "Comm":
            return record.name
        if value in ("ExeBase", "ExeFull"):
            return go_base(exe_full) if value == "ExeBase" else exe_full
        if value == "Username":
            return user_names(record.uid)
        if value == "PID":
            return str(record.pid)
        if value == "StartTime":
            return self.start_time(record)
        return "[%s]" % " ".join(      # Cgroups: their paths, as Go prints a list
            line.split(":", 2)[2] for line in read_cgroup(self.procfs, record.pid).splitlines()
            if line.count(":") >= 2)


# --group-by app ------------------------------------------------------------

MAX_BUNDLES = 4096        # app names remembered; any user can make bundles, so a cap
# A container's cgroup: docker-<id>.scope, cri-containerd-<id>.scope, libpod-<id>.scope
# (systemd's driver) or a bare <id> (cgroupfs: /docker/<id>, /kubepods/.../<id>).
CONTAINER_CGROUP = re.compile(r"(?:[a-z][a-z-]*-)?([0-9a-f]{64})(?:\.scope)?\Z")


def outermost_bundle(path):
    """The outermost NAME.app in an executable's path (a helper belongs to its app), or
    None; an app in a framework (Python.app) is no app of its own."""
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.endswith(".framework"):
            return None
        if len(part) > 4 and part.endswith(".app"):
            return "/".join(parts[:i + 1])
    return None


PLIST_BYTES = 262144          # an app's Info.plist is a few kilobytes
# Where no Info.plist is read, whoever owns the app: other volumes (a network mount
# can hang any call on it) and the folders macOS's privacy controls guard (reading
# there may be refused, or ask the person at the screen).
UNREAD_BUNDLES = re.compile(r"/(?:Volumes|Network)/|/Users/[^/]+/(?:Desktop|Documents|"
                            r"Downloads|Library/Mobile Documents)/")


def bundle_name(bundle, root=""):
    """An app's name, and whether final: its Info.plist's CFBundleDisplayName or
    CFBundleName, else the folder's.  The plist is read only as a regular file, not on a
    path UNREAD_BUNDLES names; one unreadable now may be read later."""
    import plistlib
    folder = bundle.rpartition("/")[2][:-4]
    if UNREAD_BUNDLES.match(bundle):
        return folder, True
    path = root + bundle + "/Contents/Info.plist"
    try:
        if not S_ISREG(os.lstat(path).st_mode):
            return folder, True
        data = read_regular_file(path, PLIST_BYTES, follow=False)
    except (OSError, ValueError):
        return folder, False
    try:
        info = plistlib.loads(data)
    except Exception:         # any user can write a bundle: nothing in one may crash us
        return folder, True
    if isinstance(info, dict):
        for key in ("CFBundleDisplayName", "CFBundleName"):
            name = info.get(key)
            if isinstance(name, str) and name.strip():
                return name, True
    return folder, True


# Interpreters whose programs are told apart by the script they run (--group-by app).
INTERPRETER = re.compile(r"(?:[Pp]ython|ruby|perl|node)[0-9.]*\Z")


def script_name(record):
    """The script an interpreter runs (its file name) or python -m's module: the first
    word after the interpreter that is no option; else None."""
    if not INTERPRETER.match(record.name) or not record.cmdline:
        return None
    words = record.cmdline.split(" ")[1:]
    for i, word in enumerate(words):
        if word in ("-m", "-M") and i + 1 < len(words):
            return words[i + 1] or None
        if word in ("-c", "-e", "--eval", "-"):
            return None
        if word and not word.startswith("-"):
            return word.rpartition("/")[2] or None
    return None


def read_cgroup(procfs, pid):
    """/proc/PID/cgroup, "" where it cannot be read."""
    try:
        return decode(read_start_of("%s/%s/cgroup" % (procfs, pid), 65536))
    except OSError:
        return ""


def cgroup_app(text):
    """The container (12 hex digits) or systemd unit a cgroup file names, or None: the
    v2 line first, then v1's systemd; under user.slice only a user's services."""
    ranked = []
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        rank = 0 if hierarchy == "0" and not controllers else \
            1 if controllers == "name=systemd" else 2
        ranked.append((rank, path))
    for _, path in sorted(ranked, key=lambda item: item[0]):
        parts = [part for part in path.split("/") if part]
        for part in reversed(parts):
            container = CONTAINER_CGROUP.match(part)
            if container:
                return container.group(1)[:12]
        if "user.slice" in parts:
            units = [part for part in parts
                     if part.endswith(".service") and not part.startswith("user@")]
        else:
            units = [part for part in parts if part.endswith((".service", ".scope"))]
        if units:
            return units[-1]
    return None


class AppNames:
    """--group-by app: the app bundle (macOS), the container or unit (Linux), else an
    interpreter's script, or None; `root` goes before bundle paths."""

    RETRY_SECONDS = 600.0     # a plist that could not be read is tried again after this

    def __init__(self, platform=None, procfs="/proc", root="", clock=time.monotonic):
        self.on_mac = (platform or sys.platform) == "darwin"
        self.procfs = procfs
        self.root = root
        self.clock = clock
        self._bundles = {}      # bundle path -> (app name, when to read it again or None)

    def __call__(self, record):
        return (self.bundle_app(record.path) if self.on_mac else self.unit(record.pid)) \
            or script_name(record)

    def unit(self, pid):
        return cgroup_app(read_cgroup(self.procfs, pid))

    def bundle_app(self, path):
        bundle = outermost_bundle(path)
        if bundle is None:
            return None
        name, again = self._bundles.get(bundle, (None, 0.0))
        if again is not None and self.clock() >= again:
            if len(self._bundles) >= MAX_BUNDLES:
                self._bundles.clear()
            name, final = bundle_name(bundle, self.root)
            self._bundles[bundle] = (name, None if final else self.clock() + self.RETRY_SECONDS)
        return name


# ---------------------------------------------------------------------------
# Groups, and the counters they keep across exits
# ---------------------------------------------------------------------------

# What a group sums over its members.  Counters keep what exited members used;
# gauges are the live members' sum; the start time is the oldest.
GROUP_COUNTERS = fields_with(type="counter", groups="groups")
GROUP_GAUGES = fields_with(type="gauge", groups="groups")
# --group-by name puts every Linux kernel thread here by default (--kernel-threads).
KERNEL_THREADS_GROUP = "kernel threads"


def fd_ratio(record):
    if record.open_fds is None or not record.fd_limit:
        return None
    return record.open_fds / record.fd_limit


def combined(combine, values, zero):
    """combine() of the values known; none known: 0 if `zero`, else None."""
    values = [value for value in values if value is not None]
    return combine(values) if values else (0 if zero else None)


class Group:
    """One group's numbers in a scrape, named as a Process's.  An empty group has 0 for
    the gauges some process had (`known`): a dashboard draws a zero line, not a gap."""

    def __init__(self, name, members, counters, known=frozenset(), states_told=STATES,
                 joins=None, threads=None):
        self.name = name
        self.num_procs = len(members)
        self.partial = sum(member.partial for member in members)
        self.joins = joins
        for field, value in zip(GROUP_COUNTERS, counters):
            setattr(self, field, value)
        empty = not members
        for field in GROUP_GAUGES:
            setattr(self, field, combined(sum, map(operator.attrgetter(field), members),
                                          empty and field in known))
        self.worst_fd_ratio = combined(max, map(fd_ratio, members), empty and "fd_limit" in known)
        starts = [m.start_time for m in members if m.start_time is not None]
        self.start_time = min(starts) if starts else None
        self._count_states(members, states_told)
        self.wchans = self._count_wchans(members)
        self.threads_by_name = threads or {}

    def _count_states(self, members, states_told):
        states = [m.state for m in members if m.state is not None]
        for state in STATES:
            told = state in states_told and (states or not members)
            setattr(self, "state_" + state.lower(), states.count(state) if told else None)

    @staticmethod
    def _count_wchans(members):
        """Threads waiting in each kernel function (each thread's with --threads)."""
        wchans = {}
        for member in members:
            where = [t.wchan for t in member.thread_list] if member.thread_list else [member.wchan]
            for wchan in where:
                if wchan is not None:
                    wchans[wchan] = wchans.get(wchan, 0) + 1
        return wchans


class ThreadTotals:
    """The threads of one name in one group: how many live, and their counters."""

    def __init__(self, count, values):
        self.count = count
        for field, value in zip(THREAD_COUNTERS, values):
            setattr(self, field, value)


# However many groups come and go, at most this many empty ones are remembered, and
# as many thread names under which no thread lives now.
MAX_EMPTY_GROUPS = 1000
MAX_IDLE_THREAD_NAMES = 1000


class Grouper:
    """Puts processes into named groups, whose counters never go down
    (docs/groups-and-programs.md): the first declared group that matches, else the
    --group-by key's, else the nearest grouped ancestor's.  Ledgers count what each
    process and thread name used in each group; a group empty for `expiry` seconds is
    forgotten, a declared one never."""

    def __init__(self, group_by=None, declared=(), children=True, expiry=300.0,
                 user_names=None, kernel_threads="group", app_names=None, process_names=()):
        self.group_by = group_by
        self.declared = [(name, Rule(pattern)) for name, pattern in declared]
        self.process_names = list(process_names)      # --config.path, after --group
        # Groups exported even when empty, and never forgotten: those of fixed name.
        self.fixed_names = {name for name, _ in self.declared if not PLACEHOLDER.search(name)}
        self.children = children
        self.expiry = expiry
        self.user_names = user_names or UserNames()
        self.kernel_threads = kernel_threads
        self._declared_group = RememberedMatch(self._first_declared_match) \
            if self.process_names else remembered_match(self._first_declared_match,
                                                        [rule for _, rule in self.declared])
        # An interpreter's app is its script: asked again once its command line is known.
        self._app = RememberedMatch(app_names or AppNames()) if group_by == "app" else None
        self.ledger = Ledger(GROUP_COUNTERS)      # every process read, by group
        # By (group, thread name); a thread whose CPU time went down is another thread.
        self.thread_ledger = Ledger(THREAD_COUNTERS,
                                    lambda values, last: went_down(values[:2], last[:2]))
        self.empty_since = {}   # group -> when it last lost its last member
        self.joins = {}         # group -> processes that joined it after the first scrape
        self.scrapes = 0

    def own_group(self, record):
        """The group a process names by itself, or None."""
        if self.declared or self.process_names:
            declared = self._declared_group(record)
            if declared is not None:
                return declared
        if record.kernel_thread and self.group_by in ("name", "app") \
                and self.kernel_threads != "name":   # kworkers' names churn
            return KERNEL_THREADS_GROUP if self.kernel_threads == "group" else None
        if self.group_by == "name":
            return record.name or None
        if self.group_by == "path":
            return record.path or None
        if self.group_by == "user":
            return self.user_names(record.uid)
        if self._app is not None:
            return self._app(record) or record.name or None
        return None

    def _first_declared_match(self, record):
        for name, rule in self.declared:
            match = rule.search(record, self.user_names)
            if match is not None:
                if name in self.fixed_names:
                    return name
                name = filled_template(name, match, record, self.user_names)
                if name:
                    return name
        for item in self.process_names:
            name = item.search(record, self.user_names)
            if name is not None:         # "" too: the reference exports groupname=""
                return name
        return None

    def assign(self, records, everyone=None):
        """{group: [records]} for the records; ancestors are looked up in `everyone`."""
        everyone = records if everyone is None else everyone
        by_pid = {record.pid: record for record in everyone}
        own = {}
        inherited = {}      # pid -> the group it passes on to its children, this scrape

        def group_of(record):
            if record.pid not in own:
                own[record.pid] = self.own_group(record)
            return own[record.pid]

        groups = {}
        for record in records:
            group = group_of(record)
            if group is None and self.children:
                group = self.inherited_group(record, by_pid, group_of, inherited)
            if group is not None:
                groups.setdefault(group, []).append(record)
        self._declared_group.next_scrape()
        if self._app is not None:
            self._app.next_scrape()
        return groups

    @staticmethod
    def inherited_group(record, by_pid, group_of, inherited):
        """The group of the nearest grouped ancestor, or None; remembered for each
        process passed, so a chain costs its length once."""
        chain, seen = [record.pid], {record.pid}
        group = None
        parent = by_pid.get(record.ppid)
        while parent is not None and parent.pid not in seen:
            if parent.pid in inherited:
                group = inherited[parent.pid]
                break
            group = group_of(parent)
            if group is not None:
                break
            chain.append(parent.pid)
            seen.add(parent.pid)
            parent = by_pid.get(parent.ppid)
        for pid in chain:
            inherited[pid] = group
        return group

    def update(self, records, everyone=None, now=None, states_told=STATES):
        """This scrape's groups, by name.  The ledgers follow every process read
        (`everyone`), grouped or not, so that one moving into a group brings only what
        it uses from then on."""
        now = time.monotonic() if now is None else now
        assigned = self.assign(records, everyone)
        read = records if everyone is None else everyone
        # The gauges this platform gives, by whether any process read has them: an
        # empty group has 0 for those (any() stops at the first that has it).
        known = {field for field in GROUP_GAUGES + ("fd_limit",)
                 if any(getattr(record, field) is not None for record in read)}
        totals = self._count(assigned, read)
        threads = self._count_threads(assigned)
        names = set(assigned) | set(self.joins) | self.fixed_names     # joins: every known
        groups = []
        for name in sorted(names):
            live = assigned.get(name, [])
            if live:
                self.empty_since.pop(name, None)
            else:
                self.empty_since.setdefault(name, now)
            counters = totals.get(name)
            groups.append(Group(name, live, counters or [None] * len(GROUP_COUNTERS),
                                known, states_told,
                                self.joins.setdefault(name, 0), threads.get(name)))
        self.scrapes += 1
        forgotten = self._forget(now)
        return [group for group in groups if group.name not in forgotten]

    def _count(self, assigned, read):
        """Each group's counters from the ledger; joins for processes new to any group."""
        group_of = {record.pid: name for name, live in assigned.items() for record in live}
        totals, arrivals = self.ledger.update(
            ((record.pid, record.start_time), group_of.get(record.pid),
             record) for record in read)
        for name, count in arrivals.items():
            self.joins[name] = self.joins.get(name, 0) + (count if self.scrapes else 0)
        return totals

    def _count_threads(self, assigned):
        """{group: {thread name: ThreadTotals}} (--threads)."""
        entries, live = [], {}
        for name, members in assigned.items():
            for record in members:
                for thread in record.thread_list or ():
                    bucket = (name, thread.name)
                    live[bucket] = live.get(bucket, 0) + 1
                    entries.append(((record.pid, record.start_time, thread.tid), bucket, thread))
        if not entries and not self.thread_ledger.members:
            return {}
        totals, _ = self.thread_ledger.update(entries)
        self._bound_thread_names(live)
        threads = {}
        for (name, thread_name), count in live.items():
            threads.setdefault(name, {})[thread_name] = ThreadTotals(
                count, totals[name, thread_name])
        return threads

    def _bound_thread_names(self, live):
        """A thread name none lives under keeps its sums while its group lives,
        MAX_IDLE_THREAD_NAMES at most."""
        left = self.thread_ledger.left
        idle = [bucket for bucket in left if bucket not in live]
        self.thread_ledger.forget(idle[:max(0, len(idle) - MAX_IDLE_THREAD_NAMES)])

    def inherit(self, older):
        """Go on from an older Grouper's history (a reload): no counter starts again, no
        process known counts as a join."""
        self.ledger, self.thread_ledger = older.ledger, older.thread_ledger
        self.ledger.mark_all_arrived()
        self.empty_since, self.joins, self.scrapes = older.empty_since, older.joins, older.scrapes

    def _forget(self, now):
        """Drop groups empty past the expiry, and the oldest past the cap; return their
        names."""
        declared = self.fixed_names
        stale = [name for name, since in self.empty_since.items()
                 if name not in declared and now - since >= self.expiry]
        empty = sorted((since, name) for name, since in self.empty_since.items()
                       if name not in declared)
        stale.extend(name for _, name in empty[:max(0, len(empty) - MAX_EMPTY_GROUPS)])
        stale = set(stale)
        for name in stale:
            self.empty_since.pop(name, None)
            self.joins.pop(name, None)
        self.ledger.forget(stale)
        self.thread_ledger.forget([bucket for bucket in self.thread_ledger.left
                                   if bucket[0] in stale])
        return stale


# ---------------------------------------------------------------------------
# The metric families: one table, which the renderer and the README follow
# ---------------------------------------------------------------------------

class Family:
    """A metric family: name, type, help, and `samples`, pairs of a sample's extra
    labels and the attribute holding its value; or `each`, giving an item's (labels,
    value) pairs from the attributes `needs` names."""

    __slots__ = ("name", "type", "help", "samples", "default", "identity", "each", "needs")

    def __init__(self, name, type, help, samples=(), default=True, identity=False,
                 each=None, needs=()):
        self.name = name
        self.type = type
        self.help = help
        self.samples = samples
        self.default = default      # exported without --metrics
        self.identity = identity    # carries every identity label, whatever --labels says
        self.each = each
        self.needs = needs

    @property
    def fields(self):
        return {attribute for _, attribute in self.samples} | set(self.needs)


def one(attribute):
    return (("", attribute),)


# The context switches: split where the kernel splits them (Linux), else the sum.
SWITCH_SAMPLES = (('ctxswitchtype="voluntary"', "voluntary_switches"),
                  ('ctxswitchtype="nonvoluntary"', "nonvoluntary_switches"),
                  ("", "context_switches"))


def state_sample(record):
    return (('state="%s"' % record.state, 1),) if record.state else ()


PROCESS_FAMILIES = (
    Family("process_info", "gauge", "Always 1 for every process seen; its labels name it, even "
           "when the kernel refuses its numbers.", one("info"), identity=True),
    Family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in "
           "seconds.", one("start_time")),
    Family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in "
           "seconds.", (('mode="user"', "cpu_user"), ('mode="system"', "cpu_system"))),
    Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
           one("resident_bytes")),
    Family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
           one("virtual_bytes")),
    Family("process_memory_footprint_bytes", "gauge", "Physical footprint in bytes, the Memory "
           "column of Activity Monitor (macOS).", one("footprint_bytes")),
    Family("process_threads", "gauge", "Number of threads.", one("threads")),
    Family("process_open_fds", "gauge", "Number of open file descriptors.", one("open_fds")),
    Family("process_disk_read_bytes_total", "counter", "Bytes the process caused to be read from "
           "storage.", one("disk_read_bytes")),
    Family("process_disk_written_bytes_total", "counter", "Bytes the process caused to be written "
           "to storage.", one("disk_written_bytes")),
    Family("process_major_page_faults_total", "counter", "Page faults that needed to read from "
           "storage (macOS: page-ins).", one("major_faults")),
    Family("process_minor_page_faults_total", "counter", "Page faults served without reading from "
           "storage.", one("minor_faults")),
    Family("process_context_switches_total", "counter", "Context switches of every thread, by "
           "ctxswitchtype (Linux: voluntary, nonvoluntary); macOS gives only their sum, without "
           "the label.", SWITCH_SAMPLES),
    Family("process_state", "gauge", "1 for the state the process is in now (Running, Sleeping, "
           "Waiting, Zombie or Other), labelled state; one series per process.", each=state_sample,
           needs=("state",)),
    Family("process_instructions_total", "counter", "CPU instructions retired (macOS; absent "
           "where the CPU counters are not kept).", one("instructions")),
    Family("process_cycles_total", "counter", "CPU cycles (macOS; absent where the CPU counters "
           "are not kept).", one("cycles")),
    Family("process_energy_joules_total", "counter", "CPU energy the processor's performance "
           "controller estimates the process used, in joules (macOS 13 and later on Apple "
           "Silicon).", one("energy_joules")),
    # Only with --metrics: each costs a series per process that few dashboards need.
    Family("process_idle_wakeups_total", "counter", "Times the process woke an idle processor "
           "(macOS; Activity Monitor's Idle Wake Ups).", one("idle_wakeups"), default=False),
    Family("process_interrupt_wakeups_total", "counter", "Wakeups of the process caused by "
           "interrupts (macOS).", one("interrupt_wakeups"), default=False),
    Family("process_cpu_performance_seconds_total", "counter", "CPU time spent on performance "
           "cores, in seconds (macOS 13 and later on Apple Silicon; the rest of "
           "process_cpu_seconds_total ran on efficiency cores).",
           (('mode="user"', "cpu_user_performance"), ('mode="system"', "cpu_system_performance")),
           default=False),
    Family("process_cpu_wait_seconds_total", "counter", "Time the process was runnable but "
           "waiting for a CPU, in seconds (Linux: schedstat's run-queue delay; macOS: runnable "
           "time less CPU time).", one("cpu_wait"), default=False),
    Family("process_wired_memory_bytes", "gauge", "Wired memory, which cannot be paged out, in "
           "bytes (macOS).", one("wired_bytes"), default=False),
    Family("process_memory_footprint_peak_bytes", "gauge", "The largest physical footprint the "
           "process has had, in bytes (macOS).", one("footprint_peak_bytes"), default=False),
)

# The exporter's own families (rendered by render_self below); always exported.
SELF_FAMILIES = (
    Family("process_exporter_build_info", "gauge", "A metric with a constant '1' value labeled by "
           "version, python_version and platform from which process_exporter was built."),
    Family("process_exporter_scrape_duration_seconds", "gauge", "Time the last scrape took to "
           "read and render every process."),
    Family("process_exporter_processes", "gauge", "Processes exported in the last scrape."),
    Family("process_exporter_processes_partial", "gauge", "Processes exported in the last scrape "
           "without some of their numbers, because the kernel refused them (another user's "
           "process; run as root to read it all)."),
    Family("process_exporter_processes_skipped", "gauge", "Processes listed by the kernel but not "
           "exported in the last scrape, by reason."),
    Family("process_exporter_series", "gauge", "Series of the process or group families in this "
           "scrape (the exporter's own not counted): the cardinality it costs."),
)
# The exporter's own process, as every exporter's client library gives it, under its
# own prefix: process_* are the per-process families here.
HEALTH_FAMILIES = (
    Family("process_exporter_cpu_seconds_total", "counter", "CPU time the exporter itself has "
           "used, user and system, in seconds.", one("cpu_seconds")),
    Family("process_exporter_resident_memory_bytes", "gauge", "The exporter's own resident "
           "memory, in bytes.", one("resident_bytes")),
    Family("process_exporter_virtual_memory_bytes", "gauge", "The exporter's own virtual memory, "
           "in bytes.", one("virtual_bytes")),
    Family("process_exporter_open_fds", "gauge", "Descriptors the exporter has open.",
           one("open_fds")),
    Family("process_exporter_max_fds", "gauge", "The exporter's soft limit on open descriptors.",
           one("max_fds")),
    Family("process_exporter_start_time_seconds", "gauge", "When the exporter started, in seconds "
           "since the epoch.", one("start_time")),
)


# With --group-by or --group: the families of the Linux reference process exporter
# (ncabatoff/process-exporter), with its names, types, labels and label values, so
# that its Grafana dashboards work unchanged.
def wchan_samples(group):
    return [('wchan="%s"' % escape_label_value(wchan), count)
            for wchan, count in sorted(group.wchans.items())]


def thread_samples(*pairs):
    """An `each` giving, per thread name, a sample of each (extra labels, ThreadTotals
    attribute) pair known."""
    def samples(group):
        result = []
        for name, totals in sorted(group.threads_by_name.items()):
            label = 'threadname="%s"' % escape_label_value(name)
            for extra, attribute in pairs:
                value = getattr(totals, attribute)
                if value is not None:
                    result.append((label + ("," + extra if extra else ""), value))
        return result
    return samples


GROUP_FAMILIES = (
    Family("namedprocess_namegroup_num_procs", "gauge", "Number of processes in this group.",
           one("num_procs")),
    Family("namedprocess_namegroup_cpu_seconds_total", "counter", "CPU seconds used by the "
           "group's processes, exited ones included.",
           (('mode="user"', "cpu_user"), ('mode="system"', "cpu_system"))),
    Family("namedprocess_namegroup_memory_bytes", "gauge",
           "Memory of the group's processes, in bytes, by memtype (proportionalResident "
           "and proportionalSwapped with --gather-smaps).",
           (('memtype="resident"', "resident_bytes"), ('memtype="virtual"', "virtual_bytes"),
            ('memtype="swapped"', "swapped_bytes"),
            ('memtype="proportionalResident"', "proportional_resident_bytes"),
            ('memtype="proportionalSwapped"', "proportional_swapped_bytes"),
            ('memtype="footprint"', "footprint_bytes"))),
    Family("namedprocess_namegroup_oldest_start_time_seconds", "gauge", "Start time of the oldest "
           "process in the group since unix epoch in seconds.", one("start_time")),
    Family("namedprocess_namegroup_num_threads", "gauge", "Number of threads in the group's "
           "processes.", one("threads")),
    Family("namedprocess_namegroup_open_filedesc", "gauge", "Number of open file descriptors in "
           "the group's processes.", one("open_fds")),
    Family("namedprocess_namegroup_worst_fd_ratio", "gauge", "The worst (closest to 1) ratio "
           "between open descriptors and their soft limit among the group's processes.",
           one("worst_fd_ratio"), needs=("open_fds", "fd_limit")),
    Family("namedprocess_namegroup_read_bytes_total", "counter", "Bytes read from storage by the "
           "group's processes, exited ones included.", one("disk_read_bytes")),
    Family("namedprocess_namegroup_write_bytes_total", "counter", "Bytes written to storage by "
           "the group's processes, exited ones included.", one("disk_written_bytes")),
    Family("namedprocess_namegroup_major_page_faults_total", "counter", "Major page faults of the "
           "group's processes, exited ones included.", one("major_faults")),
    Family("namedprocess_namegroup_minor_page_faults_total", "counter", "Minor page faults of the "
           "group's processes, exited ones included.", one("minor_faults")),
    Family("namedprocess_namegroup_context_switches_total", "counter", "Context switches of the "
           "group's processes, exited ones included, by ctxswitchtype (Linux); macOS gives only "
           "their sum, without the label.", SWITCH_SAMPLES),
    Family("namedprocess_namegroup_states", "gauge", "Number of processes in states Running, "
           "Sleeping, Waiting, Zombie, or Other.",
           tuple(('state="%s"' % state, "state_" + state.lower()) for state in STATES),
           needs=("state",)),
    Family("namedprocess_namegroup_threads_wchan", "gauge", "Number of threads in this group "
           "waiting on each wchan (Linux, where the kernel shows it).", each=wchan_samples,
           needs=("wchan",)),
    Family("process_exporter_group_joins_total", "counter", "Processes that entered the group, "
           "and no group before, since the exporter's first scrape (a restart is one; a rename "
           "into it is not): this exporter's own, not a reference family.", one("joins")),
    # Only with --threads: per thread name, as the reference's -threads.
    Family("namedprocess_namegroup_thread_count", "gauge", "Number of threads in this group with "
           "the same threadname.", each=thread_samples(("", "count")), needs=("thread_list",),
           default=False),
    Family("namedprocess_namegroup_thread_cpu_seconds_total", "counter", "CPU user/system usage "
           "in seconds of the threads of this threadname.",
           each=thread_samples(('mode="user"', "cpu_user"), ('mode="system"', "cpu_system")),
           needs=("thread_list",), default=False),
    Family("namedprocess_namegroup_thread_io_bytes_total", "counter",
           "Bytes read/written by the threads of this threadname (Linux).",
           each=thread_samples(('iomode="read"', "read_bytes"),
                               ('iomode="write"', "written_bytes")),
           needs=("thread_list",), default=False),
    Family("namedprocess_namegroup_thread_major_page_faults_total", "counter", "Major page faults "
           "of the threads of this threadname (Linux).", each=thread_samples(("", "major_faults")),
           needs=("thread_list",), default=False),
    Family("namedprocess_namegroup_thread_minor_page_faults_total", "counter", "Minor page faults "
           "of the threads of this threadname (Linux).", each=thread_samples(("", "minor_faults")),
           needs=("thread_list",), default=False),
    Family("namedprocess_namegroup_thread_context_switches_total", "counter",
           "Context switches of the threads of this threadname (Linux).",
           each=thread_samples(('ctxswitchtype="voluntary"', "voluntary_switches"),
                               ('ctxswitchtype="nonvoluntary"', "nonvoluntary_switches")),
           needs=("thread_list",), default=False),
)
THREAD_FAMILIES = tuple(family.name for family in GROUP_FAMILIES if "thread_list" in family.needs)

# The reference's scrape counters, in group mode: its author's dashboards take their
# instance variable from them.  Counters since the exporter started.
GROUP_SCRAPE_FAMILIES = (
    Family("namedprocess_scrape_errors", "counter", "Scrapes that read no process at all (the "
           "listing failed)."),
    Family("namedprocess_scrape_procread_errors", "counter", "Processes listed but not read "
           "(refused or failed; not those that exited)."),
    Family("namedprocess_scrape_partial_errors", "counter", "Processes read without some of their "
           "numbers (refused, e.g. another user's I/O)."),
)


def select_families(names, table=PROCESS_FAMILIES):
    """The families of `table` named ('default': those exported without --metrics;
    'all'); a ValueError for a stranger."""
    names = set(["default"] if names is None else names)
    known = [family.name for family in table]
    unknown = sorted(names - set(known) - {"default", "all"})
    if unknown:
        raise ValueError("unknown metric %s; known here: default, all, %s"
                         % (", ".join(unknown), ", ".join(known)))
    return tuple(family for family in table if family.name in names or "all" in names
                 or ("default" in names and family.default))


def fields_of(families):
    """The Process fields the given families export: all a reader needs to read."""
    fields = set()
    for family in families:
        fields |= family.fields
    return fields


# ---------------------------------------------------------------------------
# Labels, and command lines with their secrets hidden
# ---------------------------------------------------------------------------

def escape_label_value(value):
    """Backslash, double quote and line feed are the three escapes the format knows."""
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


PROCESS_LABELS = ("pid", "ppid", "uid", "gid", "path", "name")


# --label cmdline: a command line as a label of process_info, its secrets hidden
# and cut to this many characters (then marked by CUT_MARK).
CMDLINE_LABEL_CHARS = 200
CUT_MARK = "..."
HIDDEN = "***"
# What in the name of an option or variable says its value is a secret.
SECRET_NAME = re.compile(
    r"password|passwd|passphrase|pwd|secret|token|api[-_]?key|apikey|access[-_]?key|"
    r"private[-_]?key|credential|cookie|pass(?:in|out)?(?![a-z0-9])|"
    r"(?:^|[-_.])key$", re.IGNORECASE)
NAME_AND_VALUE = re.compile(r"(-{1,2}[\w.-]+|[A-Za-z_][\w.-]*)=(.+)", re.DOTALL)
OPTION = re.compile(r"-{1,2}[\w.-]+\Z")
URL_PASSWORD = re.compile(r"([A-Za-z][\w+.-]*://[^/@\s:]*):[^@\s]*@")
QUERY_PARAMETER = re.compile(r"([?&;])([^=&;\s]+)=([^&;\s]+)")
# Options whose next argument is a secret by one program's convention.
SECRET_NEXT = {
    "curl": ("-u", "--user", "-U", "--proxy-user"),     # user:password: the password
    "redis-cli": ("-a",),
    "sshpass": ("-p",),
    "login": ("-p",),           # docker, podman, helm, nerdctl ... login -p
}


def hidden_query(match):
    name = match.group(2)
    return match.group(0) if not SECRET_NAME.search(name) else \
        "%s%s=%s" % (match.group(1), name, HIDDEN)


def hide_value(word):
    """A `user:password` keeps its user; anything else is hidden whole."""
    user, colon, _ = word.partition(":")
    return user + ":" + HIDDEN if colon and user else HIDDEN


def redacted_cmdline(cmdline):
    """A command line with its secrets hidden (README, "Command lines as labels"), cut
    to CMDLINE_LABEL_CHARS; words are what spaces part."""
    words = cmdline.split(" ")
    program = words[0].rpartition("/")[2]
    mysql = program.startswith(("mysql", "mariadb"))
    login_at = words.index("login") if "login" in words else len(words)
    hide_next = False
    for i, word in enumerate(words):
        lowered = word.lower()
        if hide_next:
            hide_next = lowered in ("bearer", "basic")       # the scheme; then the secret
            if hide_next or word and not word.startswith("--"):
                words[i] = word if hide_next else hide_value(word)
                continue
        named = NAME_AND_VALUE.match(word)
        if named and SECRET_NAME.search(named.group(1)):
            words[i] = named.group(1) + "=" + HIDDEN
        elif OPTION.match(word) and SECRET_NAME.search(word):
            hide_next = True
        elif word in SECRET_NEXT.get(program, ()) or (i > login_at
                                                      and word in SECRET_NEXT["login"]):
            hide_next = True
        elif mysql and word.startswith("-p") and len(word) > 2:
            words[i] = "-p" + HIDDEN                  # mysql -pSECRET; -p alone prompts
        elif program == "sshpass" and word.startswith("-p") and len(word) > 2:
            words[i] = "-p" + HIDDEN
        elif program == "curl" and word.startswith("-u") and len(word) > 2:
            words[i] = "-u" + hide_value(word[2:])
        elif lowered in ("bearer", "basic", "authorization:", "token") or \
                (i and words[i - 1] == "set" and SECRET_NAME.search(word)):
            hide_next = True                # a header's credentials; aws configure set
        else:
            word = URL_PASSWORD.sub("\\1:" + HIDDEN + "@", word)
            words[i] = QUERY_PARAMETER.sub(hidden_query, word)
    text = " ".join(words)
    if len(text) > CMDLINE_LABEL_CHARS:
        text = text[:CMDLINE_LABEL_CHARS] + CUT_MARK
    return text


def labeler(names, user_names=None):
    """A function giving a process's label text for these labels (user: its uid's name);
    cached per process by LabelCache."""
    template = ",".join('%s="%%s"' % name for name in names)

    def labels(record):
        values = []
        for name in names:
            if name == "user":
                value = user_names(record.uid) if record.uid != "" else ""
            elif name == "cmdline":
                cmdline = record.cmdline
                value = "" if cmdline is None else redacted_cmdline(cmdline)
            else:
                value = getattr(record, name)
            values.append(escape_label_value(value) if isinstance(value, str) else value)
        return template % tuple(values)
    return labels


# Every identity label a process has: process_info's, and the value series' unless
# --labels trims them.
process_labels = labeler(PROCESS_LABELS)


def group_labels(group):
    return 'groupname="%s"' % escape_label_value(group.name)


class LabelCache(Remembered):
    """A process's label text, built once while its labels stay the same."""

    depends_on = ("pid", "ppid", "uid", "gid", "name", "path")


# ---------------------------------------------------------------------------
# Rendering: the Prometheus text exposition format 0.0.4
# ---------------------------------------------------------------------------

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


SPECIAL_FLOATS = {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}


def format_value(value):
    """A value in full precision as Go's ParseFloat reads it: repr(), NaN and the
    infinities spelled Go's way."""
    text = repr(value)
    return SPECIAL_FLOATS.get(text, text) if text[-1] in "nf" else text


def family_header(family):
    return "# HELP %s %s\n# TYPE %s %s\n" % (
        family.name, escape_help(family.help), family.name, family.type)


def render_families(items, families, labels_of=process_labels, identity_labels_of=None):
    """Each family's text: one series per item (process or group), none for a family
    without values; process_info labelled by identity_labels_of."""
    labels = list(map(labels_of, items))
    identities = labels if identity_labels_of in (None, labels_of) else \
        list(map(identity_labels_of, items))
    for family in families:
        parts = [family_header(family)]
        if family.each is not None:
            start = family.name + "{"
            parts.extend("%s%s,%s} %s\n" % (start, label, extra, format_value(value))
                         for label, item in zip(labels, items)
                         for extra, value in family.each(item))
        for extra, attribute in family.samples:
            # This runs for every series of every scrape: an f-string (the quickest way
            # to build a line), its !r spelling a value as format_value does, but for
            # NaN and the infinities, mended after.
            start, end = family.name + "{", ("," + extra if extra else "") + "} "
            text = "".join([f"{start}{label}{end}{value!r}\n" for label, value in zip(
                identities if family.identity else labels,
                map(operator.attrgetter(attribute), items)) if value is not None])
            if "nan\n" in text or "inf\n" in text:
                text = re.sub(r"(?<=} )-?(nan|inf)$", lambda match: SPECIAL_FLOATS[
                    match.group()], text, flags=re.M)
            if text:
                parts.append(text)
        if len(parts) > 1:
            yield "".join(parts)


def render_self(processes, skipped, duration, partial=0, series=None, health=None):
    """The exporter's own families: what it is, how the last scrape went, and (given
    its Health) what it uses."""
    build, duration_family, count, partial_family, skipped_family, series_family = SELF_FAMILIES

    def single(family, value):
        return "%s%s %s\n" % (family_header(family), family.name, format_value(value))
    parts = [family_header(build), '%s{version="%s",python_version="%d.%d.%d",platform="%s"} 1\n'
             % ((build.name, escape_label_value(__version__)) + tuple(sys.version_info[:3])
                + (escape_label_value(sys.platform),)),
             single(duration_family, duration), single(count, int(processes)),
             single(partial_family, int(partial)), family_header(skipped_family)]
    parts += ['%s{reason="%s"} %d\n' % (skipped_family.name, reason, skipped.get(reason, 0))
              for reason in SKIP_REASONS]
    if series is not None:
        parts.append(single(series_family, int(series)))
    for family in HEALTH_FAMILIES if health is not None else ():
        value = getattr(health, family.samples[0][1])
        if value is not None:
            parts.append(single(family, value))
    return "".join(parts)


def render(records, skipped=None, duration=0.0, families=PROCESS_FAMILIES, partial=0):
    """The whole exposition for these records, ending in a newline."""
    return "".join(render_families(records, families)) + render_self(
        len(records), skipped or {}, duration, partial)


# ---------------------------------------------------------------------------
# One scrape: read, select, group, render
# ---------------------------------------------------------------------------

class Health:
    """The exporter's own process: its record among those read, and the system."""

    def __init__(self, records):
        import resource
        me = os.getpid()
        own = next((record for record in records if record.pid == me), None)
        times = os.times()
        self.cpu_seconds = times.user + times.system
        self.resident_bytes = own and own.resident_bytes
        self.virtual_bytes = own and own.virtual_bytes
        self.start_time = own and own.start_time
        try:
            self.open_fds = len(os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd")
                                           else "/dev/fd")) - 1     # less listdir's own
        except OSError:
            self.open_fds = None
        self.max_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if self.max_fds == resource.RLIM_INFINITY:
            self.max_fds = None


class Exporter:
    """One scrape: read, filter, then group, or leave out the youngest (--min-age) and
    sum all but the heaviest (--top); render.  Scrapes take turns."""

    def __init__(self, reader, families=PROCESS_FAMILIES, filter=None, grouper=None,
                 labels_of=process_labels, value_labels_of=None, min_age=0.0, top=None,
                 clock=time.time, fields=None):
        self.reader = reader
        self.fields = fields        # what the reader reads, for a reload to hand it
        self.families = families
        self.filter = filter or Filter()
        self.grouper = grouper
        self.min_age = min_age
        self.top = top
        self.clock = clock
        if grouper:
            self.labels_of, self.identity_labels_of = group_labels, None
        else:
            self.identity_labels_of = LabelCache(labels_of)
            self.labels_of = self.identity_labels_of if value_labels_of is None \
                else LabelCache(value_labels_of)
        self.last_count = 0
        self.last_duration = self.last_scrape_at = None     # for the landing page
        # The reference's scrape counters (group mode), since the exporter started.
        self.errors = dict.fromkeys((family.name for family in GROUP_SCRAPE_FAMILIES), 0)
        self._lock = threading.Lock()

    def select(self, records):
        """The items to export, how many processes they stand for, and how many of those
        are partial."""
        if self.min_age:
            now = self.clock()
            records = [record for record in records if record.start_time is None
                       or now - record.start_time >= self.min_age]
        partial = sum(record.partial for record in records)
        if self.top:
            return self.top.select(records), len(records), partial
        return records, len(records), partial

    def scrape_chunks(self):
        """The exposition as UTF-8 chunks, one per family, never held whole twice."""
        with self._lock:
            started = time.perf_counter()
            reader = self.reader
            try:
                everyone = reader.read()
            except Exception:
                self.errors["namedprocess_scrape_errors"] += 1
                raise
            records = self.filter.apply(everyone)
            if self.grouper:
                items = self.grouper.update(records, everyone, states_told=reader.states_told)
                exported = sum(group.num_procs for group in items)
                partial = sum(group.partial for group in items)
            else:
                items, exported, partial = self.select(records)
            self.last_count = len(everyone)
            chunks = [text.encode("utf-8") for text in render_families(
                items, self.families, self.labels_of, self.identity_labels_of)]
            for cache in {self.labels_of, self.identity_labels_of}:
                if isinstance(cache, LabelCache):
                    cache.next_scrape()
            series = sum(chunk.count(b"\n") - 2 for chunk in chunks)    # less HELP, TYPE
            duration = time.perf_counter() - started
            self.last_duration, self.last_scrape_at = duration, time.time()
            log("scraped %d processes, %d series, in %.1f ms"
                % (len(everyone), series, duration * 1e3), "debug")
            own = render_self(exported, reader.skipped, duration, partial, series,
                              Health(everyone))
            chunks.append(own.encode("utf-8"))
            if self.grouper:
                chunks.append(self.render_scrape_errors(reader, partial).encode("utf-8"))
            return chunks

    def render_scrape_errors(self, reader, partial):
        """The reference's scrape counters, with this scrape's failures added."""
        errors = self.errors
        errors["namedprocess_scrape_procread_errors"] += \
            reader.skipped.get("permission_denied", 0) + reader.skipped.get("error", 0)
        errors["namedprocess_scrape_partial_errors"] += partial
        return "".join("%s%s %d\n" % (family_header(family), family.name, errors[family.name])
                       for family in GROUP_SCRAPE_FAMILIES)

    def scrape(self):
        """The exposition text of this moment."""
        return b"".join(self.scrape_chunks()).decode("utf-8")

    def reconfigure(self, newer):
        """Take the settings of `newer`, built from reloaded flags; the reader stays,
        and groups and the top go on from their history."""
        with self._lock:
            if newer.grouper is not None and self.grouper is not None:
                newer.grouper.inherit(self.grouper)
            if newer.top is not None and self.top is not None:
                newer.top.inherit(self.top)
            if newer.fields is not None:
                self.reader.set_fields(newer.fields)
            for name in ("families", "filter", "grouper", "min_age", "top",
                         "labels_of", "identity_labels_of", "fields"):
                setattr(self, name, getattr(newer, name))


# ---------------------------------------------------------------------------
# Security: password hashes, basic auth, TLS, files reloaded when they change
# ---------------------------------------------------------------------------

PBKDF2_ITERATIONS = 600000      # OWASP's figure for PBKDF2-HMAC-SHA256 (2023)
# The hash schemes of the basic-auth file, by their first field, with their field count:
# pbkdf2-sha256$ITERATIONS$SALT$HASH and scrypt$N$R$P$SALT$HASH.
PBKDF2, SCRYPT = "pbkdf2-sha256", "scrypt"
HASH_FIELDS = {PBKDF2: 4, SCRYPT: 6}
AUTH_REALM = "process_exporter"


def b64(data):
    import base64
    return base64.b64encode(data).decode("ascii")


def hash_password(password, iterations=PBKDF2_ITERATIONS):
    """A pbkdf2-sha256$ITERATIONS$SALT$HASH line's hash, salt and hash in base64."""
    import hashlib
    salt = os.urandom(16)
    derived = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return "%s$%d$%s$%s" % (PBKDF2, iterations, b64(salt), b64(derived))


def parse_hash(encoded):
    """(scheme, cost numbers, salt, digest) of a pbkdf2-sha256 or scrypt hash; a
    ValueError if it is neither."""
    import base64
    parts = encoded.split("$")
    fields = HASH_FIELDS.get(parts[0])
    if fields is None or len(parts) != fields:
        raise ValueError("not a hash of a known scheme")
    try:
        cost = tuple(int(number) for number in parts[1:-2])
        salt, digest = (base64.b64decode(part, validate=True) for part in parts[-2:])
    except (ValueError, TypeError):
        raise ValueError("a hash with a malformed field") from None
    return parts[0], cost, salt, digest


# bcrypt, as htpasswd -B makes it for exporter-toolkit's basic_auth_users: verified by
# the system's crypt(3) where it knows bcrypt (libxcrypt on Linux; Apple's knows DES only).
BCRYPT = re.compile(r"\$2[abxy]\$(?:0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}\Z")
# A known answer: OpenBSD's test vector for "U*U".
BCRYPT_CHECK = (b"U*U", b"$2a$05$CCCCCCCCCCCCCCCCCCCCC.",
                b"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
_crypt = []


def system_bcrypt():
    """crypt(3) if it computes bcrypt hashes right, else None.  Not thread-safe (one
    static buffer): callers derive in BasicAuth's single lane."""
    if not _crypt:
        found = None
        for name in ("libcrypt.so.1", "libcrypt.so.2", None):     # None: libSystem
            try:
                crypt = ctypes.CDLL(name).crypt
            except (OSError, AttributeError):
                continue
            crypt.argtypes, crypt.restype = [ctypes.c_char_p, ctypes.c_char_p], ctypes.c_char_p
            if crypt(*BCRYPT_CHECK[:2]) == BCRYPT_CHECK[2]:
                found = crypt
            break
        _crypt.append(found)
    return _crypt[0]


def verify_password(password, encoded):
    """Whether password matches the hash, compared in constant time; a malformed hash,
    or one this system cannot compute, matches nothing."""
    import hashlib
    import hmac
    if BCRYPT.match(encoded):
        crypt = system_bcrypt()
        derived = crypt and crypt(password.encode("utf-8"), encoded.encode("ascii"))
        return derived is not None and hmac.compare_digest(derived, encoded.encode("ascii"))
    try:
        scheme, cost, salt, expected = parse_hash(encoded)
        if scheme == PBKDF2:
            derived = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, cost[0])
        elif hasattr(hashlib, "scrypt"):
            n, r, p = cost
            derived = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                                     maxmem=256 * 1024 * 1024, dklen=len(expected))
        else:
            return False
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, expected)


def check_user_name(user):
    """The user, if the basic-auth file can hold it and a client send it: not empty,
    UTF-8, no colon, space or control character, no leading '#'; else a ValueError."""
    if not user:
        raise ValueError("the user name is empty")
    try:
        user.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("user name %r is not valid UTF-8" % user) from None
    if ":" in user:
        raise ValueError("user name %r holds a colon" % user)
    if user.startswith("#"):
        raise ValueError("user name %r starts with '#', which makes a comment" % user)
    if any(char.isspace() or not char.isprintable() for char in user):
        raise ValueError("user name %r holds a space or control character" % user)
    return user


def check_hash(encoded):
    """ValueError unless encoded is a hash that verify_password can check."""
    import hashlib
    if BCRYPT.match(encoded):
        if system_bcrypt() is None:
            raise ValueError("this system's crypt(3) cannot check bcrypt hashes ($2y$...); "
                             "make a hash it can with --hash-password")
        return encoded
    try:
        scheme, cost, salt, digest = parse_hash(encoded)
    except ValueError:
        good = False
    else:
        if scheme == SCRYPT and not hasattr(hashlib, "scrypt"):
            raise ValueError("this Python's hashlib has no scrypt")
        n = cost[0]
        good = bool(salt and digest) and (cost[0] > 0 if scheme == PBKDF2 else
                                          n > 1 and n & (n - 1) == 0 and min(cost[1:]) > 0)
    if not good:
        raise ValueError("the hash is not pbkdf2-sha256$ITERATIONS$SALT$HASH, "
                         "scrypt$N$R$P$SALT$HASH or bcrypt (make one with --hash-password)")
    return encoded


def dummy_like(encoded):
    """A hash of the same scheme and cost as encoded, with random salt and digest."""
    import base64
    if BCRYPT.match(encoded):
        alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return encoded[:7] + "".join(alphabet[byte % 64] for byte in os.urandom(53))
    parts = encoded.split("$")
    for index in (-2, -1):
        parts[index] = b64(os.urandom(len(base64.b64decode(parts[index]))))
    return "$".join(parts)


def read_new_password(stream_in=None):
    """A password, asked twice without echo on a terminal, else one line of standard
    input; a ValueError says why not."""
    stream_in = stream_in or sys.stdin
    if stream_in is None or stream_in.closed:
        raise ValueError("standard input is closed")
    if not stream_in.isatty():
        return stream_in.buffer.readline().decode("utf-8").rstrip("\r\n") \
            if hasattr(stream_in, "buffer") else stream_in.readline().rstrip("\r\n")
    import getpass
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the passwords differ")
    return first


class Users(dict):
    """user -> checked password hash, and `dummy`, a hash of their cost that no password
    matches: an unknown user is checked against it, taking as long."""

    dummy = None

    def add(self, user, encoded):
        self[check_user_name(user)] = check_hash(encoded)
        if self.dummy is None:
            self.dummy = dummy_like(encoded)


def basic_credentials(header):
    """(user, password) from an Authorization header of the Basic scheme, or None."""
    import base64
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        user, sep, password = base64.b64decode(header[6:].strip(),
                                               validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def watched_mtimes(paths):
    """What tells us a file changed: its mtime, size and inode."""
    stamps = []
    for path in paths:
        st = os.stat(path)
        stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return stamps


class Reloading:
    """What a subclass's load() builds from files, built again when they change (checked
    at most once a second); files that do not load leave the old build, and a log line."""

    clock = staticmethod(time.monotonic)     # a test may move time on

    def __init__(self, paths, what):
        self.paths = [path for path in paths if path]    # a load may name more
        self.what = what
        self._lock = threading.Lock()
        self._checked = self.clock()
        self._complaint = None          # what was last logged about files that fail
        self.current = self.load()
        self._stamps = watched_mtimes(self.paths)

    def get(self):
        now = self.clock()
        if now - self._checked >= 1.0:
            with self._lock:
                if now - self._checked >= 1.0:
                    self._checked = now
                    self._reload_if_changed()
        return self.current

    def _reload_if_changed(self):
        """Load the files if they changed; ones that fail are tried, and said, once per
        change."""
        try:
            stamps = watched_mtimes(self.paths)
            if stamps != self._stamps:
                self._stamps = stamps
                self.current = self.load()
                self._stamps = watched_mtimes(self.paths)
                log("reloaded the %s" % self.what)
            self._complaint = None
        except (OSError, ValueError) as exc:
            complaint = "keeping the old %s: %s" % (self.what, exc)
            if complaint != self._complaint:
                log(complaint, "error")
                self._complaint = complaint


class BasicAuth(Reloading):
    """Users from --web.basic-auth-file (user:hash lines).  A credential verified once
    is remembered as a keyed digest, as exporter-toolkit does; others derive their key
    in one lane, so that guessing takes a core at most and never delays the scraper
    (docs/http-and-security.md)."""

    MAX_REMEMBERED = 64

    def __init__(self, path):
        self.path = path
        self.open_lane()
        Reloading.__init__(self, [path], "basic-auth file")

    def open_lane(self):
        self._key = os.urandom(32)
        self._verified = {}            # digest of "user:password" -> the hash it matched
        self._lane = threading.Lock()

    def load(self):
        data = read_regular_file(self.path)
        if data.startswith(b"\xef\xbb\xbf"):
            raise ValueError("%s line 1 starts with a byte-order mark; save the file as "
                             "UTF-8 without one" % self.path)
        users, lines = Users(), {}
        for number, line in enumerate(read_text(self.path, data).splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, encoded = line.rpartition(":")    # a hash holds no colon
            try:
                if not sep:
                    raise ValueError("not user:hash")
                if user in lines:       # what is wrong with the line itself first
                    check_hash(check_user_name(user) and encoded)
                    raise ValueError("user %r again (first on line %d)" % (user, lines[user]))
                users.add(user, encoded)
            except ValueError as exc:
                raise ValueError("%s line %d: %s" % (self.path, number, exc)) from None
            lines[user] = number
        if not users:
            raise ValueError("%s names no user" % self.path)
        return users

    def users(self):
        return self.get()

    def authorize(self, header, dropped=None):
        """Whether the Authorization header carries a user's right password (anyone,
        where there are no users).  An unknown user costs what a known one does;
        `dropped` set, the attempt stops waiting for the lane."""
        import hashlib
        import hmac
        users = self.users()
        if not users:
            return True
        credentials = basic_credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        encoded = users.get(user)
        digest = hmac.new(self._key, ("%s:%s" % (user, password)).encode("utf-8"),
                          hashlib.sha256).digest()
        if encoded is not None and self._verified.get(digest) == encoded:
            return True
        while not self._lane.acquire(timeout=0.05):
            if dropped is not None and dropped.is_set():
                return False
        try:
            matched = verify_password(password, encoded or users.dummy)
        finally:
            self._lane.release()
        if not matched or encoded is None:
            return False
        if len(self._verified) >= self.MAX_REMEMBERED:
            self._verified.clear()
        self._verified[digest] = encoded
        return True


class WebConfigAuth(BasicAuth):
    """BasicAuth with the basic_auth_users of a --web.config.file, as it is now."""

    def __init__(self, web):
        self.web = web
        self.open_lane()

    def users(self):
        return self.web.get().users


# exporter-toolkit's client_auth_type: those Python's ssl can keep (it cannot take a
# client certificate without checking it).
CLIENT_AUTH = {"": "CERT_NONE", "NoClientCert": "CERT_NONE",
               "VerifyClientCertIfGiven": "CERT_OPTIONAL",
               "RequireAndVerifyClientCert": "CERT_REQUIRED"}
TLS_VERSIONS = {"TLS10": "TLSv1", "TLS11": "TLSv1_1", "TLS12": "TLSv1_2", "TLS13": "TLSv1_3"}


def tls_context(files, client_auth="NoClientCert", min_version="TLS12", max_version="TLS13",
                allowed_sans=None):
    """An SSLContext from (name, path) pairs of certificate, key and client CA, each
    name telling where a file came from.  Files are checked regular and small first (a
    FIFO would hang OpenSSL); a key with a pass phrase is refused, never prompted for;
    allowed SANs ride on the context."""
    import ssl
    for name, path in files:
        try:
            read_regular_file(path)
        except OSError as exc:
            raise ValueError("%s %s: %s" % (name, path, exc.strerror or exc)) from None
        except ValueError as exc:
            raise ValueError("%s: %s" % (name, exc)) from None
    (cert_name, cert), (key_name, key) = files[:2]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = getattr(ssl.TLSVersion, TLS_VERSIONS[min_version])
    context.maximum_version = getattr(ssl.TLSVersion, TLS_VERSIONS[max_version])
    try:
        context.load_cert_chain(cert, key, password=no_pass_phrase)
    except PassPhraseNeeded:
        raise ValueError("%s %s is protected by a pass phrase; give the exporter a key "
                         "without one" % (key_name, key)) from None
    except ssl.SSLError as exc:
        raise ValueError("%s %s with %s %s: %s" % (cert_name, cert, key_name, key,
                                                   exc.reason or exc)) from None
    if len(files) > 2:
        ca_name, ca = files[2]
        try:
            context.load_verify_locations(cafile=ca)
        except ssl.SSLError as exc:
            raise ValueError("%s %s: %s" % (ca_name, ca, exc.reason or exc)) from None
    context.verify_mode = getattr(ssl, CLIENT_AUTH[client_auth])
    context.allowed_sans = allowed_sans
    return context


class PassPhraseNeeded(Exception):
    pass


def no_pass_phrase():
    """OpenSSL's password callback: without one it would ask on the terminal, and a
    reload wait there for ever."""
    raise PassPhraseNeeded()


class TLSFiles(Reloading):
    """An SSLContext from the --web.tls-* files: TLS 1.2 or newer, client certificates
    required with a client CA."""

    def __init__(self, cert_file, key_file, client_ca_file=None):
        self.cert_file, self.key_file, self.client_ca_file = cert_file, key_file, client_ca_file
        Reloading.__init__(self, [cert_file, key_file, client_ca_file], "TLS certificates")

    def flags(self):
        return [(flag, path) for flag, path in (
            ("--web.tls-cert-file", self.cert_file), ("--web.tls-key-file", self.key_file),
            ("--web.tls-client-ca-file", self.client_ca_file)) if path]

    def load(self):
        return tls_context(self.flags(), "RequireAndVerifyClientCert"
                           if self.client_ca_file else "NoClientCert")


class Picked:
    """One attribute of what a Reloading holds now (the TLS context, the headers)."""

    def __init__(self, source, attribute):
        self.source, self.attribute = source, attribute

    def get(self):
        return getattr(self.source.get(), self.attribute)


# ---------------------------------------------------------------------------
# Configuration files: YAML, and the files of flags, groups and web settings
# ---------------------------------------------------------------------------

_YAML_CONTROL = re.compile(
    r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]')
_YAML_NULLS = ('~', 'null', 'Null', 'NULL')
# What a plain scalar may not start with (-?: only before a blank), and the feature it means.
_YAML_NOT_PLAIN = '&*!|>%{[?-:@`,]}'
_YAML_FEATURES = {'&': 'anchors and aliases', '*': 'anchors and aliases', '!': 'tags',
                  '%': 'directives',
             '|': 'block scalars', '>': 'block scalars', '{': 'flow mappings',
             '[': 'nested flow sequences', '?': "complex keys ('? ')",
             '@': "reserved characters ('@', '`')", '`': "reserved characters ('@', '`')"}
_YAML_ESCAPES = {'\\': '\\', '"': '"', '/': '/', 'n': '\n', 't': '\t', 'r': '\r', '0': '\0'}
_YAML_ESCAPE = re.compile(r'\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)')
_YAML_QUOTED = {"'": re.compile(r"'((?:[^']|'')*)'"), '"': re.compile(r'"((?:[^"\\]|\\.)*)"')}
# A plain scalar ends at ': ' or ' #'; inside [ ] also at , [ ] { }.
_YAML_PLAIN = re.compile(r'[^ \t](?:[^ \t:]|:(?=[^ \t])|[ \t]+(?=[^ \t#]))*')
_YAML_PLAIN_FLOW = re.compile(r'[^ \t](?:[^ \t:,[\]{}]|:(?=[^ \t,[\]{}])|[ \t]+(?=[^ \t#,[\]{}]))*')
_YAML_FLOW_NEXT = re.compile(r'[ \t]*(?:,[ \t]*|(?=[\]#]|$))')
_YAML_ITEM = re.compile(r'-(?:[ \t]|$)')
_YAML_KEY_END = re.compile(r'[ \t]*:(?:[ \t]+(?:#.*)?|$)')  # takes a comment after ': ' too
_YAML_BAD_INDENT = 'inconsistent indentation (this line matches no enclosing block)'
_YAML_MIXED = 'mapping keys and sequence items ("- ") are mixed at one indentation level'
_YAML_CONTINUED = 'a value continued on the next line is not supported here; quote it on one line'
_YAML_TABS = 'tabs are not allowed in indentation'


def parse_yaml(text, where):
    """One YAML document of a strict subset, as dicts, lists, strs and None: block
    mappings and sequences, one-line flow sequences, plain and quoted scalars, comments
    and a leading '---'.  Scalars stay the str written (true, 10); an empty value, ~ and
    null are None.  Anything else is ValueError('<where> line <n>: <what is wrong>')."""
    try:
        lines = _yaml_lines(text)
        return _yaml_block(lines, 0, -1)[0]  # with parent -1, it takes all lines or raises
    except ValueError as err:  # raised below as ValueError(line number, message)
        raise ValueError('%s line %d: %s' % ((where,) + err.args)) from None
    except RecursionError:  # only absurdly deep nesting gets here; blame the deepest line
        deepest = max(lines, key=lambda line: line[1])[0]
        raise ValueError('%s line %d: nested too deeply' % (where, deepest)) from None


def _yaml_fail_if(condition, n, what):
    if condition:
        raise ValueError(n, what)


def _yaml_lines(text):
    """Return [line number, indent, content] for each line that is not blank or a comment."""
    lines, started = [], False
    for n, line in enumerate(re.split(r'\r\n?|\n', text[1:] if text[:1] == '\ufeff' else text), 1):
        bad = _YAML_CONTROL.search(line)
        if bad:
            raise ValueError(n, 'character U+%04X is not allowed' % ord(bad.group()))
        body = line.lstrip(' \t')
        if not body or body[0] == '#':
            continue
        # Checked here, before a later '---' would be reported as a second document.
        _yaml_fail_if(line[0] == '%', n, 'directives are not supported here')
        if re.match(r'(?:---|\.\.\.)(?:[ \t]|$)', line):
            _yaml_fail_if(line[0] == '.', n, "the document end marker '...' is not supported here")
            _yaml_fail_if(lines or started, n, "a second document ('---') is not supported here")
            _yaml_fail_if(not re.match(r'---[ \t]*(#|$)', line), n,
                          "text after '---' is not supported")
            started = True
            continue
        _yaml_fail_if('\t' in line[:len(line) - len(body)], n, _YAML_TABS)
        lines.append([n, len(line) - len(body), body])
    return lines


def _yaml_block(lines, i, parent, after_key=False):
    """The node at lines[i] if it is indented deeper than parent, else None; after
    'key:' a list may sit at the key's own indent."""
    n, indent, body = lines[i] if i < len(lines) else (0, -1, '')
    item = _YAML_ITEM.match(body)
    if indent < parent or (indent == parent and not (after_key and item)):
        return None, i
    if item or _yaml_key(body, n):
        return _yaml_collection(lines, i, indent, parent)
    return _yaml_value(body, n), _yaml_after_value(lines, i + 1, parent, body)


def _yaml_after_value(lines, i, indent, text):
    """Reject a deeper line after a value that was complete on its own line."""
    if i < len(lines) and lines[i][1] > indent:
        raise ValueError(lines[i][0], _YAML_BAD_INDENT if text[0] in '[\'"' else _YAML_CONTINUED)
    return i


def _yaml_collection(lines, i, indent, parent):
    """Parse the '- item' or 'key: value' lines at indent into a list or dict."""
    result = [] if _YAML_ITEM.match(lines[i][2]) else {}
    # The lines deeper than parent are ours; a list level with its key ends before a shallower one.
    while i < len(lines) and lines[i][1] > min(parent, indent - 1):
        n, ind, body = lines[i]
        _yaml_fail_if(ind != indent, n, _YAML_BAD_INDENT)
        if bool(_YAML_ITEM.match(body)) != isinstance(result, list):
            _yaml_fail_if(indent != parent, n, _YAML_MIXED)
            break  # the next key after a list written level with its key
        if isinstance(result, list):
            rest = body[1:].lstrip(' \t')
            if rest[:1] in ('', '#'):
                i += 1  # the item is the block on the next lines, or None
            else:
                _yaml_fail_if('\t' in body[1:len(body) - len(rest)], n, _YAML_TABS)
                # The item's content is a block of its own, indented to the column it starts at.
                lines[i] = [n, ind + len(body) - len(rest), rest]
            value, i = _yaml_block(lines, i, indent)
            result.append(value)
            continue
        entry = _yaml_key(body, n)
        if entry is None:
            _yaml_value(body, n)  # raises the more specific error, if there is one
            raise ValueError(n, "expected 'key: value' but found no ': ' after a key")
        key, rest = entry
        _yaml_fail_if(key in result, n, 'duplicate key %r' % key)
        if rest:
            result[key] = _yaml_value(rest, n)
            i = _yaml_after_value(lines, i + 1, indent, rest)
        else:
            result[key], i = _yaml_block(lines, i + 1, indent, True)
    return result, i


def _yaml_key(body, n):
    """Split a 'key: value' line into (key, value text or ''); None if it is not one."""
    # '[' starts a value, never a key
    key, end = (None, 0) if body[0] == '[' else _yaml_scalar(body, 0, n, False)
    colon = _YAML_KEY_END.match(body, end)
    if not colon:
        return None
    if body[0] not in _YAML_QUOTED:
        key = body[:end].rstrip(' \t')  # a plain key stays a str, even null or ~
        _yaml_fail_if(key == '<<', n, "merge keys ('<<') are not supported here")
    return key, body[colon.end():]


def _yaml_value(text, n):
    """Parse a scalar or flow sequence that must be all that is left on its line."""
    value, end = _yaml_flow(text, n) if text[0] == '[' else _yaml_scalar(text, 0, n, False)
    if not re.match(r'[ \t]*$|[ \t]+#', text[end:]):  # only a comment may follow
        closing = {'[': 'bracket', '"': 'quote', "'": 'quote'}.get(text[0])
        _yaml_fail_if(closing, n, 'unexpected text after the closing %s' % closing)
        raise ValueError(n, "a plain value cannot contain ': '; quote it, or nest it on new lines")
    return value


def _yaml_flow(text, n):
    """Parse a one-line flow sequence of scalars, text[0] being '['; return (list, end)."""
    items, pos = [], len(text) - len(text[1:].lstrip(' \t'))
    while text[pos:pos + 1] != ']':
        _yaml_fail_if(text[pos:pos + 1] in ('', '#'), n,
                      "unclosed '[' (must close on the same line)")
        value, pos = _yaml_scalar(text, pos, n, True)
        items.append(value)
        after = _YAML_FLOW_NEXT.match(text, pos)
        _yaml_fail_if(not after, n,
                      'unexpected %r in a flow sequence' % text[pos:].strip(' \t')[:1])
        pos = after.end()
    return items, pos + 1


def _yaml_scalar(text, pos, n, flow):
    """Read the scalar starting at text[pos]; return (str or None, end position)."""
    char = text[pos]
    if char in _YAML_QUOTED:
        quoted = _YAML_QUOTED[char].match(text, pos)
        _yaml_fail_if(not quoted, n, 'unclosed quote (a quoted value must end on the same line)')
        if char == "'":
            return quoted.group(1).replace("''", "'"), quoted.end()
        return _YAML_ESCAPE.sub(lambda m: _yaml_unescape(m.group(1), n),
                                quoted.group(1)), quoted.end()
    # Inside [ ], YAML readers disagree on what '?x' and ':x' are, so refuse them too.
    if char in _YAML_NOT_PLAIN and (char not in '-?:' or text[pos + 1:pos + 2] in ('', ' ', '\t')
                               or (flow and char != '-')):
        feature = _YAML_FEATURES.get(char, "values starting with '%s'" % text[pos:pos + 2])
        raise ValueError(n, feature + ' are not supported here; quote the value if it is text')
    plain = (_YAML_PLAIN_FLOW if flow else _YAML_PLAIN).match(text, pos)
    value = plain.group().rstrip(' \t')
    return None if value in _YAML_NULLS else value, plain.end()


def _yaml_unescape(code, n):
    """Translate the escape sequence after a backslash in a double-quoted scalar."""
    if code in _YAML_ESCAPES:
        return _YAML_ESCAPES[code]
    _yaml_fail_if(len(code) == 1 or int(code[1:], 16) > 0x10FFFF, n, 'unsupported escape \\' + code)
    return chr(int(code[1:], 16))


def read_text(path, data=None):
    """A configuration file's text (of its bytes, if given): a regular file of UTF-8,
    else a ValueError."""
    data = read_regular_file(path) if data is None else data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("%s line %d is not UTF-8" % (
            path, data[:exc.start].count(b"\n") + 1)) from None


# Flags that do something once instead of running the exporter, and the file itself.
NOT_IN_A_FILE = ("--config.file", "--once", "--hash-password", "--help", "--version")


def read_config_file(path):
    """The flags of a --config.file: one a line, `--flag=value`, `--flag value` (the
    rest of the line) or `--flag`; blank lines and # lines skipped."""
    flags = []
    text = read_regular_file(path).decode("utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        flag, equals, value = line.partition("=")
        if not equals:
            flag, _, value = line.partition(" ")
            value = value.strip()
        if not flag.startswith("--"):
            raise ValueError("%s line %d is not a flag of this exporter: %r"
                             % (path, number, line))
        if flag in NOT_IN_A_FILE:
            raise ValueError("%s line %d: %s belongs on the command line, not in a file"
                             % (path, number, flag))
        flags.append(flag + ("=" + value if equals or value else ""))
    return flags


def read_process_names(path, procfs="/proc"):
    """The items of the reference exporter's config file (--config.path)."""
    document = parse_yaml(read_text(path), path)
    if not isinstance(document, dict) or not isinstance(document.get("process_names"), list):
        raise ValueError("%s: no process_names list at the top" % path)
    unknown = sorted(set(document) - {"process_names"})
    if unknown:
        raise ValueError("%s: unknown key %r (there is process_names)" % (path, unknown[0]))
    return [ProcessNames(item, "%s: process_names item %d" % (path, number), procfs)
            for number, item in enumerate(document["process_names"], 1)]


# --web.config.file: exporter-toolkit's web configuration, as node_exporter reads it.
WEB_CONFIG_KEYS = {
    "tls_server_config": ("cert_file", "key_file", "client_ca_file", "client_auth_type",
                          "min_version", "max_version", "client_allowed_sans", "cert", "key",
                          "client_ca", "cipher_suites", "curve_preferences",
                          "prefer_server_cipher_suites"),
    "http_server_config": ("http2", "headers"),
    "basic_auth_users": None,
    "rate_limit": ("interval", "burst"),
}
# The response headers it may set, and the values each may take (None: any).
WEB_HEADERS = {"Strict-Transport-Security": None, "X-Content-Type-Options": ("nosniff",),
               "X-Frame-Options": ("deny", "sameorigin"), "X-XSS-Protection": None,
               "Content-Security-Policy": None}
# What exporter-toolkit lets a file choose and Python's ssl chooses itself here (its
# secure defaults), or what this server does not do: said once a load, then ignored.
WEB_IGNORED = ("tls_server_config.cipher_suites", "tls_server_config.curve_preferences",
               "rate_limit")


# What a web configuration says: an SSLContext or None, the Users, the headers.
WebSettings = collections.namedtuple("WebSettings", "context users headers")


class WebConfig(Reloading):
    """--web.config.file, as exporter-toolkit reads it, read again when it or a file it
    names changes (at most once a second).  A change that does not load keeps the old
    settings; whether TLS is on is settled at start, as there."""

    def __init__(self, path):
        self.path = path
        Reloading.__init__(self, [path], "web configuration")

    def load(self):
        path, folder = self.path, os.path.dirname(os.path.abspath(self.path))
        document = parse_yaml(read_text(path), path)
        document = {} if document is None else document
        if not isinstance(document, dict):
            raise ValueError("%s: not a mapping of %s" % (path, ", ".join(WEB_CONFIG_KEYS)))
        for section, keys in WEB_CONFIG_KEYS.items():
            value = document.get(section)
            if value is not None and not isinstance(value, dict):
                raise ValueError("%s: %s is a mapping" % (path, section))
            if keys and value:
                web_keys(value, keys, "%s: %s" % (path, section))
        web_keys(document, WEB_CONFIG_KEYS, path)
        for ignored in WEB_IGNORED:
            section, _, key = ignored.partition(".")
            if (document.get(section) or {}).get(key) if key else document.get(section):
                log("%s: %s is not used here (Python's ssl keeps its secure defaults; no "
                    "rate limit)" % (path, ignored), "warn")
        tls = document.get("tls_server_config") or {}
        context = web_tls_context(tls, folder, path)
        self.paths = [path] + [os.path.join(folder, tls[key]) for key in
                               ("cert_file", "key_file", "client_ca_file") if tls.get(key)]
        current = getattr(self, "current", None)
        if current is not None and (current.context is None) != (context is None):
            raise ValueError("%s: TLS is switched on or off at a restart only" % path)
        headers = (document.get("http_server_config") or {}).get("headers") or {}
        for name, value in headers.items():
            allowed = WEB_HEADERS.get(name, ())
            if name not in WEB_HEADERS or allowed is not None and value not in allowed:
                raise ValueError("%s: http_server_config.headers: %s: %r cannot be set here "
                                 "(headers: %s)" % (path, name, value, ", ".join(WEB_HEADERS)))
        return WebSettings(context, web_users(document.get("basic_auth_users") or {}, path),
                           dict(headers))


def web_keys(mapping, known, where):
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise ValueError("%s: unknown key %r (there are %s)" % (where, unknown[0],
                                                                 ", ".join(known)))


def web_tls_context(tls, folder, path):
    """The SSLContext a tls_server_config makes, or None when it names nothing of TLS."""
    if not any(tls.get(key) for key in ("cert_file", "key_file", "client_ca_file",
                                        "client_auth_type", "cert", "key", "client_ca")):
        return None
    where = "%s: tls_server_config" % path
    inline = [key for key in ("cert", "key", "client_ca") if tls.get(key)]
    if inline:
        raise ValueError("%s: %s inline is not read here; give cert_file, key_file and "
                         "client_ca_file" % (where, inline[0]))
    for key in ("cert_file", "key_file"):
        if not tls.get(key):
            raise ValueError("%s: missing %s" % (where, key))
    client_auth = tls.get("client_auth_type") or ""
    if client_auth not in CLIENT_AUTH:
        raise ValueError("%s: client_auth_type %s cannot be kept here (Python's ssl checks "
                         "every client certificate it takes): use %s" % (
                             where, client_auth, " or ".join(sorted(CLIENT_AUTH)[1:])))
    verifies = CLIENT_AUTH[client_auth] != "CERT_NONE"
    if bool(tls.get("client_ca_file")) != verifies:
        raise ValueError("%s: client_ca_file and a client_auth_type that checks client "
                         "certificates go together" % where)
    versions = [tls.get("min_version") or "TLS12", tls.get("max_version") or "TLS13"]
    if any(version not in TLS_VERSIONS for version in versions) or versions[0] > versions[1]:
        raise ValueError("%s: min_version and max_version are TLS10 to TLS13, in order" % where)
    sans = tls.get("client_allowed_sans")
    if sans is not None and not (isinstance(sans, list) and all(isinstance(san, str)
                                                                for san in sans)):
        raise ValueError("%s: client_allowed_sans takes a list of names" % where)
    files = [("%s.%s" % (where, key), os.path.join(folder, tls[key]))
             for key in ("cert_file", "key_file", "client_ca_file") if tls.get(key)]
    return tls_context(files, client_auth, versions[0], versions[1],
                       frozenset(sans) if sans is not None else None)


def web_users(entries, path):
    """Users from basic_auth_users (user: hash), each checked as the basic-auth file's."""
    if not isinstance(entries, dict):
        raise ValueError("%s: basic_auth_users is a mapping of user: hash" % path)
    users = Users()
    for user, encoded in entries.items():
        try:
            if not isinstance(encoded, str):
                check_user_name(user)
                raise ValueError("no hash")
            users.add(user, encoded)
        except ValueError as exc:
            raise ValueError("%s: basic_auth_users: %s: %s" % (path, user, exc)) from None
    return users


# ---------------------------------------------------------------------------
# HTTP: a thin layer over http.server, imported only when serving
# ---------------------------------------------------------------------------

PROJECT_URL = "https://github.com/example/process_exporter"
# The README's sections a person checking the exporter reads next.
README_SECTIONS = (("Flags", "flags"), ("Metrics", "metrics"),
                   ("What it needs to see every process", "what-it-needs-to-see-every-process"),
                   ("Bounding the series", "bounding-the-series"),
                   ("Flags in a file, reloaded", "flags-in-a-file-reloaded"),
                   ("A Grafana dashboard", "a-grafana-dashboard"),
                   ("HTTP behaviour", "http-behaviour"))


def landing_page(server):
    """The page at /: version, who it runs as, the last scrape, the flags (which hold no
    secret) and where to read on."""
    import html
    exporter = server.exporter
    uid = os.geteuid()
    if exporter.last_scrape_at is None:
        last = "none yet"
    else:
        last = "%d processes, read and rendered in %.1f ms, %.0f s ago" % (
            exporter.last_count, exporter.last_duration * 1e3,
            time.time() - exporter.last_scrape_at)
    rows = (("Version", "%s (Python %d.%d.%d, %s)" % ((__version__,) + sys.version_info[:3]
                                                      + (sys.platform,))),
            ("Runs as", "root: it reads every process's numbers" if uid == 0 else
             "uid %d: other users' processes are listed without their numbers" % uid),
            ("Last scrape", last),
            ("Flags", " ".join(server.flags) or "none: the defaults"))
    items = "".join("<tr><th>%s</th><td>%s</td></tr>" % (name, html.escape(value))
                    for name, value in rows)
    sections = "".join('<li><a href="%s#%s">%s</a></li>' % (PROJECT_URL, anchor, title)
                       for title, anchor in README_SECTIONS)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Process exporter"
            "</title></head>\n<body><h1>Process exporter</h1>\n"
            "<p>Per-process metrics for Prometheus: <a href=\"%s\">%s</a></p>\n"
            "<table>%s</table>\n<p>Read on in the README:</p><ul>%s</ul>\n</body></html>\n"
            % (html.escape(server.telemetry_path), html.escape(server.telemetry_path), items,
               sections)).encode("utf-8")


# Connections open at once (idle ones included), unless the descriptor limit
# allows fewer; requests have their own, lower cap (--web.max-requests).
MAX_CONNECTIONS = 1000
DESCRIPTORS_KEPT = 64         # for stdio, the listening socket, procfs and file reloads
MAX_DISCARDED_BODY = 65536    # a GET's body up to this is read and dropped; larger, we close
MAX_HEAD_BYTES = 16384        # request line and headers: a scrape sends under a kilobyte
CONTENT_LENGTH = re.compile(r"[0-9]{1,18}\Z")     # RFC 9110 8.6, and an int of sane size
ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")    # RFC 9112 3.2.2
WRITE_SLICE = 262144          # the write deadline is checked before each slice
OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def connection_cap(soft_limit=None):
    """How many connections may be open under this descriptor limit (the soft limit now
    by default): MAX_CONNECTIONS, or fewer (macOS gives 256)."""
    if soft_limit is None:
        import resource
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft_limit == resource.RLIM_INFINITY:
            soft_limit = MAX_CONNECTIONS + DESCRIPTORS_KEPT
    return max(1, min(MAX_CONNECTIONS, soft_limit - DESCRIPTORS_KEPT))


class Connections:
    """The open connections, at most `cap` and `per_address` from one address.  Past
    either, the connection that waited longest on its client is closed to make room,
    never one being answered; with none waiting the newcomer is turned away
    (docs/http-and-security.md)."""

    def __init__(self, cap, per_address=None):
        self.cap = cap
        self.per_address = per_address or max(1, cap - cap // 4)
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)     # notified as connections close
        self._open = {}          # connection -> [address, waiting since or None, dropped]
        self._per_address = {}   # address -> how many it has open

    def __len__(self):
        return len(self._open)

    def admit(self, connection, address):
        """Whether connection may be served: room found, if need be by closing another."""
        with self._lock:
            if self._per_address.get(address, 0) >= self.per_address \
                    and not self._close_longest_waiting(address):
                return False
            if len(self._open) >= self.cap and not self._close_longest_waiting(None):
                return False
            self._open[connection] = [address, time.monotonic(), threading.Event()]
            self._per_address[address] = self._per_address.get(address, 0) + 1
            return True

    def waiting(self, connection, waiting):
        """Mark a connection as waiting on its client (True) or being answered."""
        entry = self._open.get(connection)
        if entry is not None:
            entry[1] = time.monotonic() if waiting else None

    def dropped(self, connection):
        """An Event set when the connection is closed to make room."""
        entry = self._open.get(connection)
        return entry[2] if entry is not None else threading.Event()

    def remove(self, connection):
        """Forget a connection before it is closed: one in the table is still open when
        make_room shuts it down."""
        with self._lock:
            self._forget(connection)

    def make_room(self):
        """Close the connection waiting longest (when descriptors run out)."""
        with self._lock:
            return self._close_longest_waiting(None)

    def wait_for_room(self, timeout):
        """Whether a newcomer could be let in, waiting up to `timeout`: while every
        connection is answered the kernel's backlog holds newcomers, not accept()."""
        with self._room:
            return self._room.wait_for(lambda: len(self._open) < self.cap or any(
                entry[1] is not None for entry in self._open.values()), timeout)

    def _forget(self, connection):
        entry = self._open.pop(connection, None)
        if entry is not None:
            self._room.notify_all()
            left = self._per_address[entry[0]] - 1
            if left:
                self._per_address[entry[0]] = left
            else:
                del self._per_address[entry[0]]

    def _close_longest_waiting(self, address):
        longest = None
        for connection, (owner, since, _) in self._open.items():
            if since is not None and (address is None or owner == address) \
                    and (longest is None or since < longest[0]):
                longest = (since, connection)
        if longest is None:
            return False
        self._open[longest[1]][2].set()
        self._forget(longest[1])
        hang_up(longest[1])
        return True


def hang_up(connection):
    """End a connection from another thread (its reads see end-of-file), by the plain
    socket's shutdown, not touching TLS state."""
    import socket
    with suppress(OSError):
        socket.socket.shutdown(connection, socket.SHUT_RDWR)


class Deadline:
    """When the request now expected must have arrived, and its answer have left."""

    __slots__ = ("read_by", "write_by")

    def __init__(self, read_by):
        self.read_by = read_by
        self.write_by = None      # set when the answer starts


def time_left(deadline):
    """Seconds until deadline, for a socket timeout; socket.timeout once it passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        import socket
        raise socket.timeout("deadline passed")
    return left


class DeadlineSocket(io.RawIOBase):
    """A connection whose reads are bounded by the request's deadline, and whose writes
    send all of an answer within `timeout` of its start."""

    def __init__(self, connection, deadline, timeout):
        io.RawIOBase.__init__(self)
        self.connection, self.deadline, self.timeout = connection, deadline, timeout

    def readable(self):
        return True

    def writable(self):
        return True

    def readinto(self, buffer):
        self.connection.settimeout(time_left(self.deadline.read_by))
        return self.connection.recv_into(buffer)

    def write(self, data):
        if self.deadline.write_by is None:
            self.deadline.write_by = time.monotonic() + self.timeout
        view = memoryview(data)
        for start in range(0, len(view), WRITE_SLICE):
            self.connection.settimeout(time_left(self.deadline.write_by))
            self.connection.sendall(view[start:start + WRITE_SLICE])
        return len(view)


class HeadTooLarge(Exception):
    pass


def read_head(stream, limit=MAX_HEAD_BYTES):
    """A request's head, to the blank line, at most `limit` bytes (else HeadTooLarge);
    b"" if the client left; empty lines before it skipped (RFC 9112 2.2)."""
    lines, size = [], 0
    while True:
        line = stream.readline(limit - size + 1)
        size += len(line)
        if size > limit:
            raise HeadTooLarge()
        if not line:
            return b""
        if line in (b"\r\n", b"\n"):
            if lines:
                lines.append(line)
                return b"".join(lines)
            continue
        lines.append(line)


def gzip_chunks(chunks, level=6):
    """The chunks as one gzip stream, compressed a chunk at a time."""
    import zlib
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)    # 31: with a gzip header
    out = [compressor.compress(chunk) for chunk in chunks]
    out.append(compressor.flush())
    return [part for part in out if part]


def accepts_gzip(header):
    """Whether an Accept-Encoding header asks for gzip with a q-value above zero."""
    for item in (header or "").split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() != "gzip":
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        return quality > 0
    return False


def parse_listen_address(address):
    """'host:port', ':port' or '[v6]:port' as (host, port); host '' means every interface."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError("listen address %r is not host:port" % address)
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError("listen address %r has an unclosed [" % address)
        host = host[1:-1]
    elif ":" in host:
        raise ValueError("listen address %r: write an IPv6 address as [addr]:port" % address)
    return host, int(port)


class ListenAddress(str):
    """--web.listen-address as given, with its host and port, parsed once."""

    def __new__(cls, text):
        if isinstance(text, cls):
            return text
        address = str.__new__(cls, text)
        address.host, address.port = parse_listen_address(text)
        return address


def import_http_server():
    """http.server, without ssl (some 4 MiB) unless something loaded it: http.client
    imports it only for HTTPS clients."""
    if "ssl" in sys.modules or "http.server" in sys.modules:
        import http.server
        return http.server
    sys.modules["ssl"] = None
    try:
        import http.server
    finally:
        del sys.modules["ssl"]
    return http.server


@functools.lru_cache(maxsize=None)
def http_classes():
    """(MetricsHandler, MetricsServer), defined on first use so that --once never
    imports http.server; what a server serves lives on it (self.server)."""
    return define_http_classes(import_http_server())


def define_http_classes(http_server):
    import socket
    import socketserver
    base_handler, base_server = http_server.BaseHTTPRequestHandler, http_server.ThreadingHTTPServer

    class MetricsHandler(base_handler):
        """One connection: each request read within --web.read-timeout, each answer sent
        within --web.write-timeout, however the client trickles."""

        protocol_version = "HTTP/1.1"          # keep-alive, as Prometheus scrapes
        default_request_version = "HTTP/1.0"   # so even a garbled request gets a status line
        server_version = "process_exporter/" + __version__

        def version_string(self):
            return self.server_version         # no Python version for strangers

        def setup(self):
            server = self.server
            self.connection = self.request
            self.deadline = Deadline(time.monotonic() + server.read_timeout)
            if server.tls is not None:  # the handshake happens here, in this connection's thread
                # CPython bounds the whole handshake by the timeout, not each read.
                self.connection.settimeout(server.read_timeout)
                try:
                    self.connection.do_handshake()
                except OSError:     # plain HTTP, no client certificate, a bad one...
                    raise ConnectionAbortedError("TLS handshake failed") from None
                allowed = getattr(self.connection.context, "allowed_sans", None)
                if allowed is not None and not allowed.intersection(
                        value for _, value in (self.connection.getpeercert() or {}).get(
                            "subjectAltName", ())):
                    raise ConnectionAbortedError("no allowed SAN in the client certificate")
            # Headers and body must not wait on an ACK.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
            self.wfile = DeadlineSocket(self.connection, self.deadline, server.write_timeout)
            self.rfile = io.BufferedReader(self.wfile)

        def handle_one_request(self):
            """Read the head whole and bounded, then let the base class parse it."""
            self.server.connections.waiting(self.request, True)
            self.deadline.write_by = None
            self.stream = self.rfile
            try:
                head = read_head(self.stream)
            except HeadTooLarge:
                self.command, self.requestline, self.request_version = "", "", "HTTP/1.0"
                self.close_connection = True
                self.reply(431, b"Request header fields too large\n")
                return
            except (socket.timeout, TimeoutError):
                head = b""
            if not head:
                self.close_connection = True
                return
            self.rfile = io.BytesIO(head)
            try:
                base_handler.handle_one_request(self)
            finally:
                self.rfile = self.stream
            self.deadline.read_by = time.monotonic() + self.server.read_timeout

        def parse_request(self):
            # The base class reads the headers, and answers malformed requests (400,
            # 414, 431, 505) itself.
            parsed = base_handler.parse_request(self)
            self.server.connections.waiting(self.request, False)    # all of it arrived
            if not parsed:
                return False
            if self.headers.defects:           # e.g. a header line without a colon
                self.send_error(400, "Malformed header")
                return False
            lengths = set(self.headers.get_all("Content-Length") or ())
            if len(lengths) > 1 or not all(CONTENT_LENGTH.match(length) for length in lengths):
                self.close_connection = True   # its body cannot be told from the next request
                self.reply(400, b"Bad Content-Length\n")
                return False
            if self.command not in ("GET", "HEAD"):
                self.close_connection = True   # its body, if any, is left unread
                self.reply(405, b"Method Not Allowed\n", (("Allow", "GET, HEAD"),))
                return False
            self.drop_body()
            return True

        def drop_body(self):
            """A GET's body, if sent, must not be read as the next request: a small one
            is dropped, else the connection ends."""
            length = self.headers.get("Content-Length")     # checked in parse_request
            if self.headers.get("Transfer-Encoding") is None:
                if length is None:
                    return
                if int(length) <= MAX_DISCARDED_BODY:
                    self.stream.read(int(length))
                    return
            self.close_connection = True

        def do_GET(self):
            server = self.server
            if server.auth is not None and not self.authorized():
                return
            # A request slot is held while the answer is made, not while a client
            # reads it: a slow reader cannot keep scrapes out.
            if not server.request_slots.acquire(blocking=False):
                self.reply(503, b"Too many requests at once\n", (("Retry-After", "1"),))
                return
            try:
                answer = self.route()
            finally:
                server.request_slots.release()
            self.reply(*answer)

        do_HEAD = do_GET

        def authorized(self):
            """Whether the credentials pass, else a 401; waiting for the lane, the
            connection may be closed to make room."""
            connections = self.server.connections
            connections.waiting(self.request, True)
            passed = self.server.auth.authorize(self.headers.get("Authorization"),
                                                connections.dropped(self.request))
            connections.waiting(self.request, False)
            if passed:
                return True
            self.reply(401, b"Unauthorized\n", (
                ("WWW-Authenticate", 'Basic realm="%s", charset="UTF-8"' % AUTH_REALM),))
            return False

        def route(self):
            """(status, body, headers) for this GET."""
            server = self.server
            path = self.path.split("?", 1)[0]
            absolute = ABSOLUTE_FORM.match(path)    # GET http://host:9256/metrics, as a proxy
            if absolute:
                path = path[absolute.end():] or "/"
            if path == server.telemetry_path:
                try:
                    chunks = server.exporter.scrape_chunks()
                except Exception as exc:   # the reader failed as a whole: say so, carry on
                    server.log_bursts("scrape", "scrape failed: %s: %s"
                                      % (type(exc).__name__, exc), "error")
                    return 500, b"Scrape failed; see the exporter's log\n", ()
                headers = [("Content-Type", CONTENT_TYPE)]
                if accepts_gzip(self.headers.get("Accept-Encoding")):
                    chunks = gzip_chunks(chunks)
                    headers.append(("Content-Encoding", "gzip"))
                return 200, chunks, headers
            if path == "/":
                return 200, landing_page(server), (("Content-Type", "text/html; charset=utf-8"),)
            return 404, b"Not Found\n", ()

        def reply(self, status, body, headers=()):
            """Answer with body: bytes, or a list of byte chunks."""
            chunks = [body] if isinstance(body, bytes) else body
            self.send_response(status)
            headers = dict(headers)
            if self.server.headers is not None:
                headers.update(self.server.headers.get())
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            headers["Content-Length"] = str(sum(len(chunk) for chunk in chunks))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                for chunk in chunks:
                    self.wfile.write(chunk)

        def log_message(self, format, *args):
            pass       # no line per request: launchd would keep every one

    class MetricsServer(base_server):
        """The listening socket, and what its handlers serve."""

        daemon_threads = True           # a stuck client never holds up exit
        # Listen backlog: a burst of connections waits rather than having its SYNs
        # dropped (a dropped SYN costs a scrape a second, its retransmit time).
        request_queue_size = 1024
        allow_reuse_address = True

        def __init__(self, host, port, settings):
            self.__dict__.update(settings)
            self.every_interface = host == ""
            self.accept_pause = 0.0     # seconds, while descriptors run out
            self.reload = None          # serve() sets what a SIGHUP runs
            self.address_family = socket.AF_INET
            bind_host = host
            if host == "":
                if socket.has_ipv6:
                    self.address_family, bind_host = socket.AF_INET6, "::"
            elif ":" in host:
                self.address_family = socket.AF_INET6
            base_server.__init__(self, (bind_host, port), MetricsHandler)

        def server_bind(self):
            if self.address_family == socket.AF_INET6 and self.every_interface:
                # '::' with V6ONLY off takes IPv4 too: ':9256' means every interface.
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            # Not HTTPServer.server_bind: it asks DNS for our own name (socket.getfqdn),
            # which can keep start-up waiting for as long as DNS does.
            socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = self.server_address[:2]

        def service_actions(self):
            """Between requests, in the serving thread: a reload asked for by SIGHUP."""
            if HANGUPS.take() and self.reload is not None:
                self.reload()

        def get_request(self):
            if not self.connections.wait_for_room(0.5):
                raise OSError("no room for another connection")   # select, then wait again
            try:
                connection, client_address = self.socket.accept()
            except OSError as exc:
                if exc.errno in OUT_OF_DESCRIPTORS:
                    self.back_off(exc)
                raise                   # socketserver drops it and selects again
            # Calmer by halves: descriptors that came back for one connection may be
            # gone again for the next.
            self.accept_pause = self.accept_pause / 2 if self.accept_pause > 0.01 else 0.0
            if self.tls is not None:
                try:
                    connection = self.tls.get().wrap_socket(
                        connection, server_side=True, do_handshake_on_connect=False)
                except (OSError, ValueError) as exc:
                    connection.close()
                    raise OSError("TLS: %s" % exc) from None
            return connection, client_address

        def back_off(self, exc):
            """Out of descriptors: close the connection waiting longest, and wait,
            longer each time."""
            self.log_bursts("accept", "cannot accept connections: %s; closing idle ones "
                            "and backing off" % (exc.strerror or exc))
            self.connections.make_room()
            self.accept_pause = min(max(self.accept_pause * 2, 0.01), 1.0)
            time.sleep(self.accept_pause)

        def process_request(self, request, client_address):
            if not self.connections.admit(request, client_address[0]):
                self.shutdown_request(request)
                return
            try:
                base_server.process_request(self, request, client_address)
            except RuntimeError as exc:     # no thread to be had: let this one go
                self.connections.remove(request)
                self.shutdown_request(request)
                self.log_bursts("thread", "cannot start a thread for a connection: %s" % exc)

        def process_request_thread(self, request, client_address):
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.connections.remove(request)    # before the close: see Connections
                self.shutdown_request(request)

        def handle_error(self, request, client_address):
            exc = sys.exc_info()[1]
            if isinstance(exc, self.quiet_errors):
                return             # the client hung up, went quiet or spoke no TLS
            self.log_bursts("error", "error serving %s: %s: %s"
                            % (client_address[0], type(exc).__name__, exc))

    return MetricsHandler, MetricsServer


def server_settings(exporter, telemetry_path=DEFAULT_TELEMETRY_PATH, read_timeout=10.0,
                    max_requests=40, tls=None, auth=None, write_timeout=10.0,
                    max_connections=None, max_per_address=None, flags=(), headers=None):
    """What a MetricsServer serves and how: the attributes its handler reads."""
    import socket
    quiet_errors = (ConnectionError, socket.timeout, TimeoutError)
    if tls is not None:
        import ssl
        quiet_errors += (ssl.SSLError,)
    return dict(exporter=exporter, telemetry_path=telemetry_path, flags=list(flags),
                read_timeout=read_timeout, write_timeout=write_timeout, tls=tls, auth=auth,
                request_slots=threading.BoundedSemaphore(max_requests),
                connections=Connections(max_connections or connection_cap(), max_per_address),
                quiet_errors=quiet_errors, log_bursts=LogBursts(),
                headers=headers)     # what every answer carries (--web.config.file)


def make_server(exporter, address=DEFAULT_LISTEN_ADDRESS, **settings):
    """A server of the exporter bound to address, not yet started; `settings` as
    server_settings takes them."""
    if settings.get("tls") is not None:
        import ssl  # noqa: F401  (so that http.server is imported with it)
    address = ListenAddress(address)
    _, server_class = http_classes()
    return server_class(address.host, address.port, server_settings(exporter, **settings))


class Hangups:
    """SIGHUP's handler: it notes that a reload is wanted, which the serving loop does
    outside any handler (one that reloaded could be entered again meanwhile)."""

    pending = False

    def __call__(self, signum, frame):
        self.pending = True

    def take(self):
        """Whether a reload is wanted, and no longer (a SIGHUP in between is covered)."""
        if not self.pending:
            return False
        self.pending = False
        return True


HANGUPS = Hangups()


def serve(server, reload=None, on_ready=None):
    """Serve until SIGTERM or SIGINT.  A SIGHUP runs reload between requests, or is
    ignored; on_ready runs once the signals are ours."""
    import signal

    class Stop(BaseException):     # not an Exception: socketserver must not swallow it
        pass

    def stop(signum, frame):
        raise Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.reload = reload
    if on_ready is not None:
        on_ready()
    try:
        server.serve_forever(poll_interval=0.5)
    except Stop:
        pass
    finally:
        server.server_close()


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------

MAX_TIMEOUT = 86400     # a day: longer is a mistake, and would overflow a socket timeout


def parse_duration(text):
    """'300', '300s', '5m', '1h' as seconds."""
    match = re.match(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*\Z", text)
    if not match:
        raise ValueError("not a duration: %r (try 300s, 5m or 1h)" % text)
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def resolve_user(user):
    """A user name or uid from the command line, as a uid; ValueError if unknown."""
    if user.isdigit():
        return int(user)
    import pwd
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        raise ValueError("no such user: %r" % user) from None


# What a flag's value must be; each says what is wrong in a ValueError, and argparse
# turns that into one line.

def checked_telemetry_path(text):
    """A path a client can ask for: RFC 3986's path characters, each % an escape, no
    empty, . or .. segment (clients fold them), at most 1024 characters."""
    if not re.match(r"/[A-Za-z0-9._~!$&'()*+,;=:@/%-]+\Z", text):
        raise ValueError("must be a path a client can ask for: / and then ASCII "
                         "letters, digits or -._~!$&'()*+,;=:@/% (no ?, #, space or other "
                         "characters), and not / itself")
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise ValueError("%r: a %% must start an escape such as %%20" % text)
    if any(segment in ("", ".", "..") for segment in text[1:].split("/")):
        raise ValueError("%r: no empty, . or .. segment (clients rewrite those)" % text)
    if len(text) > 1024:
        raise ValueError("longer than 1024 characters")
    return text


def checked_rule(text):
    """A rule: a regex, after a field prefix (name:, path:, cmdline:, user:) or not."""
    checked_regex(split_rule(text)[1])
    return text


def parse_group_declaration(text):
    """--group NAME=RULE as (name, rule); NAME may hold placeholders ({app})."""
    name, sep, pattern = text.partition("=")
    if not sep or not name:
        raise ValueError("takes NAME=REGEX, not %r" % text)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the group name %r is not valid UTF-8" % name) from None
    checked_rule(pattern)
    check_template(name, pattern)
    return name, pattern


def positive_integer(text):
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError("%r is not a whole number of at least 1" % text)
    return int(text)


def seconds(text):
    """A timeout: a positive, finite number of seconds, at most a day."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= MAX_TIMEOUT:
        raise ValueError("%r is not a number of seconds between 0 and %d" % (text, MAX_TIMEOUT))
    return value


def comma_list(text):
    return [item.strip() for item in text.split(",") if item.strip()]


def flag_type(check):
    """An argparse type= of a check whose ValueError says what is wrong."""
    def converted(text):
        import argparse
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    converted.__name__ = check.__name__
    return converted


def flag_parser(raise_errors=False):
    """An ArgumentParser whose error is one line and exit 2, or with raise_errors (a
    reload) a ValueError."""
    import argparse

    class Parser(argparse.ArgumentParser):
        where = ""       # the config file, while its flags are parsed

        def error(self, message):
            message = self.where + message
            if raise_errors:
                raise ValueError(message)
            self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))

        def exit(self, status=0, message=None):
            if raise_errors:
                raise ValueError(message or "a flag that ends the program")
            argparse.ArgumentParser.exit(self, status, message)

    return Parser(
        prog="process_exporter.py",
        description="Prometheus exporter of per-process metrics for macOS (libproc) and "
                    "Linux (/proc). Regexes are Python's, searched in a process's name and "
                    "in its executable path, or, after name:, path:, cmdline: or user:, in "
                    "that field alone. README.md says more of every flag.")


def add_serving_flags(parser):
    web = parser.add_argument_group("serving")
    web.add_argument("--web.listen-address", dest="listen_address", metavar="HOST:PORT",
                     type=flag_type(ListenAddress), default=DEFAULT_LISTEN_ADDRESS,
                     help="where to listen; ':9256' is every interface, '[::1]:9256' IPv6 "
                          "(default %(default)s)")
    web.add_argument("--web.telemetry-path", dest="telemetry_path", metavar="PATH",
                     type=flag_type(checked_telemetry_path), default=DEFAULT_TELEMETRY_PATH,
                     help="path of the metrics (default %(default)s)")
    web.add_argument("--web.read-timeout", dest="read_timeout", metavar="SECONDS",
                     type=flag_type(seconds), default=10.0,
                     help="close a connection whose request is not whole within this "
                          "(default %(default)s)")
    web.add_argument("--web.write-timeout", dest="write_timeout", metavar="SECONDS",
                     type=flag_type(seconds), default=10.0,
                     help="close a connection whose answer is not sent within this "
                          "(default %(default)s)")
    web.add_argument("--web.max-requests", dest="max_requests", metavar="N",
                     type=flag_type(positive_integer), default=40,
                     help="requests served at once; more get 503 (default %(default)s)")
    web.add_argument("--once", action="store_true",
                     help="print the metrics once to stdout and exit")
    web.add_argument("--config.file", dest="config_file", metavar="FILE",
                     help="more flags, one a line; the command line's win; SIGHUP reads "
                          "it again")


def add_security_flags(parser):
    security = parser.add_argument_group("security")
    security.add_argument("--web.tls-cert-file", dest="tls_cert_file", metavar="FILE",
                          help="serve HTTPS with this certificate (PEM; re-read when changed)")
    security.add_argument("--web.tls-key-file", dest="tls_key_file", metavar="FILE",
                          help="the certificate's private key (PEM)")
    security.add_argument("--web.tls-client-ca-file", dest="tls_client_ca_file",
                          metavar="FILE",
                          help="require client certificates signed by these CAs")
    security.add_argument("--web.basic-auth-file", dest="basic_auth_file", metavar="FILE",
                          help="require a user and password from this file of user:hash "
                               "lines")
    security.add_argument("--web.config.file", dest="web_config_file", metavar="FILE",
                          help="exporter-toolkit's web configuration, as node_exporter "
                               "reads it; instead of the four flags above")
    security.add_argument("--hash-password", dest="hash_password", nargs="?",
                          const="prometheus", metavar="USER", type=flag_type(check_user_name),
                          help="read a password and print a user:hash line for "
                               "--web.basic-auth-file (user default: prometheus)")


def add_selecting_flags(parser):
    what = parser.add_argument_group("what to export")
    what.add_argument("--metrics", dest="metrics", metavar="NAME,...", type=comma_list,
                      help="only these metric families; 'default' names the default set, "
                           "'all' every one; what is not exported is not read")
    what.add_argument("--include", action="append", default=[], metavar="REGEX",
                      type=flag_type(checked_rule),
                      help="only processes that match (repeatable)")
    what.add_argument("--exclude", action="append", default=[], metavar="REGEX",
                      type=flag_type(checked_rule),
                      help="leave out processes that match (repeatable)")
    what.add_argument("--user", dest="uids", action="append", default=[],
                      metavar="NAME_OR_UID", type=flag_type(resolve_user),
                      help="only processes of this user (repeatable)")
    what.add_argument("--label", action="append", default=[], choices=["user", "cmdline"],
                      help="add a label: 'user', the user's name; 'cmdline', the command "
                           "line with secrets hidden, cut at %d characters, on process_info "
                           "only" % CMDLINE_LABEL_CHARS)
    what.add_argument("--labels", dest="labels", metavar="LABEL,...", type=comma_list,
                      help="the identity labels of the value series, pid among them; "
                           "process_info keeps all")
    what.add_argument("--min-age", dest="min_age", default="0", metavar="DURATION",
                      type=flag_type(parse_duration),
                      help="no series for a process younger than this (e.g. 30s)")
    what.add_argument("--top", dest="top", type=flag_type(positive_integer), metavar="N",
                      help="series only for the N processes using the most CPU since the "
                           "last scrape and the N using the most memory; the rest summed as "
                           "pid=\"other\"")


def add_group_flags(parser):
    groups = parser.add_argument_group(
        "groups", "instead of a series set per process, the reference process exporter's "
                  "namedprocess_namegroup_* families, a series set per group")
    groups.add_argument("--group-by", dest="group_by",
                        choices=["name", "path", "user", "app"],
                        help="group by name, executable path or user; or by app: on macOS "
                             "the app bundle, on Linux the container or systemd unit")
    groups.add_argument("--group", dest="declared", action="append", default=[],
                        metavar="NAME=REGEX", type=flag_type(parse_group_declaration),
                        help="a group of the processes that match, exported even when none "
                             "runs (repeatable; the first match wins); {name}, {path}, "
                             "{user} or (?P<app>...) in NAME make a group per value")
    groups.add_argument("--config.path", dest="config_path", metavar="FILE",
                        help="the reference exporter's YAML config (process_names), "
                             "after any --group; SIGHUP reads it again")
    groups.add_argument("--children", action="store_true", default=True,
                        help="a process in no group joins its nearest grouped ancestor's "
                             "(default)")
    groups.add_argument("--no-children", dest="children", action="store_false",
                        help="keep them out of their ancestors' groups")
    groups.add_argument("--group-expiry", dest="group_expiry", default="5m",
                        metavar="DURATION", type=flag_type(parse_duration),
                        help="forget a group empty for this long (default %(default)s)")
    groups.add_argument("--kernel-threads", dest="kernel_threads", default="group",
                        choices=["group", "name", "none"],
                        help="with --group-by name or app, Linux kernel threads go to one "
                             "group, each to its name's, or to none (default %(default)s)")
    groups.add_argument("--threads", action="store_true",
                        help="add the per-thread families (reads every thread)")
    groups.add_argument("--gather-smaps", dest="gather_smaps", action="store_true",
                        help="add proportional memory from smaps_rollup (Linux; costly)")


def add_system_flags(parser):
    linux = parser.add_argument_group("Linux")
    linux.add_argument("--path.procfs", dest="procfs", default="/proc", metavar="DIR",
                       help="procfs mount point (default %(default)s)")
    linux.add_argument("--linux.keep-files-open", dest="keep_open", action="store_true",
                       default=True,
                       help="keep /proc files open between scrapes: cheaper scrapes, about "
                            "4 KiB of kernel memory a file (default)")
    linux.add_argument("--no-linux.keep-files-open", dest="keep_open", action="store_false",
                       help="open and close them at every scrape")
    logs = parser.add_argument_group("logging")
    logs.add_argument("--log.level", dest="log_level", choices=LOG_LEVELS, default="info",
                      help="the least important records written (default %(default)s)")
    logs.add_argument("--log.format", dest="log_format", choices=["logfmt", "json"],
                      default="logfmt", help="how stderr's records are written (default "
                                             "%(default)s)")
    parser.add_argument("--version", action="version",
                        version="process_exporter %s (python %d.%d.%d, %s)" % (
                            (__version__,) + tuple(sys.version_info[:3]) + (sys.platform,)))


def parse_args(argv, raise_errors=False):
    """The flags, with those of --config.file (the command line's win); a bad one is
    one line and exit 2, or a ValueError with raise_errors (a reload)."""
    parser = flag_parser(raise_errors)
    for add_flags in (add_serving_flags, add_security_flags, add_selecting_flags,
                      add_group_flags, add_system_flags):
        add_flags(parser)
    args = parser.parse_args(argv)
    args.given = list(argv)           # for the landing page: the flags as given
    if args.config_file:
        try:
            in_file = read_config_file(args.config_file)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            parser.error("--config.file: %s" % exc)
        parser.where = "%s: " % args.config_file
        parser.parse_args(in_file)             # its own mistakes, told as its own
        parser.where = ""
        # The file first, the command line after: a flag given twice, the last wins;
        # repeatable flags (--group, --include...) add to the file's.
        args = parser.parse_args(in_file + list(argv))
        args.given = in_file + list(argv)
    try:
        settle_flags(args)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def settle_flags(args):
    """The rules between flags and what follows from them; a ValueError says which rule
    is broken."""
    if bool(args.tls_cert_file) != bool(args.tls_key_file):
        raise ValueError("--web.tls-cert-file and --web.tls-key-file go together")
    if args.tls_client_ca_file and not args.tls_cert_file:
        raise ValueError("--web.tls-client-ca-file needs --web.tls-cert-file and -key-file")
    if args.web_config_file and (args.tls_cert_file or args.basic_auth_file):
        raise ValueError("--web.config.file holds TLS and users itself: give it, or the "
                         "--web.tls-* and --web.basic-auth-file flags, not both")
    args.kept_files = 0        # the command line's descriptor budget decides (run)
    args.process_names = [] if not args.config_path else \
        read_process_names(args.config_path, args.procfs)
    args.grouped = bool(args.group_by or args.declared or args.config_path)
    if args.grouped and args.label:
        raise ValueError("--label adds to per-process series; groups carry only groupname")
    per_process = [flag for flag, given in (("--labels", args.labels is not None),
                                            ("--min-age", args.min_age > 0),
                                            ("--top", args.top is not None)) if given]
    if args.grouped and per_process:
        raise ValueError("%s bound per-process series; groups are already bounded"
                         % " and ".join(per_process))
    args.identity_labels = PROCESS_LABELS + tuple(
        label for label in ("user", "cmdline") if label in args.label)
    if args.labels is not None and "cmdline" in args.labels:
        raise ValueError("--labels: cmdline labels process_info only, never the values")
    if args.labels is not None:
        unknown = [label for label in args.labels if label not in args.identity_labels]
        if unknown:
            raise ValueError("--labels: no label %s; there are %s"
                             % (", ".join(unknown), ",".join(args.identity_labels)))
        if "pid" not in args.labels:
            raise ValueError("--labels must include pid, which keeps each process's series apart")
    group_only = [flag for flag, given in (("--threads", args.threads),
                                           ("--gather-smaps", args.gather_smaps)) if given]
    if group_only and not args.grouped:
        raise ValueError("%s add to the group families: use them with --group-by or --group"
                         % " and ".join(group_only))
    metrics = args.metrics
    if args.threads:
        metrics = list(metrics or ["default"]) + list(THREAD_FAMILIES)
    args.families = select_families(metrics, GROUP_FAMILIES if args.grouped else PROCESS_FAMILIES)
    args.fields = fields_of(args.families)
    if not args.gather_smaps:       # smaps_rollup is read only when asked for by name
        args.fields -= {"proportional_resident_bytes", "proportional_swapped_bytes"}


def descriptor_limit(ceiling=65536):
    """The soft limit on descriptors, raised to the hard one (as Go programs do) up to
    `ceiling`."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)
    if soft == resource.RLIM_INFINITY:
        return ceiling
    if soft < wanted:
        with suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    return soft


FILES_HEADROOM = 192     # descriptors left over for files read now and then (reloads, fd/)


def descriptor_budget(args):
    """(connections, kept files) that the descriptor limit, raised first, allows; --once
    raises nothing and keeps no file."""
    if args.once:
        return None, 0
    soft = descriptor_limit()
    connections = connection_cap(soft)
    if not args.keep_open or not sys.platform.startswith("linux"):
        return connections, 0
    return connections, max(0, soft - connections - DESCRIPTORS_KEPT - FILES_HEADROOM)


M_MMAP_THRESHOLD = -3      # glibc's mallopt() parameter


def tune_malloc():
    """On glibc, give the big per-scrape buffers back when freed: glibc's adaptive mmap
    threshold would serve them from its heap, where they linger as RSS."""
    if not sys.platform.startswith("linux"):
        return
    with suppress(OSError, AttributeError):     # not glibc (musl has no mallopt)
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, 128 * 1024)


def release_memory():
    """Give the system back the heap freed since start-up: compiling this script and
    its first scrape leave some 10 MiB free but kept (glibc's malloc_trim; macOS's
    malloc_zone_pressure_relief, all zones)."""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        if sys.platform == "darwin":
            libc.malloc_zone_pressure_relief.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
            libc.malloc_zone_pressure_relief(None, 0)
        else:
            libc.malloc_trim(0)


def build_exporter(args, kept_files=0, reader=None):
    """The Exporter the flags ask for (of `reader`, if given: it reads the new fields
    once a running Exporter is reconfigured)."""
    user_names = UserNames()
    grouper = None
    if args.grouped:
        grouper = Grouper(args.group_by, args.declared, args.children, args.group_expiry,
                          user_names, args.kernel_threads, AppNames(procfs=args.procfs),
                          args.process_names)
    labels_of = labeler(args.identity_labels, user_names)
    value_labels = args.labels
    if value_labels is None and "cmdline" in args.identity_labels:
        value_labels = [label for label in args.identity_labels if label != "cmdline"]
    value_labels_of = None if value_labels is None else labeler(
        [label for label in args.identity_labels if label in value_labels], user_names)
    top = TopConsumers(args.top, args.families) if args.top else None
    fields = set(args.fields)
    if "cmdline" in args.identity_labels or args.group_by == "app" or args.config_path or \
            needs_cmdline(
            args.include + args.exclude + [rule for _, rule in args.declared]):
        fields.add(CMDLINE)          # (an interpreter's app is the script it runs)
    if reader is None:
        reader = make_reader(args.procfs, fields, kept_files=kept_files)
    return Exporter(reader, args.families,
                    Filter(args.include, args.exclude, args.uids, user_names),
                    grouper, labels_of, value_labels_of, args.min_age, top, fields=fields)


def load_security(args):
    """TLS, basic auth and headers, from the flags or the web configuration, and the
    warnings a user should see once."""
    tls = auth = headers = None
    if args.tls_cert_file:
        tls = TLSFiles(args.tls_cert_file, args.tls_key_file, args.tls_client_ca_file)
    secrets = args.basic_auth_file or args.web_config_file
    if args.basic_auth_file:
        auth = BasicAuth(args.basic_auth_file)
    if args.web_config_file:
        web = WebConfig(args.web_config_file)
        tls = Picked(web, "context") if web.current.context is not None else None
        auth, headers = WebConfigAuth(web), Picked(web, "headers")
    if secrets and os.stat(secrets).st_mode & 0o004:
        log("%s is world-readable; chmod 600 it" % secrets, "warn")
    host = args.listen_address.host
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if not loopback and tls is None and not (auth and auth.users()):
        log("listening beyond loopback (%s) without TLS or basic auth: anyone who can "
            "reach it can read this machine's process list" % args.listen_address, "warn")
    return tls, auth, headers


def warn_of_short_reach(args):
    """A line for each rule that searches only the start of a long text (regex_reach)."""
    rules = [("--include", text) for text in args.include] + \
        [("--exclude", text) for text in args.exclude] + \
        [("--group", "%s=%s" % pair) for pair in args.declared]
    for flag, text in rules:
        reach = regex_reach(split_rule(text.partition("=")[2] if flag == "--group" else text)[1])
        if reach < PROC_PIDPATHINFO_MAXSIZE:
            log("%s %r searches only the first %d characters of a longer name, path or "
                "command line: its regex could backtrack long on more (anchor it with ^, "
                "or drop a leading .*)" % (flag, text, reach), "warn")


def print_password_hash(user):
    """--hash-password: a user:hash line for the basic-auth file, on stdout."""
    try:
        password = read_new_password()
    except (ValueError, EOFError, KeyboardInterrupt, OSError) as exc:
        log("no password: %s" % (exc or "cancelled"), "error")
        return 1
    if not password:
        log("an empty password is not accepted", "error")
        return 1
    return write_exposition([("%s:%s\n" % (user, hash_password(password))).encode("utf-8")],
                            "the hash")


# What a reload cannot change: the listening socket, TLS, auth and procfs stay as
# started (a restart applies them).
RESTART_FLAGS = [pair.split("=") for pair in """--web.listen-address=listen_address
    --web.telemetry-path=telemetry_path --web.read-timeout=read_timeout
    --web.write-timeout=write_timeout --web.max-requests=max_requests
    --web.tls-cert-file=tls_cert_file --web.tls-key-file=tls_key_file
    --web.tls-client-ca-file=tls_client_ca_file --web.basic-auth-file=basic_auth_file
    --path.procfs=procfs --linux.keep-files-open=keep_open""".split()]


def reload_config(exporter, argv, running, server=None):
    """SIGHUP: parse the flags again and apply what to export, keeping the reader and
    the groups' history; the RESTART_FLAGS stay as started."""
    try:
        args = parse_args(argv, raise_errors=True)
        later = [flag for flag, name in RESTART_FLAGS
                 if getattr(args, name) != getattr(running, name)]
        for _, name in RESTART_FLAGS:
            setattr(args, name, getattr(running, name))
        exporter.reconfigure(build_exporter(args, running.kept_files, exporter.reader))
        use_logging(args)
    except (OSError, ValueError) as exc:
        log("keeping the old settings: %s" % exc, "error")
        return
    if server is not None:
        server.flags = list(args.given)       # what the landing page shows
    log("reloaded %s%s" % (" and ".join(path for path in (running.config_file,
                                                          running.config_path) if path),
                           "; a restart applies " + ", ".join(later) if later else ""))


def write_exposition(chunks, what="the metrics"):
    """--once: the chunks on stdout as bytes; the exit code."""
    if sys.stdout is None or sys.stdout.closed:
        log("cannot write %s: standard output is closed" % what, "error")
        return 1
    binary = getattr(sys.stdout, "buffer", None)     # none if stdout was replaced by text
    try:
        for chunk in chunks:
            if binary is None:
                sys.stdout.write(chunk.decode("utf-8"))
            else:
                binary.write(chunk)
        (sys.stdout if binary is None else binary).flush()
    except BrokenPipeError:      # the reader left (| head -1): as quiet as SIGPIPE
        silence_stdout()
        return 1
    except (OSError, ValueError) as exc:     # a full disk, a closed descriptor
        log("cannot write %s: %s" % (what, getattr(exc, "strerror", None) or exc), "error")
        silence_stdout()
        return 1
    return 0


def silence_stdout():
    """Point stdout at /dev/null, so that the last flush raises nothing at exit."""
    with suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def main(argv=None):
    """Run the exporter; the exit code (130 for Ctrl-C before serving).  SIGHUP is
    noted, never fatal."""
    import signal
    with suppress(ValueError):        # not the main thread (a test): its SIGHUP is not ours
        signal.signal(signal.SIGHUP, HANGUPS)
    try:
        return run(argv)
    except KeyboardInterrupt:
        return 130


def use_logging(args):
    Logging.level, Logging.json = LOG_LEVELS.index(args.log_level), args.log_format == "json"


def run(argv):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    use_logging(args)
    if args.hash_password is not None:
        return print_password_hash(args.hash_password)
    tls = auth = headers = None
    if not args.once:
        try:
            tls, auth, headers = load_security(args)
        except (OSError, ValueError) as exc:
            log("cannot start: %s" % exc, "error")
            return 2
        tune_malloc()
    connections, args.kept_files = descriptor_budget(args)
    warn_of_short_reach(args)
    try:
        exporter = build_exporter(args, args.kept_files)
        chunks = exporter.scrape_chunks()
    except (OSError, ValueError) as exc:      # no libSystem, no procfs, a broken one
        log("cannot read processes: %s" % exc, "error")
        return 1
    if args.once:
        return write_exposition(chunks)
    del chunks        # the start-up scrape was a check: its text is not kept
    release_memory()
    try:
        server = make_server(exporter, args.listen_address, telemetry_path=args.telemetry_path,
                             read_timeout=args.read_timeout, max_requests=args.max_requests,
                             tls=tls, auth=auth, write_timeout=args.write_timeout,
                             max_connections=connections, flags=args.given, headers=headers)
    except OSError as exc:
        log("cannot listen on %s: %s" % (args.listen_address, exc.strerror or exc), "error")
        return 1
    guards = [name for name, on in (("TLS", tls), ("client certificates",
                                                   args.tls_client_ca_file),
                                    ("basic auth", auth)) if on]

    def ready():       # said once the signals are ours: a reload can be asked for now
        log("version %s listening on %s (port %d), metrics at %s%s"
            % (__version__, args.listen_address, server.server_address[1],
               args.telemetry_path, " with " + ", ".join(guards) if guards else ""))
        partial = exporter.reader.partial
        if partial:      # said once here, not once per process per scrape
            log("%d of %d processes were read only in part: the kernel refused some of "
                "their numbers%s" % (partial, exporter.last_count,
                                     "" if os.geteuid() == 0 else
                                     "; run as root to read other users' processes"))
    serve(server, (lambda: reload_config(exporter, argv, args, server))
          if args.config_file or args.config_path else None, ready)
    log("stopped")
    return 0


def serve_as_a_module(argv):
    """Serve from a fresh interpreter that loads this file as a module, in this same
    process (exec).  CPython keeps a script's syntax tree for as long as the script
    runs, some 10 MiB here; a module's is freed once compiled.  SIGHUP stays ignored
    across the exec, until the new main() notes it."""
    import signal
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    flags = [flag for flag, on in (("-S", sys.flags.no_site), ("-E", sys.flags.ignore_environment),
                                   ("-s", sys.flags.no_user_site)) if on]
    os.execv(sys.executable, [sys.executable] + flags + [
        "-c", "import runpy, sys; sys.exit(runpy.run_path(sys.argv[1], run_name="
              "'process_exporter')['main'](sys.argv[2:]))", os.path.abspath(__file__)] + argv)


if __name__ == "__main__":
    if not {"--once", "-h", "--help", "--version", "--hash-password"}.intersection(
            arg.partition("=")[0] for arg in sys.argv[1:]) and sys.executable:
        with suppress(OSError):          # no interpreter to exec: serve from the script
            serve_as_a_module(sys.argv[1:])
    sys.exit(main())
