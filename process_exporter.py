#!/usr/bin/env python3
"""process_exporter.py: a Prometheus exporter of per-process metrics for macOS and Linux.

One file, standard library only, for the Mac's own /usr/bin/python3 (3.8 and later).
On macOS it reads libproc through ctypes (what `ps` and Activity Monitor show); on
Linux it reads /proc.  Run it and let Prometheus scrape it:

    python3 process_exporter.py                      # serves http://127.0.0.1:9256/metrics
    python3 process_exporter.py --once               # prints one exposition and exits
    python3 process_exporter.py --web.listen-address=:9256   # every interface

Data flows one way:  read (DarwinReader / LinuxReader)  ->  render (exposition text)
->  serve (HTTP) or print (--once).  Each section below has one of those jobs.
"""

import ctypes
import errno
import os
import sys
import threading
import time

__version__ = "0.1.0"

DEFAULT_LISTEN_ADDRESS = "127.0.0.1:9256"
DEFAULT_TELEMETRY_PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def log(message):
    """One line on stderr with a UTC timestamp: launchd keeps it in the job's log."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sys.stderr.write("%s process_exporter: %s\n" % (stamp, message))
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# The data: one record per process
# ---------------------------------------------------------------------------

class Process:
    """What one reading of one process gave.

    Identity (pid, ppid, uid, gid, name, path) is always set.  A number the
    platform or the permissions did not give stays None and is not exported:
    a user would read an exported 0 as real.
    """

    __slots__ = ("pid", "ppid", "uid", "gid", "name", "path",
                 "start_time", "cpu_user", "cpu_system", "resident_bytes")

    def __init__(self, pid, ppid, uid, gid, name, path, start_time=None,
                 cpu_user=None, cpu_system=None, resident_bytes=None):
        self.pid = pid
        self.ppid = ppid
        self.uid = uid
        self.gid = gid
        self.name = name                  # str; invalid UTF-8 already replaced
        self.path = path                  # str; "" when the kernel would not say
        self.start_time = start_time      # seconds since the epoch, float
        self.cpu_user = cpu_user          # seconds, float
        self.cpu_system = cpu_system      # seconds, float
        self.resident_bytes = resident_bytes

    def __repr__(self):
        return "Process(%s)" % ", ".join(
            "%s=%r" % (slot, getattr(self, slot)) for slot in self.__slots__)


# Why a process listed by the kernel did not make it into the exposition.
SKIP_REASONS = ("permission_denied", "vanished", "error")


def decode(raw):
    """Kernel bytes (a path, a name) as text that is always valid UTF-8."""
    return raw.decode("utf-8", "replace")


class Reader:
    """What both platform readers share: the tally of processes they skipped."""

    def __init__(self):
        self.skipped = dict.fromkeys(SKIP_REASONS, 0)

    def read(self):
        """Every process the kernel lists now, as a list of Process records."""
        raise NotImplementedError

    def _start_reading(self):
        self.skipped = dict.fromkeys(SKIP_REASONS, 0)


# ---------------------------------------------------------------------------
# macOS: libproc through ctypes
#
# The structs carry Apple's C names and field names (xnu bsd/sys/proc_info.h);
# a test checks every size and offset against Apple's headers.
# ---------------------------------------------------------------------------

LIBSYSTEM_PATH = "/usr/lib/libSystem.B.dylib"

PROC_PIDTASKALLINFO = 2
PROC_PIDT_SHORTBSDINFO = 13
PROC_PIDPATHINFO_MAXSIZE = 4096     # 4 * MAXPATHLEN; proc_pidpath refuses more
MAXCOMLEN = 16

c_uint32 = ctypes.c_uint32
c_int32 = ctypes.c_int32
c_uint64 = ctypes.c_uint64


class proc_bsdinfo(ctypes.Structure):
    _fields_ = [
        ("pbi_flags", c_uint32),
        ("pbi_status", c_uint32),
        ("pbi_xstatus", c_uint32),
        ("pbi_pid", c_uint32),
        ("pbi_ppid", c_uint32),
        ("pbi_uid", c_uint32),          # effective uid
        ("pbi_gid", c_uint32),
        ("pbi_ruid", c_uint32),
        ("pbi_rgid", c_uint32),
        ("pbi_svuid", c_uint32),
        ("pbi_svgid", c_uint32),
        ("rfu_1", c_uint32),
        ("pbi_comm", ctypes.c_char * MAXCOMLEN),         # at most 15 chars
        ("pbi_name", ctypes.c_char * (2 * MAXCOMLEN)),   # at most 31 chars, may be empty
        ("pbi_nfiles", c_uint32),
        ("pbi_pgid", c_uint32),
        ("pbi_pjobc", c_uint32),
        ("e_tdev", c_uint32),
        ("e_tpgid", c_uint32),
        ("pbi_nice", c_int32),
        ("pbi_start_tvsec", c_uint64),   # wall clock at fork, kept across exec
        ("pbi_start_tvusec", c_uint64),
    ]


class proc_bsdshortinfo(ctypes.Structure):
    _fields_ = [
        ("pbsi_pid", c_uint32),
        ("pbsi_ppid", c_uint32),
        ("pbsi_pgid", c_uint32),
        ("pbsi_status", c_uint32),
        ("pbsi_comm", ctypes.c_char * MAXCOMLEN),
        ("pbsi_flags", c_uint32),
        ("pbsi_uid", c_uint32),
        ("pbsi_gid", c_uint32),
        ("pbsi_ruid", c_uint32),
        ("pbsi_rgid", c_uint32),
        ("pbsi_svuid", c_uint32),
        ("pbsi_svgid", c_uint32),
        ("pbsi_rfu", c_uint32),
    ]


class proc_taskinfo(ctypes.Structure):
    _fields_ = [
        ("pti_virtual_size", c_uint64),      # bytes
        ("pti_resident_size", c_uint64),     # bytes
        ("pti_total_user", c_uint64),        # Mach absolute-time ticks, not ns
        ("pti_total_system", c_uint64),      # Mach absolute-time ticks
        ("pti_threads_user", c_uint64),
        ("pti_threads_system", c_uint64),
        ("pti_policy", c_int32),
        ("pti_faults", c_int32),
        ("pti_pageins", c_int32),
        ("pti_cow_faults", c_int32),
        ("pti_messages_sent", c_int32),
        ("pti_messages_received", c_int32),
        ("pti_syscalls_mach", c_int32),
        ("pti_syscalls_unix", c_int32),
        ("pti_csw", c_int32),
        ("pti_threadnum", c_int32),
        ("pti_numrunning", c_int32),
        ("pti_priority", c_int32),
    ]


class proc_taskallinfo(ctypes.Structure):
    _fields_ = [
        ("pbsd", proc_bsdinfo),
        ("ptinfo", proc_taskinfo),
    ]


class mach_timebase_info(ctypes.Structure):
    _fields_ = [
        ("numer", c_uint32),
        ("denom", c_uint32),
    ]


def load_libsystem(path=LIBSYSTEM_PATH):
    """libSystem, where libproc lives; dlopen finds it in the dyld shared cache."""
    return ctypes.CDLL(path, use_errno=True)


def declare_prototypes(lib):
    """Give every libproc call its C prototype: an untyped 64-bit argument is a bug."""
    c_int, c_void_p = ctypes.c_int, ctypes.c_void_p
    lib.proc_listallpids.argtypes = [c_void_p, c_int]
    lib.proc_listallpids.restype = c_int
    lib.proc_pidinfo.argtypes = [c_int, c_int, c_uint64, c_void_p, c_int]
    lib.proc_pidinfo.restype = c_int
    lib.proc_pidpath.argtypes = [c_int, c_void_p, c_uint32]
    lib.proc_pidpath.restype = c_int
    lib.mach_timebase_info.argtypes = [ctypes.POINTER(mach_timebase_info)]
    lib.mach_timebase_info.restype = c_int
    lib.sysctlbyname.argtypes = [ctypes.c_char_p, c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                 c_void_p, ctypes.c_size_t]
    lib.sysctlbyname.restype = c_int


def mach_tick_ratio(lib):
    """(numer, denom) such that seconds = Mach ticks * numer / denom.

    hw.tbfrequency first: under Rosetta mach_timebase_info() answers 1/1 while the
    kernel still counts native ticks (24 MHz on Apple Silicon, 41.67 ns each).
    """
    frequency = ctypes.c_int64(0)
    size = ctypes.c_size_t(ctypes.sizeof(frequency))
    if lib.sysctlbyname(b"hw.tbfrequency", ctypes.byref(frequency), ctypes.byref(size),
                        None, 0) == 0 and frequency.value > 0:
        return 1, frequency.value
    timebase = mach_timebase_info()
    if lib.mach_timebase_info(ctypes.byref(timebase)) != 0 or timebase.denom == 0:
        raise OSError("mach_timebase_info failed")
    return timebase.numer, timebase.denom * 1000000000


class DarwinReader(Reader):
    """Reads every process through libproc: one proc_pidinfo and one proc_pidpath per pid."""

    def __init__(self, lib=None):
        Reader.__init__(self)
        self.lib = lib if lib is not None else load_libsystem()
        declare_prototypes(self.lib)
        self.tick_numer, self.tick_denom = mach_tick_ratio(self.lib)
        # One buffer of each kind, reused for every pid of every scrape.
        self._info = proc_taskallinfo()
        self._path = ctypes.create_string_buffer(PROC_PIDPATHINFO_MAXSIZE)
        self._pids = (ctypes.c_int * 0)()

    def list_pids(self):
        """Every pid, zombies included; proc_listallpids counts pids but takes bytes."""
        lib = self.lib
        estimate = lib.proc_listallpids(None, 0)
        if estimate <= 0:
            raise OSError(ctypes.get_errno(), "proc_listallpids: %s"
                          % os.strerror(ctypes.get_errno()))
        capacity = max(len(self._pids), estimate + 64)
        while True:
            if len(self._pids) < capacity:
                self._pids = (ctypes.c_int * capacity)()
            count = lib.proc_listallpids(self._pids, ctypes.sizeof(self._pids))
            if count <= 0:
                raise OSError(ctypes.get_errno(), "proc_listallpids: %s"
                              % os.strerror(ctypes.get_errno()))
            if count < capacity:
                return self._pids[:count]
            capacity *= 2      # it came back full: there may be more

    def read(self):
        self._start_reading()
        lib, info, path, skipped = self.lib, self._info, self._path, self.skipped
        info_ref, info_size = ctypes.byref(info), ctypes.sizeof(info)
        numer, denom = self.tick_numer, self.tick_denom
        records = []
        seen = set()
        for pid in self.list_pids():
            if pid in seen:           # a process moving to the zombie list mid-walk
                continue
            seen.add(pid)
            if lib.proc_pidinfo(pid, PROC_PIDTASKALLINFO, 0, info_ref, info_size) != info_size:
                err = ctypes.get_errno()
                if err == errno.ESRCH:        # exited since the listing, or a zombie
                    skipped["vanished"] += 1
                elif err == errno.EPERM:      # another user's process, and we are not root
                    skipped["permission_denied"] += 1
                else:
                    skipped["error"] += 1
                continue
            # ESRCH here is pid 0 (no executable), ENOENT a deleted executable.
            length = lib.proc_pidpath(pid, path, PROC_PIDPATHINFO_MAXSIZE)
            bsd, task = info.pbsd, info.ptinfo
            records.append(Process(
                pid=pid,
                ppid=bsd.pbi_ppid,
                uid=bsd.pbi_uid,
                gid=bsd.pbi_gid,
                name=decode(bsd.pbi_name or bsd.pbi_comm),
                path=decode(ctypes.string_at(path, length)) if length > 0 else "",
                start_time=bsd.pbi_start_tvsec + bsd.pbi_start_tvusec / 1e6,
                cpu_user=task.pti_total_user * numer / denom,
                cpu_system=task.pti_total_system * numer / denom,
                resident_bytes=task.pti_resident_size,
            ))
        return records


# ---------------------------------------------------------------------------
# Linux: /proc
# ---------------------------------------------------------------------------

class LinuxReader(Reader):
    """Reads every process from a procfs tree (/proc, or one a test made)."""

    def __init__(self, procfs="/proc"):
        Reader.__init__(self)
        self.procfs = procfs
        self.clock_ticks = os.sysconf("SC_CLK_TCK")
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        self.boot_time = self._boot_time()

    def _boot_time(self):
        """Wall-clock time of boot, to a hundredth of a second.

        /proc/stat's btime is whole seconds; now minus /proc/uptime is finer, and
        both count from the same boot clock as a process's starttime.
        """
        try:
            with open(os.path.join(self.procfs, "uptime"), "rb") as f:
                return time.time() - float(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        with open(os.path.join(self.procfs, "stat"), "rb") as f:
            for line in f:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
        raise OSError("no boot time in %s" % self.procfs)

    def read(self):
        self._start_reading()
        records = []
        for entry in os.listdir(self.procfs):
            if not entry.isdigit():
                continue
            try:
                record = self.read_process(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                self.skipped["vanished"] += 1
            except PermissionError:
                self.skipped["permission_denied"] += 1
            except (OSError, ValueError, IndexError):
                self.skipped["error"] += 1
            else:
                records.append(record)
        return records

    def read_process(self, pid):
        base = "%s/%d/" % (self.procfs, pid)
        with open(base + "stat", "rb") as f:
            stat = f.read()
        # The name sits in parentheses and may hold spaces and ')': split after the last.
        close = stat.rindex(b")")
        name = stat[stat.index(b"(") + 1:close]
        fields = stat[close + 2:].split()
        ppid = int(fields[1])
        ticks = self.clock_ticks
        uid, gid = self._owner(base)
        try:
            path = decode(os.readlink(os.fsencode(base + "exe")))
        except OSError:       # kernel threads, zombies, other users' processes
            path = ""
        return Process(
            pid=pid,
            ppid=ppid,
            uid=uid,
            gid=gid,
            name=decode(name),
            path=path,
            start_time=self.boot_time + int(fields[19]) / ticks,
            cpu_user=int(fields[11]) / ticks,
            cpu_system=int(fields[12]) / ticks,
            # stat's rss is the same page count as statm's resident.
            resident_bytes=int(fields[21]) * self.page_size,
        )

    @staticmethod
    def _owner(base):
        """Effective uid and gid, from the second column of status's Uid: and Gid:."""
        uid = gid = None
        with open(base + "status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    uid = int(line.split()[2])
                elif line.startswith(b"Gid:"):
                    gid = int(line.split()[2])
                    break
        if uid is None or gid is None:
            raise ValueError("no Uid/Gid in %sstatus" % base)
        return uid, gid


def make_reader(procfs="/proc", platform=None):
    """The reader for this platform."""
    platform = platform or sys.platform
    if platform == "darwin":
        return DarwinReader()
    if platform.startswith("linux"):
        return LinuxReader(procfs)
    raise OSError("unsupported platform %r: only macOS and Linux are read" % platform)


def collect(reader=None):
    """Every process on this machine now, as Process records."""
    return (reader or make_reader()).read()


# ---------------------------------------------------------------------------
# The metric families: one table, which the renderer and the README follow
# ---------------------------------------------------------------------------

class Family:
    """One metric family: its name, type, help, and where each sample's value comes from.

    `samples` pairs the extra label text of a sample (or "") with the Process
    attribute that holds its value.
    """

    __slots__ = ("name", "type", "help", "samples")

    def __init__(self, name, type, help, samples):
        self.name = name
        self.type = type
        self.help = help
        self.samples = samples


PROCESS_FAMILIES = (
    Family("process_start_time_seconds", "gauge",
           "Start time of the process since unix epoch in seconds.",
           (("", "start_time"),)),
    Family("process_cpu_seconds_total", "counter",
           "Total user and system CPU time spent in seconds.",
           (('mode="user"', "cpu_user"), ('mode="system"', "cpu_system"))),
    Family("process_resident_memory_bytes", "gauge",
           "Resident memory size in bytes.",
           (("", "resident_bytes"),)),
)

# The exporter's own families (rendered by render_self below).
SELF_FAMILIES = (
    Family("process_exporter_build_info", "gauge",
           "A metric with a constant '1' value labeled by version, python_version and "
           "platform from which process_exporter was built.", ()),
    Family("process_exporter_scrape_duration_seconds", "gauge",
           "Time the last scrape took to read and render every process.", ()),
    Family("process_exporter_processes", "gauge",
           "Processes exported in the last scrape.", ()),
    Family("process_exporter_processes_skipped", "gauge",
           "Processes listed by the kernel but not exported in the last scrape, by reason.", ()),
)

PROCESS_LABELS = ("pid", "ppid", "uid", "gid", "path", "name")


# ---------------------------------------------------------------------------
# Rendering: the Prometheus text exposition format 0.0.4
# ---------------------------------------------------------------------------

def escape_label_value(value):
    """Backslash, double quote and line feed are the three escapes the format knows."""
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value):
    """A sample value in full precision, spelled as Go's ParseFloat reads it."""
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def family_header(family):
    return "# HELP %s %s\n# TYPE %s %s\n" % (
        family.name, escape_help(family.help), family.name, family.type)


def process_labels(record):
    """The label set shared by every series of one process, built once per scrape."""
    return 'pid="%d",ppid="%d",uid="%d",gid="%d",path="%s",name="%s"' % (
        record.pid, record.ppid, record.uid, record.gid,
        escape_label_value(record.path), escape_label_value(record.name))


def render_processes(records, families=PROCESS_FAMILIES):
    """The per-process families: each family's samples together, one series per pid."""
    labelled = [(process_labels(record), record) for record in records]
    parts = []
    for family in families:
        parts.append(family_header(family))
        name = family.name
        for extra, attribute in family.samples:
            sep = "," + extra if extra else ""
            for labels, record in labelled:
                value = getattr(record, attribute)
                if value is not None:
                    parts.append("%s{%s%s} %s\n" % (name, labels, sep, format_value(value)))
    return "".join(parts)


def render_self(processes, skipped, duration):
    """The exporter's own families: what it is and how the last scrape went."""
    build, duration_family, count, skipped_family = SELF_FAMILIES
    platform = sys.platform
    python_version = "%d.%d.%d" % sys.version_info[:3]
    parts = [
        family_header(build),
        '%s{version="%s",python_version="%s",platform="%s"} 1\n' % (
            build.name, escape_label_value(__version__), python_version,
            escape_label_value(platform)),
        family_header(duration_family),
        "%s %s\n" % (duration_family.name, format_value(duration)),
        family_header(count),
        "%s %d\n" % (count.name, processes),
        family_header(skipped_family),
    ]
    for reason in SKIP_REASONS:
        parts.append('%s{reason="%s"} %d\n' % (skipped_family.name, reason,
                                                skipped.get(reason, 0)))
    return "".join(parts)


def render(records, skipped=None, duration=0.0, families=PROCESS_FAMILIES):
    """The whole exposition for these records, ending in a newline."""
    return render_processes(records, families) + render_self(
        len(records), skipped or {}, duration)


class Exporter:
    """Reads and renders on demand; one scrape at a time, since readers keep buffers."""

    def __init__(self, reader):
        self.reader = reader
        self._lock = threading.Lock()

    def scrape(self):
        """The exposition text of this moment."""
        with self._lock:
            started = time.perf_counter()
            records = self.reader.read()
            body = render_processes(records)
            duration = time.perf_counter() - started
            return body + render_self(len(records), self.reader.skipped, duration)


# ---------------------------------------------------------------------------
# HTTP: a thin layer over http.server, imported only when serving
# ---------------------------------------------------------------------------

LANDING_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Process Exporter</title></head>
<body><h1>Process Exporter</h1>
<p>Per-process metrics for Prometheus, version %(version)s.</p>
<p><a href="%(path)s">Metrics</a></p>
</body></html>
"""


# Connections open at once (idle ones included); requests have their own, lower cap.
MAX_CONNECTIONS = 1000


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


def make_server(exporter, address=DEFAULT_LISTEN_ADDRESS,
                telemetry_path=DEFAULT_TELEMETRY_PATH, read_timeout=10.0, max_requests=40):
    """A ThreadingHTTPServer bound to address and serving the exporter, not yet started."""
    import gzip
    import http.server
    import socket

    host, port = parse_listen_address(address)
    request_slots = threading.BoundedSemaphore(max_requests)
    connection_slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    landing_page = (LANDING_PAGE % {"version": __version__, "path": telemetry_path}).encode()

    class MetricsHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"          # keep-alive, as Prometheus scrapes
        default_request_version = "HTTP/1.0"   # so even a garbled request gets a status line
        server_version = "process_exporter/" + __version__
        timeout = read_timeout                 # an idle or slow client is let go
        disable_nagle_algorithm = True         # headers and body must not wait on an ACK

        def version_string(self):
            return self.server_version         # no Python version for strangers

        def parse_request(self):
            # The base class answers malformed requests (400, 414, 431, 505) itself.
            if not http.server.BaseHTTPRequestHandler.parse_request(self):
                return False
            if self.headers.defects:           # e.g. a header line without a colon
                self.send_error(400, "Malformed header")
                return False
            if self.command not in ("GET", "HEAD"):
                self.close_connection = True   # its body, if any, is left unread
                self.reply(405, b"Method Not Allowed\n", (("Allow", "GET, HEAD"),))
                return False
            return True

        def do_GET(self):
            if not request_slots.acquire(blocking=False):
                self.reply(503, b"Too many requests at once\n", (("Retry-After", "1"),))
                return
            try:
                self.route()
            finally:
                request_slots.release()

        do_HEAD = do_GET

        def route(self):
            path = self.path.split("?", 1)[0]
            if path == telemetry_path:
                try:
                    body = exporter.scrape().encode("utf-8")
                except Exception as exc:   # the reader failed as a whole: say so, carry on
                    log("scrape failed: %s: %s" % (type(exc).__name__, exc))
                    self.reply(500, b"Scrape failed; see the exporter's log\n")
                    return
                headers = [("Content-Type", CONTENT_TYPE)]
                if accepts_gzip(self.headers.get("Accept-Encoding")):
                    body = gzip.compress(body, compresslevel=6)
                    headers.append(("Content-Encoding", "gzip"))
                self.reply(200, body, headers)
            elif path == "/":
                self.reply(200, landing_page, (("Content-Type", "text/html; charset=utf-8"),))
            else:
                self.reply(404, b"Not Found\n")

        def reply(self, status, body, headers=()):
            self.send_response(status)
            headers = dict(headers)
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            headers["Content-Length"] = str(len(body))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format, *args):
            pass       # no line per request: launchd would keep every one

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True           # a stuck client never holds up exit
        request_queue_size = 128        # listen backlog: a burst of connections waits
        allow_reuse_address = True

        def __init__(self):
            self.address_family = socket.AF_INET
            bind_host = host
            if host == "":
                if socket.has_ipv6:
                    self.address_family, bind_host = socket.AF_INET6, "::"
            elif ":" in host:
                self.address_family = socket.AF_INET6
            http.server.ThreadingHTTPServer.__init__(self, (bind_host, port), MetricsHandler)

        def server_bind(self):
            if self.address_family == socket.AF_INET6 and host == "":
                # '::' with V6ONLY off takes IPv4 too: ':9256' means every interface.
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            http.server.ThreadingHTTPServer.server_bind(self)

        def process_request(self, request, client_address):
            # A thread per connection, but not without end: past the cap, hang up.
            if not connection_slots.acquire(blocking=False):
                self.shutdown_request(request)
                return
            http.server.ThreadingHTTPServer.process_request(self, request, client_address)

        def process_request_thread(self, request, client_address):
            try:
                http.server.ThreadingHTTPServer.process_request_thread(
                    self, request, client_address)
            finally:
                connection_slots.release()

        def handle_error(self, request, client_address):
            exc = sys.exc_info()[1]
            if isinstance(exc, (ConnectionError, socket.timeout, TimeoutError)):
                return             # the client hung up or went quiet: nothing to report
            log("error serving %s: %s: %s" % (client_address[0], type(exc).__name__, exc))

    return Server()


def serve(server):
    """Serve until SIGTERM or SIGINT, then close and return."""
    import signal

    class Stop(BaseException):     # not an Exception: socketserver must not swallow it
        pass

    def stop(signum, frame):
        raise Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    except Stop:
        pass
    finally:
        server.server_close()


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------

def parse_args(argv):
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            # One clear line, not the whole usage block.
            self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))

    parser = Parser(
        prog="process_exporter.py",
        description="Prometheus exporter of per-process CPU, memory and start time "
                    "for macOS (libproc) and Linux (/proc).")
    parser.add_argument("--web.listen-address", dest="listen_address",
                        default=DEFAULT_LISTEN_ADDRESS, metavar="HOST:PORT",
                        help="address to listen on; ':9256' is every interface, "
                             "'[::1]:9256' IPv6 (default %(default)s)")
    parser.add_argument("--web.telemetry-path", dest="telemetry_path",
                        default=DEFAULT_TELEMETRY_PATH, metavar="PATH",
                        help="path under which to serve metrics (default %(default)s)")
    parser.add_argument("--web.read-timeout", dest="read_timeout", type=float,
                        default=10.0, metavar="SECONDS",
                        help="close a connection idle for this long (default %(default)s)")
    parser.add_argument("--web.max-requests", dest="max_requests", type=int,
                        default=40, metavar="N",
                        help="requests served at once; more get 503 (default %(default)s)")
    parser.add_argument("--path.procfs", dest="procfs", default="/proc", metavar="DIR",
                        help="procfs mount point, Linux only (default %(default)s)")
    parser.add_argument("--once", action="store_true",
                        help="print the metrics once to stdout and exit")
    parser.add_argument("--version", action="version",
                        version="process_exporter %s (python %d.%d.%d, %s)" % (
                            (__version__,) + tuple(sys.version_info[:3]) + (sys.platform,)))
    args = parser.parse_args(argv)
    if not args.telemetry_path.startswith("/") or args.telemetry_path == "/":
        parser.error("--web.telemetry-path must start with / and not be / itself")
    if args.read_timeout <= 0:
        parser.error("--web.read-timeout must be positive")
    if args.max_requests < 1:
        parser.error("--web.max-requests must be at least 1")
    try:
        parse_listen_address(args.listen_address)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        exporter = Exporter(make_reader(args.procfs))
    except OSError as exc:
        log("cannot read processes: %s" % exc)
        return 1
    if args.once:
        try:
            text = exporter.scrape()
        except OSError as exc:
            log("cannot read processes: %s" % exc)
            return 1
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    try:
        server = make_server(exporter, args.listen_address, args.telemetry_path,
                             args.read_timeout, args.max_requests)
    except OSError as exc:
        log("cannot listen on %s: %s" % (args.listen_address, exc.strerror or exc))
        return 1
    host, port = server.server_address[:2]
    log("version %s listening on %s (port %d), metrics at %s"
        % (__version__, args.listen_address, port, args.telemetry_path))
    serve(server)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
