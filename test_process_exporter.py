"""Tests for process_exporter.py, standard library only.

    python3 -m unittest -v                                   # everything
    python3 -m unittest -v test_process_exporter.fast        # the fast tier, seconds

The sections follow the exporter's: the macOS structs and reader (against a stand-in
libSystem built here with cc, and against the system itself on a Mac), the Linux
reader (against the real /proc and procfs trees made here), selecting, rendering,
security, HTTP, the command line; then the whole path end to end against a real
Prometheus, and what ships beside the script.  The fast tier is every class marked
@in_fast_tier: in-process, no server started, no waiting.

Checking tools (promtool, prometheus, prometheus_client) are used when present and
skipped with a reason when not; with PROCESS_EXPORTER_REQUIRE_TOOLS=1 (as CI sets) a
missing tool fails instead.
"""

import base64
import contextlib
import ctypes
import errno
import gzip
import http.client
import io
import json
import os
import plistlib
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import warnings

import process_exporter as pe

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "tests"))
import reference_dashboards  # noqa: E402  (test data, in tests/)
import yaml_cases  # noqa: E402
SCRIPT = os.path.join(HERE, "process_exporter.py")
LAYOUT_JSON = os.path.join(HERE, "tests", "macos-layout.json")
REQUIRE_TOOLS = os.environ.get("PROCESS_EXPORTER_REQUIRE_TOOLS") == "1"
IS_LINUX = sys.platform.startswith("linux")


FAST = []
NOT_FAST = set()          # tests of fast classes that start a process or a server
FAST_RUN = []             # set while the fast tier runs: promtool is not run then


def in_fast_tier(test_class):
    """Marks a class of the fast tier: in-process, no server, no subprocess, no waiting."""
    FAST.append(test_class)
    return test_class


def not_in_fast_tier(test):
    """Marks a test of a fast class that the fast tier leaves to the full suite."""
    NOT_FAST.add(test.__qualname__)
    return test


def fast():
    """The fast tier, a few seconds, for every change; it starts no server and no
    subprocess (the stand-in libSystem is built with cc: see standin()):
    python3 -m unittest -v test_process_exporter.fast"""
    FAST_RUN.append(True)
    loader = unittest.defaultTestLoader
    return unittest.TestSuite(
        test_class(name) for test_class in FAST for name in loader.getTestCaseNames(test_class)
        if "%s.%s" % (test_class.__name__, name) not in NOT_FAST)


def standin():
    """The macOS reader against the stand-in libSystem (built once with cc), and the
    system itself on a Mac: python3 -m unittest -v test_process_exporter.standin"""
    loader = unittest.defaultTestLoader
    return unittest.TestSuite(loader.loadTestsFromTestCase(test_class) for test_class in (
        StructLayoutTest, DarwinReaderTest, DarwinCommandLineTest, MacOSSystemTest))


def need(condition, reason):
    """Skip when a tool or file is missing, or fail when CI says it must be there."""
    if condition:
        return
    if REQUIRE_TOOLS:
        raise AssertionError("required for this run: " + reason)
    raise unittest.SkipTest(reason)


# ---------------------------------------------------------------------------
# A strict reader of the text exposition format, used on everything we render
# ---------------------------------------------------------------------------

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class ExpositionError(AssertionError):
    pass


def parse_labels(text, pos):
    """Parse '{a="x",b="y"}' from text[pos] == '{'; return (dict, position after '}')."""
    labels = {}
    pos += 1
    while True:
        if text[pos] == "}":
            return labels, pos + 1
        match = LABEL_NAME_RE.match(text, pos)
        if not match:
            raise ExpositionError("bad label name at %r" % text[pos:pos + 20])
        name = match.group()
        pos = match.end()
        if text[pos:pos + 2] != '="':
            raise ExpositionError("expected =\" after label %s" % name)
        pos += 2
        value = []
        while True:
            char = text[pos]
            if char == "\\":
                escaped = text[pos + 1]
                if escaped not in '\\"n':
                    raise ExpositionError("bad escape \\%s" % escaped)
                value.append("\n" if escaped == "n" else escaped)
                pos += 2
            elif char == '"':
                pos += 1
                break
            elif char == "\n":
                raise ExpositionError("raw newline in a label value")
            else:
                value.append(char)
                pos += 1
        if name in labels:
            raise ExpositionError("label %s twice" % name)
        labels[name] = "".join(value)
        if text[pos] == ",":
            pos += 1
        elif text[pos] != "}":
            raise ExpositionError("expected , or } at %r" % text[pos:pos + 20])


def parse_value(text):
    if text in ("NaN", "+Inf", "-Inf"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.match(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z", text):
        raise ExpositionError("bad value %r" % text)
    return float(text)


def parse_exposition(text):
    """Parse and check text format 0.0.4 strictly.

    Returns {family: {"type", "help", "samples": [(labels, value)]}}.  Raises on a
    missing final newline, a repeated or late HELP/TYPE, a family split in two,
    a duplicate series, bad escaping or a bad value.
    """
    if not text.endswith("\n"):
        raise ExpositionError("no final newline")
    families = {}
    current = None
    seen_series = set()
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            keyword, rest = line[2:6], line[7:]
            name, _, argument = rest.partition(" ")
            if not NAME_RE.match(name):
                raise ExpositionError("bad metric name %r" % name)
            if name != current:
                if name in families:
                    raise ExpositionError("family %s is split" % name)
                families[name] = {"type": None, "help": None, "samples": []}
                current = name
            family = families[name]
            key = keyword.lower()
            if family[key] is not None:
                raise ExpositionError("%s %s twice" % (keyword, name))
            if family["samples"]:
                raise ExpositionError("%s %s after its samples" % (keyword, name))
            if key == "type" and argument not in ("counter", "gauge", "untyped",
                                                  "histogram", "summary"):
                raise ExpositionError("bad type %r" % argument)
            family[key] = argument
        elif line.startswith("#"):
            continue
        else:
            match = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
            if not match:
                raise ExpositionError("bad sample line %r" % line)
            name = match.group()
            pos = match.end()
            labels = {}
            if pos < len(line) and line[pos] == "{":
                labels, pos = parse_labels(line, pos)
            if line[pos:pos + 1] != " ":
                raise ExpositionError("expected a space before the value in %r" % line)
            value = parse_value(line[pos + 1:])
            if name != current:
                if name in families:
                    raise ExpositionError("family %s is split" % name)
                families[name] = {"type": None, "help": None, "samples": []}
                current = name
            series = (name, tuple(sorted(labels.items())))
            if series in seen_series:
                raise ExpositionError("duplicate series %r" % (series,))
            seen_series.add(series)
            families[name]["samples"].append((labels, value))
    return families


def render_series(items, families, labels_of=pe.process_labels):
    """The per-item families as one text, without the exporter's own."""
    return "".join(pe.render_families(items, families, labels_of))


def samples_of(families, name, **match):
    """Values of family `name` whose labels include `match`."""
    return [value for labels, value in families[name]["samples"]
            if all(labels.get(k) == str(v) for k, v in match.items())]


# The reference exporter's scrape counters have no _total and its thread_count ends in
# _count, and groups keep its names so that its dashboards work: promtool's lints about
# those names are expected, no other.
REFERENCE_NAMES_LINT = tuple(
    '%s counter metrics should have "_total" suffix' % family.name
    for family in pe.GROUP_SCRAPE_FAMILIES) + (
    'namedprocess_namegroup_thread_count non-histogram and non-summary metrics should not '
    'have "_count" suffix',)


def promtool_check(text):
    """Run promtool check metrics; return its exit code and what it said, less the
    expected lint of the reference's names (then a code of 3, lint only, is 0)."""
    promtool = shutil.which("promtool")
    need(promtool, "promtool is not installed (Debian package prometheus)")
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode("utf-8"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    output = result.stdout.decode("utf-8", "replace")
    lines = output.splitlines()
    left = [line for line in lines if line not in REFERENCE_NAMES_LINT]
    code = result.returncode
    if code == 3 and lines and not left:      # 3: lint problems, and only those
        code = 0
    return code, "".join(line + "\n" for line in left)


def client_parse(text):
    """prometheus_client's parser, as a second opinion."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        need(False, "prometheus_client is not installed")
    return {family.name: family for family in text_string_to_metric_families(text)}


class ExpositionChecks:
    """Assertions every rendered exposition must pass."""

    def assertValidExposition(self, text, promtool=True):
        families = parse_exposition(text)
        for name, family in families.items():
            self.assertIsNotNone(family["help"], name)
            self.assertIsNotNone(family["type"], name)
        if promtool and not FAST_RUN:
            code, output = promtool_check(text)
            self.assertEqual((code, output), (0, ""), "promtool check metrics complained")
        return families


# ---------------------------------------------------------------------------
# Fixtures the sections below share: a reader of fixed records, a server in a thread
# ---------------------------------------------------------------------------

class StaticReader(pe.Reader):
    """A reader with fixed records, so HTTP tests do not depend on the machine."""

    def __init__(self, records=None, fail=False):
        pe.Reader.__init__(self)
        self.records = sample_records() if records is None else records
        self.fail = fail

    def read(self):
        self._start_reading()
        if self.fail:
            raise OSError("listing failed")
        return list(self.records)


class ServerFixture:
    """An exporter server on 127.0.0.1, an ephemeral port, in a thread."""

    def start_server(self, reader=None, **options):
        """Start a server; a test may start a second, and each is stopped on cleanup."""
        exporter = pe.Exporter(reader or StaticReader())
        server = self.server = pe.make_server(exporter, "127.0.0.1:0", **options)
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()

        def stop():
            server.shutdown()
            server.server_close()
            thread.join(5)
            self.assertFalse(thread.is_alive(), "the server's thread did not stop")
        self.addCleanup(stop)

    def request(self, method="GET", path="/metrics", headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def raw(self, data, read=True, timeout=5):
        """Send raw bytes; return what came back until the server closed or timed out."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(data)
            if not read:
                return b""
            chunks = []
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except (socket.timeout, ConnectionResetError):
                pass
            return b"".join(chunks)


# ---------------------------------------------------------------------------
# macOS structs: sizes and offsets equal Apple's headers
# ---------------------------------------------------------------------------

def load_layout():
    with open(LAYOUT_JSON) as f:
        return json.load(f)


STRUCT_NAMES = ("proc_bsdinfo", "proc_bsdshortinfo", "proc_taskinfo",
                "proc_taskallinfo", "rusage_info_v4", "rusage_info_v6", "mach_timebase_info",
                "proc_threadinfo")


@in_fast_tier
class StructLayoutTest(unittest.TestCase):

    def test_sizes_alignments_and_offsets_match_apple(self):
        layout = load_layout()
        for struct_name in STRUCT_NAMES:
            with self.subTest(struct=struct_name):
                cls = getattr(pe, struct_name)
                facts = layout[struct_name]
                self.assertEqual(ctypes.sizeof(cls), facts["size"])
                self.assertEqual(ctypes.alignment(cls), facts["align"])
                ours = [name for name, _ in cls._fields_]
                self.assertEqual(ours, list(facts["fields"]), "field names and order")
                for name, (offset, size) in facts["fields"].items():
                    field = getattr(cls, name)
                    self.assertEqual((field.offset, field.size), (offset, size), name)

    def test_taskallinfo_flattened_offsets(self):
        flat = load_layout()["proc_taskallinfo"]["flat_fields"]
        for dotted, (offset, size) in flat.items():
            outer, inner = dotted.split(".")
            outer_field = getattr(pe.proc_taskallinfo, outer)
            inner_cls = dict(pe.proc_taskallinfo._fields_)[outer]
            inner_field = getattr(inner_cls, inner)
            self.assertEqual((outer_field.offset + inner_field.offset, inner_field.size),
                             (offset, size), dotted)

    def test_kinfo_proc_fields_match_apple(self):
        """kinfo_proc names only what it reads: each named field sits where Apple's does,
        and every other byte is a reserved_* filler."""
        facts = load_layout()["kinfo_proc"]
        self.assertEqual(ctypes.sizeof(pe.kinfo_proc), facts["size"])
        self.assertEqual(ctypes.alignment(pe.kinfo_proc), facts["align"])
        for dotted, (offset, size) in facts["fields"].items():
            with self.subTest(dotted):
                field_offset, kind = pe.field_at(pe.kinfo_proc, dotted)
                self.assertEqual((field_offset, ctypes.sizeof(kind)), (offset, size))

        def named_leaves(struct, prefix=""):
            for name, kind in struct._fields_:
                if name.startswith("reserved_"):
                    continue
                if issubclass(kind, ctypes.Structure):
                    yield from named_leaves(kind, prefix + name + ".")
                else:
                    yield prefix + name
        self.assertEqual(sorted(named_leaves(pe.kinfo_proc)), sorted(facts["fields"]))

    def test_unpackers_read_the_fields_ctypes_reads(self):
        """The struct formats built from the ctypes classes agree with ctypes itself."""
        info = pe.proc_taskallinfo()
        info.pbsd.pbi_name = b"com.apple.WebKit.WebContent"
        info.pbsd.pbi_nfiles, info.pbsd.pbi_start_tvsec = 256, 1700000000
        info.pbsd.pbi_start_tvusec = 999999
        info.ptinfo.pti_virtual_size, info.ptinfo.pti_resident_size = 2 ** 40, 2 ** 33
        info.ptinfo.pti_total_user, info.ptinfo.pti_total_system = 2 ** 50, 7
        info.ptinfo.pti_faults, info.ptinfo.pti_csw, info.ptinfo.pti_threadnum = -5, 2 ** 31 - 1, 9
        info.ptinfo.pti_numrunning = 3
        self.assertEqual(pe.TASK_VALUES.unpack_from(info),
                         (b"com.apple.WebKit.WebContent" + b"\0" * 5, 256, 1700000000,
                          999999, 2 ** 40, 2 ** 33, 2 ** 50, 7, -5, 0, 2 ** 31 - 1, 9, 3))
        row = pe.kinfo_proc()
        row.kp_proc.p_starttime.tv_sec, row.kp_proc.p_starttime.tv_usec = 1700000001, 250000
        row.kp_proc.p_stat, row.kp_proc.p_pid = pe.SZOMB, 4242
        row.kp_proc.p_comm = b"sixteen-chars-xx"
        row.kp_eproc.e_ucred.cr_uid, row.kp_eproc.e_ucred.cr_groups[0] = 501, 20
        row.kp_eproc.e_ppid = 1
        self.assertEqual(pe.KINFO_ROW.unpack(bytes(row)),
                         (1700000001, 250000, 5, 4242, b"sixteen-chars-xx\0", 501, 20, 1))
        with self.assertRaises(ValueError):
            pe.unpacker(pe.kinfo_proc, ("kp_proc.p_pid", "kp_proc.p_stat"))

    def test_constants_match_apple(self):
        constants = load_layout()["constants"]
        for name in ("PROC_PIDLISTFDS", "PROC_PIDTASKALLINFO", "PROC_PIDT_SHORTBSDINFO",
                     "PROC_PIDLISTFD_SIZE", "PROC_PIDPATHINFO_MAXSIZE", "MAXCOMLEN",
                     "RUSAGE_INFO_V4", "RUSAGE_INFO_V6", "SZOMB", "CTL_KERN", "KERN_PROC",
                     "KERN_PROC_ALL", "PROC_PIDTASKALLINFO_SIZE", "SIDL", "SRUN", "SSTOP",
                     "PROC_PIDLISTTHREADS", "PROC_PIDTHREADINFO", "MAXTHREADNAMESIZE"):
            with self.subTest(name):
                self.assertEqual(getattr(pe, name), constants[name])


# ---------------------------------------------------------------------------
# A stand-in for libSystem, in C, laid out as Apple's headers are
#
# It keeps a table of fake processes and answers proc_listallpids, proc_pidinfo
# (TASKALLINFO, SHORTBSDINFO, LISTFDS), proc_pidpath, proc_pid_rusage,
# mach_timebase_info and sysctlbyname with Apple's conventions: 0 (or -1) with
# errno on failure, counts versus bytes, size checks on buffers, EPERM for
# another user's task data but not for the short info, zombies found only by the
# short info with a non-zero arg and by rusage; sysctl(KERN_PROCARGS2) as
# xnu's sysctl_procargsx, refusing with EINVAL alone.  It is stricter than Apple in
# one way: a non-zero `arg` to the other flavours is refused, since it can only
# be a caller's 64-bit bug.
# ---------------------------------------------------------------------------

STANDIN_SOURCE = os.path.join(HERE, "tests", "standin_libsystem.c")

CALL_LISTALLPIDS, CALL_TASKALLINFO, CALL_PIDPATH, CALL_SYSCTLBYNAME, CALL_SHORTINFO, \
    CALL_LISTFDS, CALL_RUSAGE_V6, CALL_RUSAGE_V4, CALL_PROCESS_TABLE, CALL_PROCARGS2 = range(10)


def rusage_structs(layout):
    """C declarations of rusage_info_v4 and v6 from the layout file's field list."""
    c_types = {"uint64": "uint64_t", "uint8[16]": "uint8_t", "uint64[9]": "uint64_t"}
    blocks = []
    for struct_name in ("rusage_info_v4", "rusage_info_v6"):
        lines = ["struct %s {" % struct_name]
        for field, kind in layout[struct_name]["types"].items():
            count = re.search(r"\[(\d+)\]", kind)
            lines.append("    %s %s%s;" % (c_types[kind], field,
                                         "[%s]" % count.group(1) if count else ""))
        lines.append("};")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def layout_asserts(layout):
    """C static assertions of every size and offset in macos-layout.json."""
    lines = []
    for struct_name in STRUCT_NAMES:
        facts = layout[struct_name]
        lines.append('_Static_assert(sizeof(struct %s) == %d, "%s size");'
                     % (struct_name, facts["size"], struct_name))
        for field, (offset, size) in facts["fields"].items():
            lines.append('_Static_assert(offsetof(struct %s, %s) == %d && '
                         'sizeof(((struct %s *)0)->%s) == %d, "%s.%s");'
                         % (struct_name, field, offset, struct_name, field, size,
                            struct_name, field))
    return "\n".join(lines)


def kinfo_offsets(layout):
    """C constants of kinfo_proc's size and field offsets, from macos-layout.json."""
    facts = layout["kinfo_proc"]
    lines = ["#define KINFO_SIZE %d" % facts["size"]]
    for dotted, (offset, _) in facts["fields"].items():
        lines.append("#define KINFO_%s %d" % (dotted.replace(".", "_"), offset))
    return "\n".join(lines)


_standin = {}


def standin_library():
    """Build the stand-in once per run; return it loaded as ctypes would load libSystem."""
    if "lib" in _standin:
        return _standin["lib"]
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    need(compiler, "no C compiler (cc) to build the stand-in libSystem")
    layout = load_layout()
    folder = tempfile.mkdtemp(prefix="standin-libsystem-")
    library = os.path.join(folder, "libsystem_standin.so")
    with open(os.path.join(folder, "standin_layout.h"), "w") as f:
        f.write("\n\n".join((rusage_structs(layout), layout_asserts(layout),
                             kinfo_offsets(layout))) + "\n")
    subprocess.run([compiler, "-std=c11", "-Wall", "-Werror", "-shared", "-fPIC",
                    "-I", folder, "-o", library, STANDIN_SOURCE], check=True)
    lib = pe.load_libsystem(library)
    _standin["path"] = library
    c = ctypes
    lib.standin_add.argtypes = [c.c_int, c.c_uint32, c.c_uint32, c.c_uint32, c.c_char_p,
                                c.c_char_p, c.c_int64, c.c_int32, c.c_uint64, c.c_uint64,
                                c.c_uint64, c.c_uint64, c.c_char_p, c.c_int, c.c_int, c.c_int]
    lib.standin_set_counts.argtypes = [c.c_int, c.c_int32, c.c_uint64, c.c_uint64,
                                       c.c_uint64]
    lib.standin_set_rusage.argtypes = [c.c_int] + [c.c_uint64] * 6
    lib.standin_set_rusage_more.argtypes = [c.c_int] + [c.c_uint64] * 7
    lib.standin_runnable_lag.argtypes = [c.c_int, c.c_uint64]
    lib.standin_set_fds.argtypes = [c.c_int, c.c_int, c.c_int, c.c_uint32]
    lib.standin_make_zombie.argtypes = [c.c_int]
    lib.standin_set_state.argtypes = [c.c_int, c.c_int, c.c_int32]
    lib.standin_add_thread.argtypes = [c.c_int, c.c_uint64, c.c_char_p, c.c_uint64,
                                       c.c_uint64, c.c_int32]
    lib.standin_end_thread.argtypes = [c.c_int, c.c_uint64]
    lib.standin_no_thread_ids.argtypes = []
    lib.standin_reap.argtypes = [c.c_int]
    lib.standin_exit_after_listing.argtypes = [c.c_int]
    lib.standin_set_ticks.argtypes = [c.c_int, c.c_uint64, c.c_uint64]
    lib.standin_begin_exit.argtypes = [c.c_int]
    lib.standin_reuse_after_listing.argtypes = [c.c_int, c.c_int64]
    lib.standin_exec.argtypes = [c.c_int, c.c_char_p, c.c_char_p, c.c_int]
    lib.standin_set_uid.argtypes = [c.c_int, c.c_uint32]
    lib.standin_set_args.argtypes = [c.c_int, c.c_int, c.c_char_p, c.c_size_t]
    lib.standin_timebase.argtypes = [c.c_uint32, c.c_uint32, c.c_int64]
    lib.standin_caller_uid.argtypes = [c.c_uint32]
    lib.standin_macos_major.argtypes = [c.c_int]
    lib.standin_perf_levels.argtypes = [c.c_int32]
    lib.standin_estimate_slack.argtypes = [c.c_int]
    lib.standin_fail_listing.argtypes = [c.c_int]
    lib.standin_fail_table.argtypes = [c.c_int]
    lib.standin_grow_after_size_query.argtypes = [c.c_int]
    lib.standin_rusage_newest.argtypes = [c.c_int]
    lib.standin_calls.argtypes = [c.c_int]
    lib.standin_calls.restype = c.c_long
    _standin["lib"] = lib
    _standin["folder"] = folder
    return lib


def tearDownModule():
    if "folder" in _standin:
        shutil.rmtree(_standin["folder"], ignore_errors=True)


def add_fake(lib, pid, ppid=1, uid=501, gid=20, comm=b"proc", name=None, start=(0, 0),
             ticks=(0, 0), resident=0, virtual=0, path=b"", vanishes=False, path_errno=0):
    """A process in the stand-in's table; the kernel names it from `name` (its
    executable's file name) unless `comm` and `name` are told apart."""
    name = comm if name is None else name
    assert lib.standin_add(pid, ppid, uid, gid, comm, name, start[0], start[1],
                           ticks[0], ticks[1], resident, virtual, path, len(path),
                           int(vanishes), path_errno) == 0


def set_fake_args(lib, pid, args, path=None, environment=(b"HOME=/Users/me",)):
    """What exec leaves of a fake process's command line: its path, NUL padding to
    8 bytes, the arguments and the environment, each NUL-terminated."""
    path = args[0] if path is None else path
    area = path + b"\0" * (8 - len(path) % 8)
    area += b"".join(arg + b"\0" for arg in list(args) + list(environment))
    assert lib.standin_set_args(pid, len(args), area, len(area)) == 0


ODD_PATH = b'/Applications/My "Odd" App\\x.app/Contents/Mac\nOS/b\xff\xfein'
ODD_PATH_TEXT = '/Applications/My "Odd" App\\x.app/Contents/Mac\nOS/b\ufffd\ufffdin'
LAUNCHD_LABELS = 'pid="1",ppid="0",uid="0",gid="0",path="/sbin/launchd",name="launchd"'
SAFARI_LABELS = ('pid="300",ppid="1",uid="501",gid="20",'
                 'path="/Applications/Safari.app/Contents/MacOS/Safari",name="Safari"')
ROOT, USER = 0, 501
WEBKIT = b"com.apple.WebKit.WebContent"
WEBKIT_PATH = (b"/System/Library/Frameworks/WebKit.framework/Versions/A/XPCServices/"
               b"com.apple.WebKit.WebContent.xpc/Contents/MacOS/com.apple.WebKit.WebContent")


class DarwinReaderTest(unittest.TestCase, ExpositionChecks):
    """DarwinReader's real ctypes calls against the stand-in libSystem, which keeps
    the kernel's rules: who may read what, zombies, names, 32-bit counts."""

    def setUp(self):
        self.lib = standin_library()
        self.lib.standin_reset()

    def test_states_from_the_process_table_and_running_threads(self):
        lib = self.lib
        # 13 was spawned suspended, then resumed by task_resume: p_stat stays SSTOP
        for pid, p_stat, running in ((10, pe.SRUN, 2), (11, pe.SRUN, 0), (12, pe.SSTOP, 0),
                                     (13, pe.SSTOP, 1), (14, pe.SRUN, 1)):
            add_fake(lib, pid, uid=USER if pid != 14 else 777, start=(1700000000 + pid, 0))
            lib.standin_set_state(pid, p_stat, running)
        add_fake(lib, 15, uid=USER, start=(1700000015, 0))
        lib.standin_make_zombie(15)
        lib.standin_caller_uid(USER)
        reader = pe.DarwinReader(lib)
        states = {r.pid: r.state for r in reader.read()}
        # 14 is another user's: its task (and so its running threads) is not ours to read
        self.assertEqual(states, {10: "Running", 11: "Sleeping", 12: "Other", 13: "Running",
                                  14: None, 15: "Zombie"})
        grouper = pe.Grouper(declared=[("all", ".")])
        (group,) = grouper.update(reader.read(), states_told=reader.states_told)
        self.assertEqual((group.state_running, group.state_sleeping, group.state_zombie,
                          group.state_other, group.state_waiting), (2, 1, 1, 1, None))
        text = "".join(pe.render_families(reader.read(), pe.PROCESS_FAMILIES))
        self.assertIn('process_state{pid="12",ppid="1",uid="501",gid="20",path="",'
                      'name="proc",state="Other"} 1\n', text)
        self.assertNotIn('pid="14"', text.split("# HELP process_state ")[1].split("# HELP")[0])

    def test_threads_for_the_own_user_with_names_and_nanoseconds(self):
        lib = self.lib
        add_fake(lib, 20, uid=USER, comm=b"Xcode", start=(1700000000, 0))
        lib.standin_add_thread(20, 0x7000, b"com.apple.main-thread", 1500000000, 250000000, 1)
        lib.standin_add_thread(20, 0x8000, b"", 2000000000, 0, 3)      # unnamed
        lib.standin_add_thread(20, 0, b"first-without-pthread", 1000, 0, 3)
        lib.standin_add_thread(20, 0, b"second-without-pthread", 1000, 0, 3)
        add_fake(lib, 21, uid=777, start=(1700000000, 0))
        lib.standin_add_thread(21, 0x7000, b"a", 1, 1, 1)
        lib.standin_add_thread(21, 0x8000, b"b", 1, 1, 1)
        lib.standin_caller_uid(USER)
        records = {r.pid: r for r in pe.DarwinReader(lib, {"thread_list", "threads"}).read()}
        threads = sorted((t.name, t.cpu_user, t.cpu_system) for t in records[20].thread_list)
        # by unique thread id: every thread, the two without a pthread too
        self.assertEqual(threads, [("Xcode", 2.0, 0.0),
                                   ("com.apple.main-thread", 1.5, 0.25),
                                   ("first-without-pthread", 1e-06, 0.0),
                                   ("second-without-pthread", 1e-06, 0.0)])
        self.assertEqual(len({t.tid for t in records[20].thread_list}), 4)
        self.assertIsNone(records[21].thread_list)          # EPERM: another user's
        lib.standin_no_thread_ids()          # an older kernel: threads by pthread address
        old_kernel = pe.DarwinReader(lib, {"thread_list", "threads"})
        (record,) = [r for r in old_kernel.read() if r.pid == 20]
        # handle 0 names one thread to the kernel: the first, read once
        self.assertEqual(sorted((t.tid, t.name) for t in record.thread_list),
                         [(0, "first-without-pthread"), (0x7000, "com.apple.main-thread"),
                          (0x8000, "Xcode")])
        self.assertEqual(old_kernel._list_threads, pe.PROC_PIDLISTTHREADS)      # for good
        lib.standin_end_thread(20, 0x8000)
        (record,) = [r for r in old_kernel.read() if r.pid == 20]
        self.assertEqual(len(record.thread_list), 2)
        lib.standin_reset()
        add_fake(lib, 20, uid=USER, comm=b"Xcode", start=(1700000000, 0))
        lib.standin_add_thread(20, 0x7000, b"main", 1, 0, 1)
        lib.standin_add_thread(20, 0x8000, b"", 2000000000, 0, 3)      # unnamed
        default = {r.pid: r for r in pe.DarwinReader(lib, pe.VALUE_FIELDS).read()}
        self.assertIsNone(default[20].thread_list)        # read only when asked for
        args = pe.parse_args(["--group-by=name", "--threads"])
        exporter = pe.Exporter(pe.DarwinReader(lib, args.fields), args.families,
                               grouper=pe.Grouper("name"))
        families = self.assertValidExposition(exporter.scrape())
        self.assertEqual(samples_of(families, "namedprocess_namegroup_thread_count",
                                    groupname="Xcode", threadname="Xcode"), [1])
        self.assertEqual(samples_of(families, "namedprocess_namegroup_thread_cpu_seconds_total",
                                    groupname="Xcode", threadname="Xcode", mode="user"), [2.0])
        for linux_only in ("namedprocess_namegroup_thread_io_bytes_total",
                           "namedprocess_namegroup_thread_context_switches_total",
                           "namedprocess_namegroup_threads_wchan",
                           "namedprocess_namegroup_worst_fd_ratio"):
            self.assertNotIn(linux_only, families)

    def populate(self):
        lib = self.lib
        add_fake(lib, 1, ppid=0, uid=0, gid=0, comm=b"launchd",
                 start=(1700000000, 250000), ticks=(36000000, 12000000),
                 resident=12345678, virtual=420906795008, path=b"/sbin/launchd")
        lib.standin_set_counts(1, 4, 1500, 250, 9000)
        lib.standin_set_rusage(1, 7340032, 1048576, 524288, 0, 0, 0)   # no CPU counters
        lib.standin_set_fds(1, 37, 256, 256)
        add_fake(lib, 0, ppid=0, uid=0, gid=0, comm=b"kernel_task", name=b"",
                 start=(1699999990, 0), ticks=(2400000000, 4800000000),
                 resident=1 << 30, path_errno=errno.ESRCH)     # no executable
        add_fake(lib, 300, ppid=1, uid=501, gid=20, comm=b"Safari",
                 start=(1700000050, 500000), ticks=(240000000, 24000000),
                 resident=300000000, virtual=500000000000,
                 path=b"/Applications/Safari.app/Contents/MacOS/Safari")
        lib.standin_set_counts(300, 42, 90000, 1000, 123456)
        lib.standin_set_rusage(300, 450000000, 20000000, 3000000, 98765432100,
                               45678901234, 2500000000)
        lib.standin_set_fds(300, 300, 512, 512)
        add_fake(lib, 412, ppid=1, uid=501, gid=20, comm=b"Odd App", name=b"",
                 start=(1700000100, 999999), ticks=(1, 3), resident=4096,
                 path=ODD_PATH)
        add_fake(lib, 600, vanishes=True)                       # reaped since listed
        add_fake(lib, 700, ppid=1, uid=0, gid=0, comm=b"configd", start=(1700000010, 5),
                 path=b"/usr/libexec/configd")
        add_fake(lib, 800, comm=b"gone", start=(1700000200, 0), ticks=(24, 48),
                 resident=8192, path_errno=errno.ENOENT)        # deleted executable
        add_fake(lib, 900, ppid=300, comm=b"defunct", start=(1700000300, 0),
                 ticks=(48000000, 24000000))
        lib.standin_set_counts(900, 1, 10, 7, 5)
        lib.standin_set_rusage(900, 0, 4096, 0, 0, 0, 0)
        lib.standin_make_zombie(900)

    def read(self, numer=125, denom=3, frequency=24000000, fields=None, populate=True,
             caller=ROOT):
        self.lib.standin_timebase(numer, denom, frequency)
        self.lib.standin_caller_uid(caller)
        if populate:
            self.populate()
        reader = pe.DarwinReader(self.lib, fields)
        return reader.read(), reader

    def render_with(self, caller=ROOT):
        records, reader = self.read(caller=caller)
        return records, reader, pe.render(records, reader.skipped, 0.5,
                                          partial=reader.partial)

    def by_pid(self, records):
        return {record.pid: record for record in records}

    # -- the process table, and what each caller may read -------------------

    def test_records_carry_the_kernel_values(self):
        records, reader, _ = self.render_with()
        by_pid = self.by_pid(records)
        self.assertEqual(sorted(by_pid), [0, 1, 300, 412, 700, 800, 900])
        launchd = by_pid[1]
        self.assertEqual((launchd.ppid, launchd.uid, launchd.gid, launchd.name, launchd.path),
                         (0, 0, 0, "launchd", "/sbin/launchd"))
        self.assertEqual(launchd.start_time, 1700000000.25)
        self.assertEqual((launchd.cpu_user, launchd.cpu_system), (1.5, 0.5))
        self.assertEqual(launchd.resident_bytes, 12345678)
        self.assertEqual((by_pid[0].path, by_pid[0].name), ("", "kernel_task"))
        self.assertEqual(by_pid[800].path, "")
        # the path's file name does not begin with the name it was run by: not used
        self.assertEqual(by_pid[412].name, "Odd App")
        self.assertEqual(by_pid[412].path, ODD_PATH_TEXT)
        self.assertEqual(reader.skipped, {"permission_denied": 0, "vanished": 1, "error": 0})
        self.assertEqual(reader.partial, 0)
        self.assertEqual(reader.listing, "process table")

    def test_as_a_user_other_users_processes_have_identity_and_start_time(self):
        records, reader, text = self.render_with(caller=USER)
        by_pid = self.by_pid(records)
        self.assertEqual(sorted(by_pid), [0, 1, 300, 412, 700, 800, 900])
        self.assertEqual(reader.partial, 3)               # launchd, kernel_task, configd
        for pid, start in ((1, 1700000000.25), (0, 1699999990.0), (700, 1700000010.000005)):
            with self.subTest(pid=pid):
                self.assertEqual(by_pid[pid].start_time, start)
                self.assertIsNone(by_pid[pid].cpu_user)
                self.assertIsNone(by_pid[pid].resident_bytes)
        self.assertEqual(by_pid[1].path, "/sbin/launchd")     # any user may read paths
        series = [line for line in text.split("\n") if 'pid="700"' in line]
        labels = 'pid="700",ppid="1",uid="0",gid="0",path="/usr/libexec/configd",' \
                 'name="configd"'
        self.assertEqual(series, ['process_info{%s} 1' % labels,
                                  'process_start_time_seconds{%s} 1700000010.000005' % labels])
        self.assertEqual(by_pid[300].cpu_user, 10.0)          # our own: every number
        self.assertValidExposition(text, promtool=False)

    def test_every_number_exact(self):
        records, _ = self.read()
        safari = self.by_pid(records)[300]
        self.assertEqual(safari.cpu_user, 10.0)
        self.assertEqual(safari.cpu_system, 1.0)
        self.assertEqual(safari.virtual_bytes, 500000000000)
        self.assertEqual(safari.footprint_bytes, 450000000)
        self.assertEqual(safari.threads, 42)
        self.assertEqual(safari.open_fds, 300)
        self.assertEqual((safari.disk_read_bytes, safari.disk_written_bytes),
                         (20000000, 3000000))
        self.assertEqual((safari.major_faults, safari.minor_faults), (1000, 89000))
        self.assertEqual(safari.context_switches, 123456)
        self.assertEqual((safari.instructions, safari.cycles), (98765432100, 45678901234))
        self.assertEqual(safari.energy_joules, 2.5)

    def test_exact_rendered_lines(self):
        _, _, text = self.render_with()
        expected = [
            'process_info{%s} 1' % LAUNCHD_LABELS,
            'process_cpu_seconds_total{%s,mode="user"} 1.5' % LAUNCHD_LABELS,
            'process_cpu_seconds_total{%s,mode="system"} 0.5' % LAUNCHD_LABELS,
            'process_cpu_seconds_total{pid="0",ppid="0",uid="0",gid="0",path="",'
            'name="kernel_task",mode="system"} 200.0',
            'process_start_time_seconds{%s} 1700000000.25' % LAUNCHD_LABELS,
            'process_start_time_seconds{pid="412",ppid="1",uid="501",gid="20",'
            'path="/Applications/My \\"Odd\\" App\\\\x.app/Contents/Mac\\nOS/'
            'b\ufffd\ufffdin",name="Odd App"} 1700000100.999999',
            'process_resident_memory_bytes{pid="0",ppid="0",uid="0",gid="0",'
            'path="",name="kernel_task"} 1073741824',
            'process_virtual_memory_bytes{%s} 420906795008' % LAUNCHD_LABELS,
            'process_memory_footprint_bytes{%s} 7340032' % LAUNCHD_LABELS,
            'process_threads{%s} 4' % LAUNCHD_LABELS,
            'process_open_fds{%s} 37' % LAUNCHD_LABELS,
            'process_disk_read_bytes_total{%s} 1048576' % LAUNCHD_LABELS,
            'process_disk_written_bytes_total{%s} 524288' % LAUNCHD_LABELS,
            'process_major_page_faults_total{%s} 250' % LAUNCHD_LABELS,
            'process_minor_page_faults_total{%s} 1250' % LAUNCHD_LABELS,
            'process_context_switches_total{%s} 9000' % LAUNCHD_LABELS,
            'process_instructions_total{%s} 98765432100' % SAFARI_LABELS,
            'process_cycles_total{%s} 45678901234' % SAFARI_LABELS,
            'process_energy_joules_total{%s} 2.5' % SAFARI_LABELS,
            'process_exporter_processes 7',
            'process_exporter_processes_partial 0',
            'process_exporter_processes_skipped{reason="vanished"} 1',
        ]
        lines = text.split("\n")
        for line in expected:
            self.assertIn(line, lines)
        families = self.assertValidExposition(text, promtool=False)
        odd = [labels for labels, _ in families["process_resident_memory_bytes"]["samples"]
               if labels["pid"] == "412"]
        self.assertEqual(odd[0]["path"], ODD_PATH_TEXT)     # round-trips through escaping

    def test_the_table_is_read_in_one_call_and_retried_when_it_grows(self):
        lib = self.lib
        lib.standin_timebase(1, 1, 1000000000)
        for pid in range(1, 6001):
            add_fake(lib, pid, comm=b"many", start=(1700000000, pid), ticks=(pid, 0),
                     resident=pid)
        reader = pe.DarwinReader(lib)
        self.assertEqual(len(reader.read()), 6000)
        self.assertEqual(lib.standin_calls(CALL_PROCESS_TABLE), 2)     # size, then rows
        lib.standin_grow_after_size_query(500)   # far past the kernel's and our slack
        records = reader.read()
        self.assertEqual(len(records), 6500)
        self.assertEqual([r.pid for r in records], list(range(1, 6501)))
        self.assertEqual(records[-1].resident_bytes, 6000)      # a clone of the last
        self.assertEqual(lib.standin_calls(CALL_PROCESS_TABLE), 5)     # ENOMEM: once more
        self.assertEqual(lib.standin_calls(CALL_LISTALLPIDS), 0)

    def test_pid_list_when_the_table_is_refused(self):
        lib = self.lib
        self.populate()
        lib.standin_fail_table(errno.EPERM)          # a sandbox refusing the sysctl, say
        lib.standin_estimate_slack(-5)               # and an estimate too small
        records, reader = self.read(populate=False, caller=USER)
        by_pid = self.by_pid(records)
        self.assertEqual(reader.listing, "proc_listallpids")
        self.assertEqual(sorted(by_pid), [0, 1, 300, 412, 700, 800, 900])
        self.assertEqual(by_pid[300].start_time, 1700000050.5)  # from its task info
        self.assertIsNone(by_pid[700].start_time)               # not ours: unknown here
        self.assertEqual(by_pid[700].name, "configd")
        self.assertEqual(reader.skipped["vanished"], 1)
        reader.read()
        self.assertEqual(lib.standin_calls(CALL_PROCESS_TABLE), 1)    # not asked again

    def test_listing_failure_raises(self):
        self.populate()
        reader = pe.DarwinReader(self.lib)
        self.lib.standin_fail_table(errno.EPERM)
        self.lib.standin_fail_listing(errno.EPERM)
        with self.assertRaises(OSError) as caught:
            reader.read()
        self.assertEqual(caught.exception.errno, errno.EPERM)

    # -- names ------------------------------------------------------------

    def test_the_name_is_the_same_whoever_reads_it(self):
        lib = self.lib
        long_name = b"Google Chrome Helper (Renderer) Extra Long Name"
        add_fake(lib, 10, uid=88, comm=WEBKIT, path=WEBKIT_PATH, start=(1700000000, 0))
        add_fake(lib, 11, uid=88, comm=long_name, start=(1700000000, 0),
                 path=b"/Applications/Google Chrome.app/Contents/Frameworks/" + long_name)
        add_fake(lib, 12, uid=88, comm=WEBKIT, path_errno=errno.ENOENT,
                 start=(1700000000, 0))                        # its executable deleted
        accented = "a\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9".encode()
        add_fake(lib, 13, uid=88, comm=accented, start=(1700000000, 0),   # cut at 16 bytes,
                 path=b"/opt/bin/" + accented)                            # inside an e-acute
        add_fake(lib, 14, uid=88, comm=accented, path_errno=errno.ENOENT,
                 start=(1700000000, 0))
        names = {}
        for caller in (ROOT, 88, USER):
            records, _ = self.read(populate=False, caller=caller)
            names[caller] = [r.name for r in records]
        self.assertEqual(names[ROOT][:2], ["com.apple.WebKit.WebContent", long_name.decode()])
        self.assertEqual(names[USER][:2], names[ROOT][:2])
        self.assertEqual(names[ROOT][3], accented.decode())
        self.assertEqual(names[USER][3], names[ROOT][3])       # the path's, for every reader
        # Without a path the kernel's names are all there is: 31 characters to a
        # reader allowed the full BSD info, 16 from the process table to anyone else,
        # a character cut in two left out.
        self.assertEqual(names[88][2], WEBKIT.decode())
        self.assertEqual(names[USER][2], WEBKIT[:16].decode())
        self.assertEqual(names[88][4], accented.decode())
        self.assertEqual(names[USER][4], accented[:15].decode())

    def test_the_path_is_asked_for_once_per_program_run(self):
        records, reader = self.read(caller=USER)
        # every live process, another user's processes included; not the zombie
        self.assertEqual(self.lib.standin_calls(CALL_PIDPATH), 6)
        for _ in range(3):
            reader.read()
        self.assertEqual(self.lib.standin_calls(CALL_PIDPATH), 6)
        self.lib.standin_exec(300, b"WebKit", b"/System/WebKit", 14)      # it execs
        safari = self.by_pid(reader.read())[300]
        self.assertEqual((safari.name, safari.path), ("WebKit", "/System/WebKit"))
        self.assertEqual(self.lib.standin_calls(CALL_PIDPATH), 7)
        self.lib.standin_exec(700, b"configd2", b"/usr/libexec/configd2", 21)   # not ours
        self.assertEqual(self.by_pid(reader.read())[700].name, "configd2")

    # -- zombies ----------------------------------------------------------

    def test_a_zombie_keeps_its_start_time_and_final_cpu(self):
        records, _ = self.read()
        zombie = self.by_pid(records)[900]
        self.assertEqual((zombie.name, zombie.ppid, zombie.path), ("defunct", 300, ""))
        self.assertEqual(zombie.start_time, 1700000300.0)
        self.assertEqual((zombie.cpu_user, zombie.cpu_system), (2.0, 1.0))
        self.assertEqual((zombie.disk_read_bytes, zombie.major_faults), (4096, 7))
        self.assertIsNone(zombie.resident_bytes)
        self.assertIsNone(zombie.footprint_bytes)
        self.assertIsNone(zombie.minor_faults)
        self.assertIsNone(zombie.context_switches)

    def test_another_users_zombie_has_identity_and_start_time(self):
        add_fake(self.lib, 50, uid=0, comm=b"rootjob", start=(1700000400, 7))
        self.lib.standin_make_zombie(50)
        records, reader = self.read(populate=False, caller=USER)
        self.assertEqual((records[0].name, records[0].start_time), ("rootjob", 1700000400.000007))
        self.assertIsNone(records[0].cpu_user)
        self.assertEqual(reader.partial, 1)

    def assertGroupSeries(self, text, expected):
        families = parse_exposition(text)
        for (family, labels), value in expected.items():
            self.assertEqual(samples_of(families, family, groupname="tool", **dict(labels)), value,
                             (family, labels))

    def test_live_then_zombie_then_reaped_is_one_member_counted_once(self):
        lib = self.lib
        lib.standin_timebase(1, 1, 1000000000)
        lib.standin_caller_uid(USER)
        add_fake(lib, 70, comm=b"tool", start=(1700000000, 1), ticks=(10 * 10 ** 9, 0),
                 path=b"/usr/local/bin/tool")
        lib.standin_set_counts(70, 2, 500, 20, 1000)
        lib.standin_set_rusage(70, 4096, 100, 200, 0, 0, 0)
        exporter = pe.Exporter(pe.DarwinReader(lib), pe.GROUP_FAMILIES,
                               grouper=pe.Grouper("name"))
        alive = exporter.scrape()
        lib.standin_make_zombie(70)
        zombie = exporter.scrape()
        lib.standin_reap(70)
        reaped = exporter.scrape()
        cpu = "namedprocess_namegroup_cpu_seconds_total"
        self.assertGroupSeries(alive, {("namedprocess_namegroup_num_procs", ()): [1],
                                       (cpu, (("mode", "user"),)): [10.0]})
        for text in (zombie, reaped):
            self.assertGroupSeries(text, {(cpu, (("mode", "user"),)): [10.0]})
            families = parse_exposition(text)
            self.assertEqual(samples_of(families, "namedprocess_namegroup_read_bytes_total",
                                        groupname="tool"), [100])
            self.assertEqual(samples_of(families,
                                        "namedprocess_namegroup_context_switches_total",
                                        groupname="tool"), [1000])
        self.assertEqual(samples_of(parse_exposition(zombie),
                                    "namedprocess_namegroup_num_procs", groupname="tool"), [1])
        self.assertEqual(samples_of(parse_exposition(reaped),
                                    "namedprocess_namegroup_num_procs", groupname="tool"), [0])

    def test_exit_between_listing_and_reading_is_still_one_member(self):
        lib = self.lib
        lib.standin_timebase(1, 1, 1000000000)
        add_fake(lib, 71, comm=b"tool", start=(1700000000, 2), ticks=(3 * 10 ** 9, 0),
                 path=b"/usr/bin/tool")
        reader = pe.DarwinReader(lib)
        grouper = pe.Grouper("name")
        first = grouper.update(reader.read(), now=0)
        lib.standin_exit_after_listing(71)   # listed alive, a zombie when asked
        records = reader.read()
        self.assertEqual([(r.pid, r.start_time, r.name, r.path) for r in records],
                         [(71, 1700000000.000002, "tool", "/usr/bin/tool")])
        second = grouper.update(records, now=1)
        self.assertEqual([g.cpu_user for g in first + second], [3.0, 3.0])

    def test_an_exiting_process_never_counts_less_cpu_than_it_had(self):
        """The kernel keeps a zombie's rusage from the start of its exit, while its
        last threads still run: the zombie's CPU must not read below the live one."""
        lib = self.lib
        lib.standin_timebase(1, 1, 1000000000)
        add_fake(lib, 72, comm=b"tool", start=(1700000000, 3), ticks=(10 * 10 ** 9, 0))
        reader, grouper = pe.DarwinReader(lib), pe.Grouper("name")
        cpu = []
        for step in ("alive", "exiting", "zombie", "reaped"):
            if step == "exiting":
                lib.standin_begin_exit(72)                    # rusage frozen at 10.0
                lib.standin_set_ticks(72, 10 * 10 ** 9 + 5 * 10 ** 8, 0)
            elif step == "zombie":
                lib.standin_make_zombie(72)
            elif step == "reaped":
                lib.standin_reap(72)
            records = reader.read()
            cpu.append(([r.cpu_user for r in records],
                        grouper.update(records, now=len(cpu))[0].cpu_user))
        self.assertEqual(cpu, [([10.0], 10.0), ([10.5], 10.5), ([10.5], 10.5), ([], 10.5)])

    def test_a_pid_reused_between_listing_and_reading_is_not_the_listed_process(self):
        lib = self.lib
        add_fake(lib, 73, comm=b"old", start=(1700000000, 0), path=b"/bin/old")
        lib.standin_reuse_after_listing(73, 1700000999)
        records, reader = self.read(populate=False)
        self.assertEqual(records, [])
        self.assertEqual(reader.skipped["vanished"], 1)

    def test_without_the_table_a_zombie_keeps_the_start_it_had_alive(self):
        lib = self.lib
        lib.standin_fail_table(errno.EPERM)
        lib.standin_timebase(1, 1, 1000000000)
        add_fake(lib, 74, comm=b"tool", start=(1700000000, 4), ticks=(2 * 10 ** 9, 0))
        reader, grouper = pe.DarwinReader(lib), pe.Grouper("name")
        alive = reader.read()
        lib.standin_make_zombie(74)
        zombie = reader.read()
        self.assertEqual([r.start_time for r in alive + zombie], [1700000000.000004] * 2)
        sums = [grouper.update(records, now=i)[0].cpu_user
                for i, records in enumerate((alive, zombie, zombie))]
        self.assertEqual(sums, [2.0, 2.0, 2.0])

    def test_a_path_that_is_not_the_name_run_by_is_not_the_name(self):
        """A hard link, or a file renamed since the exec: the path is looked up anew."""
        add_fake(self.lib, 75, comm=b"gcc", start=(1700000000, 0), path=b"/usr/bin/clang")
        records, _ = self.read(populate=False)
        self.assertEqual((records[0].name, records[0].path), ("gcc", "/usr/bin/clang"))

    # -- counts that never lie ----------------------------------------------

    def test_32_bit_counts_at_the_top_or_wrapped_stay_out_for_life(self):
        lib = self.lib
        lib.standin_timebase(1, 1, 1000000000)
        add_fake(lib, 80, comm=b"WindowServer", start=(1700000000, 0))
        lib.standin_set_counts(80, 10, 2 ** 31 - 10, 1000, 2 ** 31 - 100)
        reader = pe.DarwinReader(lib)
        first = reader.read()[0]
        self.assertEqual(first.context_switches, 2 ** 31 - 100)
        self.assertEqual((first.major_faults, first.minor_faults), (1000, 2 ** 31 - 1010))
        lib.standin_set_counts(80, 10, 2 ** 31 + 10, 1001, 2 ** 31 + 5)
        saturated = reader.read()[0]
        self.assertIsNone(saturated.context_switches)
        self.assertIsNone(saturated.minor_faults)
        self.assertEqual(saturated.major_faults, 1001)
        lib.standin_set_counts(80, 10, 2 ** 32 + 20, 1002, 2 ** 32 + 40)
        wrapped = reader.read()[0]                          # the kernel gives 40 now
        self.assertIsNone(wrapped.context_switches)
        self.assertIsNone(wrapped.minor_faults)

    def test_page_ins_beyond_32_bits_come_from_rusage(self):
        lib = self.lib
        add_fake(lib, 85, comm=b"pager", start=(1700000000, 0))
        lib.standin_set_counts(85, 1, 2 ** 33, 2 ** 32, 10)   # the task info saturates both
        record = pe.DarwinReader(lib).read()[0]
        self.assertEqual(record.major_faults, 2 ** 32)        # rusage's 64-bit page-ins
        self.assertIsNone(record.minor_faults)

    def test_macos_11_negative_counts_are_left_out(self):
        lib = self.lib
        lib.standin_macos_major(11)
        add_fake(lib, 81, comm=b"busy", start=(1700000000, 0))
        lib.standin_set_counts(81, 1, 2 ** 31 + 7, 3, 2 ** 31 + 9)
        reader = pe.DarwinReader(lib)
        record = reader.read()[0]
        self.assertIsNone(record.context_switches)
        self.assertIsNone(record.minor_faults)
        self.assertEqual(record.major_faults, 3)
        # macOS 11's rusage page-ins are 32 bits too, sign-extended past 2**31
        lib.standin_set_counts(81, 1, 2 ** 31 + 7, 2 ** 31 + 3, 2 ** 31 + 9)
        self.assertIsNone(reader.read()[0].major_faults)
        lib.standin_set_counts(81, 1, 2 ** 31 + 7, 2 ** 32 + 3, 2 ** 31 + 9)   # 3 again
        self.assertIsNone(reader.read()[0].major_faults)

    def test_a_count_lower_than_last_time_is_a_wrap_not_a_reset(self):
        lib = self.lib
        add_fake(lib, 82, comm=b"busy", start=(1700000000, 0))
        lib.standin_set_counts(82, 1, 5000, 10, 4000)
        reader = pe.DarwinReader(lib)
        self.assertEqual(reader.read()[0].context_switches, 4000)
        lib.standin_set_counts(82, 1, 5000, 10, 2 ** 32 + 100)    # seen after a wrap
        self.assertIsNone(reader.read()[0].context_switches)
        lib.standin_set_counts(82, 1, 5000, 10, 2 ** 32 + 5000)
        self.assertIsNone(reader.read()[0].context_switches)     # and never again

    def test_group_sums_keep_a_saturated_members_last_count(self):
        lib = self.lib
        add_fake(lib, 83, comm=b"svc", start=(1700000000, 0))
        add_fake(lib, 84, comm=b"svc", start=(1700000000, 1))
        lib.standin_set_counts(83, 1, 100, 1, 2 ** 31 - 1000)
        lib.standin_set_counts(84, 1, 100, 1, 10)
        reader, grouper = pe.DarwinReader(lib), pe.Grouper("name")
        sums = []
        for csw in (2 ** 31 - 1000, 2 ** 31 - 500, 2 ** 31 + 5, 2 ** 32 + 1):
            lib.standin_set_counts(83, 1, 100, 1, csw)
            lib.standin_set_counts(84, 1, 100, 1, 10 + len(sums))
            sums.append(grouper.update(reader.read(), now=len(sums))[0].context_switches)
        self.assertEqual(sums, [2 ** 31 - 990, 2 ** 31 - 489, 2 ** 31 - 488, 2 ** 31 - 487])

    # -- the numbers already in the buffers ---------------------------------

    def test_wakeups_wait_wired_peak_and_performance_cores(self):
        lib = self.lib
        lib.standin_timebase(125, 3, 24000000)
        add_fake(lib, 90, comm=b"app", start=(1700000000, 0), ticks=(48000000, 24000000))
        lib.standin_set_rusage_more(90, 1200, 30, 65536, 900000000, 2400000, 36000000,
                                    12000000)
        fields = pe.fields_of(pe.select_families(["all"]))
        record = pe.DarwinReader(lib, fields).read()[0]
        self.assertEqual((record.idle_wakeups, record.interrupt_wakeups), (1200, 30))
        self.assertEqual((record.wired_bytes, record.footprint_peak_bytes), (65536, 900000000))
        self.assertEqual(record.cpu_wait, 0.1)      # runnable time less the 3 s it ran
        self.assertIsNone(record.cpu_user_performance)       # Intel: one kind of core
        lib.standin_perf_levels(2)                            # Apple silicon
        record = pe.DarwinReader(lib, fields).read()[0]
        self.assertEqual((record.cpu_user_performance, record.cpu_system_performance),
                         (1.5, 0.5))
        text = pe.render([record])
        self.assertIn('process_cpu_performance_seconds_total{pid="90",ppid="1",uid="501",'
                      'gid="20",path="",name="app",mode="user"} 1.5', text.split("\n"))
        lib.standin_rusage_newest(pe.RUSAGE_INFO_V4)          # before macOS 13: no V6
        record = pe.DarwinReader(lib, fields).read()[0]
        self.assertIsNone(record.cpu_user_performance)
        self.assertEqual(record.idle_wakeups, 1200)

    def test_waiting_is_runnable_time_less_cpu_time_and_never_goes_down(self):
        lib = self.lib
        lib.standin_timebase(125, 3, 24000000)
        add_fake(lib, 91, comm=b"busy", start=(1700000000, 0), ticks=(24000000, 0))
        lib.standin_set_rusage_more(91, 0, 0, 0, 0, 1200000, 0, 0)       # 0.05 s waiting
        reader = pe.DarwinReader(lib, {"cpu_user", "cpu_wait"})
        self.assertEqual(reader.read()[0].cpu_wait, 0.05)
        lib.standin_set_ticks(91, 48000000, 0)           # a second more on a CPU, no wait
        self.assertEqual(reader.read()[0].cpu_wait, 0.05)
        lib.standin_runnable_lag(91, 240000)             # the clocks' stamps drift apart
        self.assertEqual(reader.read()[0].cpu_wait, 0.05)        # kept, not 0.04
        lib.standin_runnable_lag(91, 0)
        lib.standin_set_rusage_more(91, 0, 0, 0, 0, 2400000, 0, 0)
        self.assertEqual(reader.read()[0].cpu_wait, 0.1)

    def test_zero_hardware_counters_are_left_out(self):
        records, _ = self.read()
        launchd = self.by_pid(records)[1]
        self.assertIsNone(launchd.instructions)
        self.assertIsNone(launchd.cycles)
        self.assertIsNone(launchd.energy_joules)
        self.assertEqual(launchd.disk_written_bytes, 524288)     # a real counter stays

    def test_rusage_v6_refused_on_an_older_macos_falls_back_to_v4_for_good(self):
        self.lib.standin_rusage_newest(pe.RUSAGE_INFO_V4)
        records, reader = self.read()
        safari = self.by_pid(records)[300]
        self.assertEqual(safari.footprint_bytes, 450000000)
        self.assertEqual(safari.instructions, 98765432100)
        self.assertIsNone(safari.energy_joules)                  # V6 only
        self.assertEqual(self.lib.standin_calls(CALL_RUSAGE_V6), 1)
        v4_calls = self.lib.standin_calls(CALL_RUSAGE_V4)
        reader.read()
        self.assertEqual(self.lib.standin_calls(CALL_RUSAGE_V6), 1)
        self.assertGreater(self.lib.standin_calls(CALL_RUSAGE_V4), v4_calls)
        self.assertIsInstance(reader._rusage, pe.rusage_info_v4)

    def test_rusage_v6_accepted_is_kept(self):
        _, reader = self.read()
        reader.read()
        self.assertEqual(self.lib.standin_calls(CALL_RUSAGE_V4), 0)
        self.assertIsInstance(reader._rusage, pe.rusage_info_v6)

    def test_a_process_with_no_open_descriptors_has_zero(self):
        add_fake(self.lib, 6, comm=b"closed-all")
        self.lib.standin_set_fds(6, 0, 16, 16)      # proc_pidinfo answers 0 bytes, no error
        records, reader = self.read(populate=False, caller=USER)
        self.assertEqual(records[0].open_fds, 0)
        self.assertEqual(reader.partial, 0)

    def test_fd_table_grown_since_bsdinfo(self):
        add_fake(self.lib, 5, comm=b"opener")
        self.lib.standin_set_fds(5, 5000, 8192, 16)   # pbi_nfiles says 16, table is 8192
        records, _ = self.read(populate=False)
        self.assertEqual(records[0].open_fds, 5000)

    def test_timebase_sources(self):
        cases = {
            "apple silicon, hw.tbfrequency": (125, 3, 24000000),
            "apple silicon, no hw.tbfrequency": (125, 3, 0),
            "rosetta: mach_timebase_info lies 1/1": (1, 1, 24000000),
        }
        for case, (numer, denom, frequency) in cases.items():
            with self.subTest(case):
                self.lib.standin_reset()
                records, _ = self.read(numer, denom, frequency)
                launchd = self.by_pid(records)[1]
                self.assertEqual((launchd.cpu_user, launchd.cpu_system), (1.5, 0.5))
        self.lib.standin_reset()
        records, _ = self.read(1, 1, 1000000000)        # Intel: ticks are ns
        self.assertEqual(self.by_pid(records)[1].cpu_user, 0.036)

    def test_unwanted_numbers_are_not_read(self):
        self.read(fields={"threads"})
        self.assertGreater(self.lib.standin_calls(CALL_TASKALLINFO), 0)
        self.assertEqual(self.lib.standin_calls(CALL_LISTFDS), 0)
        # only for the zombie, and the process that vanished (it may have become one)
        self.assertEqual(self.lib.standin_calls(CALL_RUSAGE_V6), 2)
        self.lib.standin_reset()
        self.read(fields={"open_fds"})
        self.assertEqual(self.lib.standin_calls(CALL_RUSAGE_V6), 2)
        self.assertGreater(self.lib.standin_calls(CALL_LISTFDS), 0)

    def test_buffers_are_reused_between_scrapes(self):
        first, reader = self.read(1, 1, 1000000000)
        table, info, rusage = reader._table, reader._info, reader._rusage
        second = reader.read()
        self.assertIs(reader._table, table)
        self.assertIs(reader._info, info)
        self.assertIs(reader._rusage, rusage)
        self.assertEqual([r.pid for r in first], [r.pid for r in second])

    def test_once_end_to_end_as_on_a_mac(self):
        """main(['--once']) with sys.platform 'darwin' and libSystem the stand-in."""
        import io
        self.populate()
        self.lib.standin_timebase(125, 3, 24000000)
        self.lib.standin_caller_uid(ROOT)
        saved = pe.LIBSYSTEM_PATH, sys.platform, sys.stdout
        pe.LIBSYSTEM_PATH, sys.platform, sys.stdout = _standin["path"], "darwin", io.StringIO()
        try:
            code = pe.main(["--once", "--group-by", "name", "--include", "Safari|launchd"])
            text = sys.stdout.getvalue()
        finally:
            pe.LIBSYSTEM_PATH, sys.platform, sys.stdout = saved
        self.assertEqual(code, 0)
        families = self.assertValidExposition(text)
        self.assertEqual(samples_of(families, "namedprocess_namegroup_cpu_seconds_total",
                                    groupname="launchd", mode="user"), [1.5])
        self.assertEqual(samples_of(families, "namedprocess_namegroup_num_procs",
                                    groupname="Safari"), [1])
        (labels, _), = families["process_exporter_build_info"]["samples"]
        self.assertEqual(labels["platform"], "darwin")


class DarwinCommandLineTest(unittest.TestCase):
    """Command lines through sysctl(KERN_PROCARGS2), as the stand-in's kernel gives
    them: our own processes' (any to root), EINVAL for the rest."""

    def setUp(self):
        self.lib = standin_library()
        self.lib.standin_reset()
        add_fake(self.lib, 0, ppid=0, uid=0, gid=0, comm=b"kernel_task", name=b"",
                 path_errno=errno.ESRCH)
        add_fake(self.lib, 40, uid=0, comm=b"sshd", path=b"/usr/sbin/sshd", start=(5, 0))
        set_fake_args(self.lib, 40, [b"/usr/sbin/sshd", b"-D"])
        add_fake(self.lib, 500, comm=b"java", path=b"/usr/bin/java", start=(7, 0))
        set_fake_args(self.lib, 500, [b"java", b"-jar", b"/opt/kafka.jar", b"--x="],
                      environment=(b"SECRET_TOKEN=hunter2", b"PATH=/bin"))

    def read(self, reader):
        return {record.pid: record for record in reader.read()}

    def test_own_processes_arguments_without_the_environment(self):
        reader = pe.DarwinReader(self.lib, fields=pe.VALUE_FIELDS + (pe.CMDLINE,))
        records = self.read(reader)
        self.assertEqual(records[500].cmdline, "java -jar /opt/kafka.jar --x=")
        self.assertIsNone(records[40].cmdline)          # root's: EINVAL to user 501
        self.assertIsNone(records[0].cmdline)           # pid 0: EINVAL
        self.assertNotIn("hunter2", repr(records))
        self.lib.standin_caller_uid(ROOT)
        records = self.read(pe.DarwinReader(self.lib, fields=(pe.CMDLINE,)))
        self.assertEqual(records[40].cmdline, "/usr/sbin/sshd -D")

    def test_read_once_per_process_and_again_after_an_exec(self):
        reader = pe.DarwinReader(self.lib, fields=(pe.CMDLINE,))
        for _ in range(3):
            self.read(reader)
        self.assertEqual(self.lib.standin_calls(CALL_PROCARGS2), 3)     # 0, 40, 500 once
        self.lib.standin_exec(500, b"python3", b"/usr/bin/python3", 16)
        set_fake_args(self.lib, 500, [b"python3", b"serve.py"])
        self.assertEqual(self.read(reader)[500].cmdline, "python3 serve.py")
        self.assertEqual(self.lib.standin_calls(CALL_PROCARGS2), 4)

    def test_not_read_unless_asked_for(self):
        records = self.read(pe.DarwinReader(self.lib))
        self.assertIsNone(records[500].cmdline)
        self.assertNotIn("cmdline", records[500].__dict__)
        self.assertEqual(self.lib.standin_calls(CALL_PROCARGS2), 0)

    def test_a_zombie_keeps_what_it_had_alive_and_a_new_one_has_none(self):
        reader = pe.DarwinReader(self.lib, fields=(pe.CMDLINE,))
        self.read(reader)
        add_fake(self.lib, 600, comm=b"sleep", path=b"/bin/sleep", start=(9, 0))
        self.lib.standin_make_zombie(500)
        self.lib.standin_make_zombie(600)
        records = self.read(reader)
        self.assertEqual(records[500].cmdline, "java -jar /opt/kafka.jar --x=")
        self.assertIsNone(records[600].cmdline)

    def test_the_kernel_refuses_a_buffer_past_argmax(self):
        mib = (ctypes.c_int * 3)(pe.CTL_KERN, pe.KERN_PROCARGS2, 500)
        argmax = pe.sysctl_number(self.lib, b"kern.argmax", ctypes.c_int32)
        for size, result in ((argmax + 4, 0), (argmax + 5, -1), (4, -1)):
            buffer = ctypes.create_string_buffer(size)
            length = ctypes.c_size_t(size)
            with self.subTest(size=size):
                self.assertEqual(self.lib.sysctl(mib, 3, buffer, ctypes.byref(length),
                                                 None, 0), result)
                if result:
                    self.assertEqual(ctypes.get_errno(), errno.EINVAL)

    @unittest.skipUnless(sys.platform == "darwin", "a real Mac")
    def test_on_this_mac_own_command_lines_as_ps_shows_them(self):
        records = self.read(pe.DarwinReader(fields=(pe.CMDLINE,)))
        self.assertEqual(records[os.getpid()].cmdline,
                         ps("-ww", "-o", "args=", "-p", str(os.getpid())).strip())
        if os.geteuid() != 0:
            self.assertIsNone(records[1].cmdline)        # launchd is root's: EINVAL

    def test_odd_areas_parse_or_give_nothing(self):
        argc = (2).to_bytes(4, sys.byteorder)
        # argv[0] starts where the path, its NUL and the padding to 8 bytes end
        self.assertEqual(pe.procargs_arguments(argc + b"/bin/a\0\0a\0b\0ENV=1\0"),
                         [b"a", b"b"])
        self.assertEqual(pe.procargs_arguments(argc + b"/bin/a\0\0\0a\0ENV=1\0"),
                         [b"", b"a"])                       # an empty argv[0] is one NUL
        self.assertEqual(pe.procargs_arguments(argc + b"/bin/ab\0" + b"\0" * 8 + b"x\0"),
                         [b"", b""])                        # 7 bytes and its NUL: no pad
        self.assertEqual(pe.procargs_arguments(argc + b"/bin/a\0\0a\0b"), [b"a", b"b"])
        self.assertEqual(pe.procargs_arguments(argc + b"/bin/a\0\0"), [])
        self.assertEqual(pe.procargs_arguments((0).to_bytes(4, sys.byteorder) + b"/a\0" +
                                               b"\0" * 5 + b"ENV=1\0"), [])     # argc 0
        self.assertIsNone(pe.procargs_arguments(b"\1\0"))
        self.assertIsNone(pe.procargs_arguments(argc + b"/bin/a"))
        self.assertIsNone(pe.procargs_arguments((-1).to_bytes(4, sys.byteorder, signed=True)
                                                + b"/a\0b\0"))

    def test_a_cut_answer_is_no_command_line(self):
        # Path, arguments, environment and Apple's strings past kern.argmax: the kernel
        # gives their tail, at the caller's own size, its end zeroed to a page.
        environment = [b"K%d=%s" % (i, b"v" * 1000) for i in range(1100)]
        set_fake_args(self.lib, 500, [b"java", b"-jar", b"x.jar"], environment=environment)
        reader = pe.DarwinReader(self.lib, fields=(pe.CMDLINE,))
        self.assertIsNone(self.read(reader)[500].cmdline)      # not environment text

    def test_an_empty_argv0_shifts_nothing(self):
        set_fake_args(self.lib, 500, [b"", b"-x"], path=b"/usr/bin/java")
        reader = pe.DarwinReader(self.lib, fields=(pe.CMDLINE,))
        self.assertEqual(self.read(reader)[500].cmdline, " -x")

    def test_refused_then_readable_once_its_user_is_ours(self):
        reader = pe.DarwinReader(self.lib, fields=(pe.CMDLINE,))
        self.assertIsNone(self.read(reader)[40].cmdline)          # root's: EINVAL
        self.read(reader)
        calls = self.lib.standin_calls(CALL_PROCARGS2)
        self.read(reader)
        self.assertEqual(self.lib.standin_calls(CALL_PROCARGS2), calls)   # not asked again
        self.lib.standin_set_uid(40, USER)               # privilege separation: setuid(501)
        self.assertEqual(self.read(reader)[40].cmdline, "/usr/sbin/sshd -D")

    def test_an_exec_keeping_the_first_16_bytes_of_the_name_is_noticed(self):
        helper = b"com.example.helper"
        self.lib.standin_exec(500, helper + b".Agent", b"/opt/x/" + helper + b".Agent", 31)
        set_fake_args(self.lib, 500, [helper + b".Agent"])
        reader = pe.DarwinReader(self.lib, fields=pe.VALUE_FIELDS + (pe.CMDLINE,))
        first = self.read(reader)[500]
        self.assertEqual((first.name, first.cmdline), ("com.example.helper.Agent",) * 2)
        self.lib.standin_exec(500, helper + b".Other", b"/opt/y/" + helper + b".Other", 31)
        set_fake_args(self.lib, 500, [helper + b".Other", b"-v"])
        later = self.read(reader)[500]
        self.assertEqual((later.name, later.path, later.cmdline),
                         ("com.example.helper.Other", "/opt/y/com.example.helper.Other",
                          "com.example.helper.Other -v"))


# ---------------------------------------------------------------------------
# macOS: the exporter against the system itself (skipped elsewhere)
#
# GitHub's macOS runners run these on every push (.github/workflows/tests.yml,
# which sets PROCESS_EXPORTER_ON_MAC_CI=1 so that they cannot quietly skip there).
# ---------------------------------------------------------------------------

IS_MACOS = sys.platform == "darwin"
ON_MAC_CI = os.environ.get("PROCESS_EXPORTER_ON_MAC_CI") == "1"


def ps(*args):
    """What ps says, in the C locale (lstart's format depends on it)."""
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run(("ps",) + args, env=env, stdout=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout


def busy(seconds):
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


class MacOSSystemTest(unittest.TestCase):
    """DarwinReader on the real libSystem, checked against ps, resource and the clock."""

    def setUp(self):
        if not IS_MACOS:
            if ON_MAC_CI:
                self.fail("PROCESS_EXPORTER_ON_MAC_CI is set, but this is %s" % sys.platform)
            self.skipTest("runs only on macOS: checks the exporter against the system itself")

    def read(self, reader=None):
        reader = reader or pe.DarwinReader()
        return {record.pid: record for record in reader.read()}, reader

    def test_this_process_against_resource(self):
        busy(0.5)
        before = resource.getrusage(resource.RUSAGE_SELF)
        me = self.read()[0][os.getpid()]
        after = resource.getrusage(resource.RUSAGE_SELF)
        self.assertEqual((me.ppid, me.uid, me.gid),
                         (os.getppid(), os.geteuid(), os.getegid()))
        self.assertGreaterEqual(me.cpu_user, before.ru_utime - 0.05)
        self.assertLessEqual(me.cpu_user, after.ru_utime + 0.05)
        self.assertGreaterEqual(me.cpu_system, before.ru_stime - 0.05)
        self.assertLessEqual(me.cpu_system, after.ru_stime + 0.05)
        self.assertGreater(me.resident_bytes, 4 * 1024 * 1024)
        self.assertLessEqual(me.resident_bytes, after.ru_maxrss)    # bytes on macOS
        self.assertGreater(me.threads, 0)
        self.assertGreater(me.open_fds, 2)
        self.assertGreater(me.footprint_bytes, 0)
        self.assertEqual(me.name, os.path.basename(me.path))

    def test_states_of_a_sleeping_a_stopped_and_a_zombie_child(self):
        sleeping = subprocess.Popen(["sleep", "60"])
        stopped = subprocess.Popen(["sleep", "60"])
        zombie = subprocess.Popen(["true"])
        self.addCleanup(lambda: [(c.kill(), c.wait()) for c in (sleeping, stopped, zombie)])
        os.kill(stopped.pid, signal.SIGSTOP)
        wanted = {os.getpid(): "Running", sleeping.pid: "Sleeping", stopped.pid: "Other",
                  zombie.pid: "Zombie"}
        deadline = time.time() + 5
        while time.time() < deadline:
            records = self.read()[0]
            states = {pid: records[pid].state for pid in wanted if pid in records}
            if states == wanted:
                break
            time.sleep(0.1)
        self.assertEqual(states, wanted)

    def test_threads_of_this_process(self):
        done = threading.Event()
        workers = [threading.Thread(target=done.wait, name="waiter") for _ in range(3)]
        for worker in workers:
            worker.start()
        self.addCleanup(lambda: (done.set(), [worker.join() for worker in workers]))
        busy(0.3)
        reader = pe.DarwinReader(fields={"thread_list", "threads", "cpu_user", "cpu_system"})
        me = self.read(reader)[0][os.getpid()]
        self.assertGreaterEqual(len(me.thread_list), 4)
        self.assertEqual(len({thread.tid for thread in me.thread_list}),
                         len(me.thread_list))
        threads_cpu = sum(t.cpu_user + t.cpu_system for t in me.thread_list)
        # the task's time includes threads that have exited; its live threads' cannot be more
        self.assertLessEqual(threads_cpu, me.cpu_user + me.cpu_system + 0.05)
        self.assertGreater(threads_cpu, 0.2)

    def test_cpu_seconds_follow_a_busy_loop(self):
        """hw.tbfrequency (or the timebase) turns Mach ticks into the right seconds."""
        reader = pe.DarwinReader()
        first = self.read(reader)[0][os.getpid()]
        spent = time.process_time()
        busy(1.0)
        spent = time.process_time() - spent
        second = self.read(reader)[0][os.getpid()]
        measured = (second.cpu_user + second.cpu_system) - (first.cpu_user + first.cpu_system)
        self.assertAlmostEqual(measured, spent, delta=0.1 * spent + 0.05)

    def test_a_child_against_ps(self):
        child = subprocess.Popen(["/bin/sleep", "30"])
        try:
            time.sleep(0.2)
            record = self.read()[0][child.pid]
            line = ps("-o", "ppid=,uid=,rgid=,rss=", "-p", str(child.pid)).split()
            ppid, uid, gid, rss_kib = (int(field) for field in line)
            lstart = ps("-o", "lstart=", "-p", str(child.pid)).strip()
            started = time.mktime(time.strptime(lstart, "%a %b %d %H:%M:%S %Y"))
            self.assertEqual((record.ppid, record.uid, record.gid), (ppid, uid, gid))
            self.assertEqual((record.path, record.name), ("/bin/sleep", "sleep"))
            self.assertAlmostEqual(record.start_time, started, delta=1.0)
            self.assertAlmostEqual(record.resident_bytes / 1024, rss_kib,
                                   delta=0.2 * rss_kib + 64)
        finally:
            child.kill()
            child.wait()

    def test_a_zombie_keeps_its_start_time_and_name(self):
        child = subprocess.Popen(["/bin/sleep", "1"])
        try:
            reader = pe.DarwinReader()
            alive = self.read(reader)[0][child.pid]
            deadline = time.monotonic() + 10
            while ps("-o", "stat=", "-p", str(child.pid)).strip()[:1] != "Z":
                self.assertLess(time.monotonic(), deadline, "the child never became a zombie")
                time.sleep(0.05)
            zombie = self.read(reader)[0][child.pid]
            self.assertEqual(zombie.start_time, alive.start_time)
            self.assertEqual((zombie.name, zombie.path), ("sleep", "/bin/sleep"))
            self.assertIsNone(zombie.resident_bytes)
            self.assertIsNotNone(zombie.cpu_user)              # our own child: rusage
            fresh = self.read()[0][child.pid]                 # a reader that never saw it
            self.assertEqual((fresh.start_time, fresh.name), (alive.start_time, "sleep"))
        finally:
            child.wait()
        self.assertNotIn(child.pid, self.read()[0])

    def test_every_pid_ps_shows_is_exported(self):
        before = {int(pid) for pid in ps("-A", "-o", "pid=").split()}
        records, reader = self.read()
        after = {int(pid) for pid in ps("-A", "-o", "pid=").split()}
        self.assertEqual(reader.listing, "process table")
        missing = (before & after) - set(records)      # alive before and after the read
        self.assertEqual(missing, set())
        self.assertTrue(all(record.start_time is not None for record in records.values()))
        self.assertTrue(all(record.name for record in records.values()))

    def test_other_users_processes_as_a_normal_user(self):
        if os.geteuid() == 0:
            self.skipTest("run as a normal user to see what the kernel refuses")
        records, reader = self.read()
        self.assertGreater(reader.partial, 0)             # launchd is root's, at least
        launchd = records[1]
        self.assertEqual((launchd.name, launchd.path, launchd.uid), ("launchd", "/sbin/launchd", 0))
        self.assertIsNotNone(launchd.start_time)
        self.assertIsNone(launchd.cpu_user)

    def test_a_name_that_is_not_ascii_is_its_file_name_in_either_normal_form(self):
        import unicodedata
        folder = tempfile.mkdtemp(prefix="names-")
        self.addCleanup(shutil.rmtree, folder, True)
        children = []
        for form in ("NFC", "NFD"):
            name = unicodedata.normalize(form, "t\u00e9l\u00e9chargements-\u00e9t\u00e9")
            path = os.path.join(folder, name)            # past 16 bytes, inside a character
            shutil.copy("/bin/sleep", path)
            children.append((subprocess.Popen([path, "30"]), name))
        self.addCleanup(lambda: [(child.kill(), child.wait()) for child, _ in children])
        time.sleep(0.2)
        records = self.read()[0]
        for child, name in children:
            record = records[child.pid]
            self.assertEqual(record.name, os.path.basename(record.path))
            self.assertNotIn("\ufffd", record.name)
            self.assertEqual(unicodedata.normalize("NFC", record.name),
                             unicodedata.normalize("NFC", name))

    def test_a_stopped_child_is_other_and_running_again_once_continued(self):
        child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        self.addCleanup(lambda: (child.kill(), child.wait()))
        os.kill(child.pid, signal.SIGSTOP)
        time.sleep(0.2)
        self.assertEqual(self.read()[0][child.pid].state, "Other")
        os.kill(child.pid, signal.SIGCONT)
        time.sleep(0.2)
        self.assertEqual(self.read()[0][child.pid].state, "Running")

    def test_waiting_is_runnable_time_less_cpu_time(self):
        """A busy loop on a runner that has a CPU for it waits far less than it runs."""
        child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        self.addCleanup(lambda: (child.kill(), child.wait()))
        reader = pe.DarwinReader(fields={"cpu_user", "cpu_system", "cpu_wait"})
        time.sleep(1.0)
        record = self.read(reader)[0][child.pid]
        cpu = record.cpu_user + record.cpu_system
        self.assertGreater(cpu, 0.5)
        self.assertGreaterEqual(record.cpu_wait, 0)
        self.assertLess(record.cpu_wait, cpu)

    def test_once_on_this_mac(self):
        result = subprocess.run([sys.executable, SCRIPT, "--once"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=60)
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        families = parse_exposition(result.stdout.decode("utf-8"))
        self.assertEqual(len(samples_of(families, "process_info", pid=os.getpid())), 1)
        self.assertEqual(len(samples_of(families, "process_start_time_seconds", pid=1)), 1)


# ---------------------------------------------------------------------------
# Linux: the real /proc, and procfs trees made here
# ---------------------------------------------------------------------------

@unittest.skipUnless(IS_LINUX, "reads the real /proc")
class LinuxRealProcTest(unittest.TestCase):

    def test_this_process_is_read_truly(self):
        busy_until = time.process_time() + 0.2
        while time.process_time() < busy_until:
            pass
        records = pe.LinuxReader().read()
        me = [r for r in records if r.pid == os.getpid()]
        self.assertEqual(len(me), 1)
        me = me[0]
        self.assertEqual((me.ppid, me.uid, me.gid),
                         (os.getppid(), os.geteuid(), os.getegid()))
        self.assertEqual(me.path, os.path.realpath("/proc/self/exe"))
        self.assertEqual(me.path, os.path.realpath(sys.executable))
        times = os.times()
        self.assertAlmostEqual(me.cpu_user, times.user, delta=0.1)
        self.assertAlmostEqual(me.cpu_system, times.system, delta=0.1)
        self.assertGreater(me.cpu_user + me.cpu_system, 0.15)
        max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.assertGreater(me.resident_bytes, 4 * 1024 * 1024)
        self.assertLessEqual(me.resident_bytes, max_rss)

    def test_time_waiting_for_a_cpu_is_schedstats(self):
        reader = pe.LinuxReader(fields={"cpu_wait"})
        with open("/proc/self/schedstat") as f:
            before = int(f.read().split()[1]) / 1e9
        me = [r for r in reader.read() if r.pid == os.getpid()][0]
        with open("/proc/self/schedstat") as f:
            after = int(f.read().split()[1]) / 1e9
        self.assertTrue(before <= me.cpu_wait <= after, (before, me.cpu_wait, after))
        default = pe.LinuxReader(fields=pe.fields_of(pe.select_families(None)))
        self.assertIsNone(default.read()[0].cpu_wait)     # not read without --metrics

    def test_a_child_start_time_and_name(self):
        started = time.time()
        child = subprocess.Popen(["sleep", "30"])
        try:
            records = pe.LinuxReader().read()
            found = [r for r in records if r.pid == child.pid]
            self.assertEqual(len(found), 1)
            self.assertAlmostEqual(found[0].start_time, started, delta=2.0)
            self.assertEqual(found[0].name, "sleep")
            self.assertEqual(found[0].path, os.path.realpath(shutil.which("sleep")))
            self.assertEqual(found[0].ppid, os.getpid())
        finally:
            child.kill()
            child.wait()

    def test_every_linux_number_of_this_process(self):
        reader = pe.LinuxReader()
        reader.read()                 # the reader keeps each stat open from now on
        me = [r for r in reader.read() if r.pid == os.getpid()][0]
        self.assertAlmostEqual(me.threads, len(os.listdir("/proc/self/task")), delta=1)
        self.assertAlmostEqual(me.open_fds, len(os.listdir("/proc/self/fd")), delta=2)
        reader.close()
        self.assertGreater(me.virtual_bytes, me.resident_bytes)
        self.assertGreater(me.minor_faults, 0)
        self.assertGreaterEqual(me.major_faults, 0)
        self.assertGreater(me.voluntary_switches + me.nonvoluntary_switches, 0)
        self.assertEqual(me.state, "Running")        # it is reading, so running
        with open("/proc/self/io") as f:
            io = dict(line.split(": ") for line in f.read().splitlines())
        self.assertLessEqual(me.disk_read_bytes, int(io["read_bytes"]))
        self.assertLessEqual(me.disk_written_bytes, int(io["write_bytes"]))
        for absent in ("footprint_bytes", "instructions", "cycles", "energy_joules"):
            self.assertIsNone(getattr(me, absent), absent)

    @unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0,
                         "needs root, to become another user")
    def test_as_another_user_fds_and_io_of_others_are_left_out(self):
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():     # the child only reads files and writes a pipe
            warnings.simplefilter("ignore", DeprecationWarning)
            child = os.fork()
        if child == 0:                      # the child becomes nobody and reads
            try:
                os.close(read_end)
                os.setgid(65534)
                os.setuid(65534)
                reader = pe.LinuxReader()
                init = [r for r in reader.read() if r.pid == 1][0]
                os.write(write_end, json.dumps({
                    "partial": reader.partial, "fds": init.open_fds,
                    "read": init.disk_read_bytes, "cpu": init.cpu_user,
                    "threads": init.threads}).encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as f:
            seen = json.loads(f.read().decode())
        os.waitpid(child, 0)
        self.assertGreater(seen["partial"], 0)
        if seen["fds"] is not None:     # Linux 6.2+ gives anyone the count as fd/'s size
            self.assertTrue(pe.fd_dir_size_counts("/proc"))
            self.assertAlmostEqual(seen["fds"], len(os.listdir("/proc/1/fd")), delta=2)
        self.assertIsNone(seen["read"])
        self.assertIsNotNone(seen["cpu"])         # stat is anyone's to read
        self.assertGreater(seen["threads"], 0)

    def test_files_kept_open_follow_processes_that_exit(self):
        def own_fds():
            return len(os.listdir("/proc/self/fd"))
        def kept_pids():
            return {pid for pid, _ in reader.files._open}
        reader = pe.LinuxReader(kept_files=10000)
        reader.read()
        others = own_fds() - len(reader.files)     # descriptors that are not kept files
        children = [subprocess.Popen(["sleep", "30"]) for _ in range(20)]
        records = reader.read()
        pids = {c.pid for c in children}
        self.assertTrue(pids <= {r.pid for r in records})
        self.assertTrue(pids <= kept_pids())                # their files stay open
        self.assertLessEqual(own_fds() - len(reader.files), others + 2)
        for child in children:
            child.kill()
            child.wait()
        records = reader.read()
        self.assertFalse(pids & {r.pid for r in records})
        self.assertFalse(pids & kept_pids())                # and are closed once gone
        self.assertLessEqual(own_fds() - len(reader.files), others + 2)     # none leaks
        reader.close()
        if pe.fd_dir_size_counts("/proc"):
            self.assertEqual(os.stat("/proc/self/fd").st_size + 1, own_fds())

    def test_pid_1_and_unique_pids(self):
        records = pe.LinuxReader().read()
        pids = [r.pid for r in records]
        self.assertIn(1, pids)
        self.assertEqual(len(pids), len(set(pids)))


@unittest.skipUnless(IS_LINUX, "reads the real /proc")
class LinuxCommandLineTest(unittest.TestCase, ExpositionChecks):
    """Rules and labels on the command lines of real processes."""

    def start(self, *arguments, code="import sys, time; sys.stdin.read(1); time.sleep(60)"):
        child = subprocess.Popen([sys.executable, "-c", code] + list(arguments),
                                 stdin=subprocess.PIPE)
        self.addCleanup(child.stdin.close)
        self.addCleanup(child.wait)
        self.addCleanup(child.kill)
        return child

    def scrape(self, exporter):
        return self.assertValidExposition(exporter.scrape())

    def test_two_pythons_told_apart_by_their_arguments(self):
        alpha, beta = self.start("pe-test-alpha"), self.start("pe-test-beta")
        exporter = pe.build_exporter(pe.parse_args(["--include=cmdline:pe-test-alpha"]))
        pids = {labels["pid"] for labels, _ in self.scrape(exporter)["process_info"]["samples"]}
        self.assertEqual(pids, {str(alpha.pid)})
        exporter = pe.build_exporter(pe.parse_args(
            ["--include=name:^python", "--exclude=cmdline:pe-test-alpha"]))
        pids = {labels["pid"] for labels, _ in self.scrape(exporter)["process_info"]["samples"]}
        self.assertIn(str(beta.pid), pids)
        self.assertNotIn(str(alpha.pid), pids)

    def test_one_group_per_captured_argument(self):
        for job in ("red", "red", "blue"):
            self.start("pe-test-job=" + job)
        exporter = pe.build_exporter(pe.parse_args(
            ["--group={job}=cmdline:pe-test-job=(?P<job>\\w+)", "--no-children"]))
        families = self.scrape(exporter)
        counts = {labels["groupname"]: value for labels, value in
                  families["namedprocess_namegroup_num_procs"]["samples"]}
        self.assertEqual(counts, {"red": 2, "blue": 1})

    def test_a_secret_argument_is_in_no_byte_of_any_output(self):
        secret = "pe-Secret-%d" % os.getpid()
        child = self.start("--password=" + secret, "--token", secret)
        for argv in (["--label=cmdline"], ["--label=cmdline", "--metrics=all"], [],
                     ["--include=cmdline:pe-Secret"], ["--group=g=cmdline:pe-Secret"]):
            with self.subTest(argv=argv):
                text = pe.build_exporter(pe.parse_args(argv)).scrape()
                self.assertNotIn(secret, text)
                self.assertNotIn(secret[3:], text)
        info = self.scrape(pe.build_exporter(pe.parse_args(["--label=cmdline"])))
        shown = [labels["cmdline"] for labels, _ in info["process_info"]["samples"]
                 if labels["pid"] == str(child.pid)]
        self.assertEqual(shown, [sys.executable + " -c " + " ".join(
            child.args[2].split(" ")) + " --password=*** --token ***"])

    def test_a_process_that_execs_is_matched_again(self):
        child = self.start("pe-test-before", code=(
            "import os, sys; sys.stdin.read(1); "
            "os.execv('/bin/sh', ['sh', '-c', 'sleep 60; :', 'pe-test-' + 'after'])"))
        exporter = pe.build_exporter(pe.parse_args(
            ["--group=before=cmdline:pe-test-before", "--group=after=cmdline:pe-test-after",
             "--no-children"]))

        def members():
            families = self.scrape(exporter)
            return {labels["groupname"]: value for labels, value in
                    families["namedprocess_namegroup_num_procs"]["samples"]}
        self.assertEqual(members(), {"before": 1, "after": 0})
        child.stdin.write(b"x")
        child.stdin.flush()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open("/proc/%d/comm" % child.pid) as f:
                if f.read().strip() == "sh":
                    break
            time.sleep(0.02)
        self.assertEqual(members(), {"before": 0, "after": 1})

    def test_read_only_when_a_flag_needs_them(self):
        me = [r for r in pe.build_exporter(pe.parse_args([])).reader.read()
              if r.pid == os.getpid()]
        self.assertIsNone(me[0].cmdline)
        reader = pe.build_exporter(pe.parse_args(["--exclude=cmdline:x"])).reader
        me = [r for r in reader.read() if r.pid == os.getpid()][0]
        with open("/proc/self/cmdline", "rb") as f:
            self.assertEqual(me.cmdline, f.read().rstrip(b"\0").replace(b"\0", b" ").decode())
        kernel_threads = [r for r in reader.read() if r.ppid == 2]
        self.assertTrue(all(r.cmdline == "" for r in kernel_threads))


class FakeProcfs:
    """A procfs tree in a temporary folder, with whatever processes a test writes."""

    def __init__(self, uptime=1000.0):
        self.root = tempfile.mkdtemp(prefix="fake-procfs-")
        self.write("uptime", "%.2f 1999.00\n" % uptime)
        self.write("stat", "cpu  1 2 3 4\nbtime 1700000000\n")
        os.mkdir(os.path.join(self.root, "self"))     # not a pid: ignored

    def write(self, relative, content):
        path = os.path.join(self.root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)

    def add(self, pid, comm=b"proc", ppid=1, utime=0, stime=0, starttime=0, rss_pages=0,
            uid=1000, gid=100, exe=None, state=b"S", minflt=100, majflt=0, threads=1,
            vsize=12345678, fds=0, io=None, switches=None, flags=4194560, swap_kb=None,
            tasks=None, limit=None, wchan=None, smaps=None):
        """A process; `tasks` maps more tids to (comm, switches) for task/, where the
        leader is written too; smaps is (Pss, SwapPss) in kB."""
        self.write("%d/stat" % pid, self.stat_line(pid, comm, state, ppid, flags, minflt,
                                                    majflt, utime, stime, threads, starttime,
                                                    vsize, rss_pages))
        self.write("%d/status" % pid, self.status_text(pid, ppid, uid, gid, switches, swap_kb))
        for tid, (thread_comm, thread_switches) in sorted((tasks or {}).items()):
            self.write("%d/task/%d/stat" % (pid, tid), self.stat_line(
                tid, thread_comm, b"S", ppid, flags, 10, 1, 3, 4, threads, starttime, vsize,
                rss_pages))
            self.write("%d/task/%d/status" % (pid, tid), self.status_text(
                tid, ppid, uid, gid, thread_switches, swap_kb))
        if tasks:
            self.write("%d/task/%d/stat" % (pid, pid), self.stat_line(
                pid, comm, state, ppid, flags, minflt, majflt, utime, stime, threads,
                starttime, vsize, rss_pages))
            self.write("%d/task/%d/status" % (pid, pid), self.status_text(
                pid, ppid, uid, gid, switches, swap_kb))
        if limit is not None:
            self.write("%d/limits" % pid,
                       "Limit                     Soft Limit           Hard Limit           "
                       "Units     \nMax cpu time              unlimited            unlimited"
                       "            seconds   \nMax open files            %s                 "
                       "1048576              files     \nMax locked memory         8388608"
                       "              8388608              bytes     \n" % limit)
        if wchan is not None:
            self.write("%d/wchan" % pid, wchan)
        if smaps is not None:
            self.write("%d/smaps_rollup" % pid,
                       "55d0c0000000-7ffd00000000 ---p 00000000 00:00 0    [rollup]\n"
                       "Rss:                5000 kB\nPss:                %d kB\n"
                       "Pss_Anon:            100 kB\nSwap:                 40 kB\n"
                       "SwapPss:              %d kB\nLocked:                0 kB\n" % smaps)
        os.makedirs(os.path.join(self.root, str(pid), "fd"), exist_ok=True)
        for fd in range(fds):
            os.symlink("/dev/null", os.path.join(self.root, str(pid), "fd", str(fd)))
        if io is not None:
            self.write("%d/io" % pid, "rchar: 999\nwchar: 888\nsyscr: 7\nsyscw: 6\n"
                       "read_bytes: %d\nwrite_bytes: %d\ncancelled_write_bytes: 0\n" % io)
        if exe is not None:
            os.symlink(exe, os.path.join(self.root, str(pid), "exe"))

    @staticmethod
    def stat_line(pid, comm, state, ppid, flags, minflt, majflt, utime, stime, threads,
                  starttime, vsize, rss_pages):
        return (b"%d (%s) %s %d 1 1 0 -1 %d %d 0 %d 0 %d %d 0 0 20 0 %d 0 %d %d %d"
                b" 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
                % (pid, comm, state, ppid, flags, minflt, majflt, utime, stime, threads,
                   starttime, vsize, rss_pages))

    @staticmethod
    def status_text(pid, ppid, uid, gid, switches, swap_kb):
        status = ("Name:\tx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\n"
                  "PPid:\t%d\nUid:\t7\t%d\t%d\t%d\nGid:\t8\t%d\t%d\t%d\nFDSize:\t64\n"
                  % (pid, pid, ppid, uid, uid, uid, gid, gid, gid))
        if swap_kb is not None:
            status += "VmRSS:\t    1234 kB\nVmSwap:\t%8d kB\n" % swap_kb
        if switches is not None:
            status += ("Cpus_allowed:\t3\nvoluntary_ctxt_switches:\t%d\n"
                       "nonvoluntary_ctxt_switches:\t%d\n" % switches)
        return status

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


@in_fast_tier
class LinuxFakeProcfsTest(unittest.TestCase, ExpositionChecks):

    def setUp(self):
        self.procfs = FakeProcfs(uptime=1000.0)
        self.addCleanup(self.procfs.cleanup)

    def read(self):
        reader = pe.LinuxReader(self.procfs.root)
        return {r.pid: r for r in reader.read()}, reader

    def test_values_and_effective_ids(self):
        ticks = os.sysconf("SC_CLK_TCK")
        page = os.sysconf("SC_PAGE_SIZE")
        self.procfs.add(42, comm=b"worker", ppid=7, utime=3 * ticks // 2 if ticks % 2 == 0
                        else 150, stime=ticks // 4 if ticks % 4 == 0 else 25,
                        starttime=500 * ticks, rss_pages=10, uid=501, gid=20,
                        exe=b"/usr/bin/worker", minflt=321, majflt=12, threads=7,
                        vsize=987654321, fds=5, io=(4096, 8192), switches=(30, 12))
        before = time.time()
        records, reader = self.read()
        after = time.time()
        r = records[42]
        self.assertEqual((r.ppid, r.uid, r.gid, r.name, r.path),
                         (7, 501, 20, "worker", "/usr/bin/worker"))
        self.assertEqual(r.resident_bytes, 10 * page)
        self.assertEqual((r.minor_faults, r.major_faults), (321, 12))
        self.assertEqual((r.threads, r.virtual_bytes, r.open_fds), (7, 987654321, 5))
        self.assertEqual((r.disk_read_bytes, r.disk_written_bytes), (4096, 8192))
        self.assertEqual((r.voluntary_switches, r.nonvoluntary_switches), (30, 12))
        self.assertEqual(r.state, "Sleeping")
        for absent in ("footprint_bytes", "instructions", "cycles", "energy_joules",
                       "context_switches", "swapped_bytes"):
            self.assertIsNone(getattr(r, absent), absent)
        if ticks == 100:
            self.assertEqual((r.cpu_user, r.cpu_system), (1.5, 0.25))
        # boot was 1000 s ago; the process started 500 s after boot
        self.assertGreaterEqual(r.start_time, before - 1000 + 500 - 0.01)
        self.assertLessEqual(r.start_time, after - 1000 + 500 + 0.01)
        self.assertEqual(reader.skipped, {"permission_denied": 0, "vanished": 0, "error": 0})

    def test_switches_are_summed_over_threads_and_never_go_down(self):
        tasks = {43: (b"worker-a", (100, 5)), 44: (b"worker-b", (200, 7))}
        self.procfs.add(42, threads=3, switches=(10, 1), tasks=tasks)
        reader = pe.LinuxReader(self.procfs.root)
        (record,) = reader.read()
        self.assertEqual((record.voluntary_switches, record.nonvoluntary_switches),
                         (310, 13))
        # 44 exits; 43 goes on: its counts stay in the sum
        shutil.rmtree(os.path.join(self.procfs.root, "42", "task", "44"))
        self.procfs.add(42, threads=2, switches=(11, 1), tasks={43: (b"worker-a", (150, 5))})
        (record,) = reader.read()
        self.assertEqual((record.voluntary_switches, record.nonvoluntary_switches),
                         (11 + 150 + 200, 1 + 5 + 7))
        # a new thread reuses tid 43 with lower counts: the old one's stay counted
        self.procfs.add(42, threads=2, switches=(12, 1), tasks={43: (b"worker-c", (3, 0))})
        (record,) = reader.read()
        self.assertEqual((record.voluntary_switches, record.nonvoluntary_switches),
                         (12 + 3 + 150 + 200, 1 + 0 + 5 + 7))

    def test_single_threaded_switches_read_status_alone(self):
        self.procfs.add(5, threads=1, switches=(8, 2))
        os.makedirs(os.path.join(self.procfs.root, "5", "task", "999"))   # unread
        (record,) = pe.LinuxReader(self.procfs.root).read()
        self.assertEqual((record.voluntary_switches, record.nonvoluntary_switches), (8, 2))

    def test_states_swap_limits_wchan_and_smaps(self):
        for pid, letter in ((1, b"R"), (2, b"S"), (3, b"D"), (4, b"Z"), (5, b"T"),
                            (6, b"I"), (7, b"t")):
            self.procfs.add(pid, state=letter, swap_kb=pid, limit="1024", wchan="do_wait",
                            smaps=(700, 30), fds=4)
        self.procfs.add(8, flags=0x00200040, limit="unlimited", wchan="0")  # kernel thread
        fields = set(pe.VALUE_FIELDS) | {"wchan", "proportional_resident_bytes"}
        records = {r.pid: r for r in pe.LinuxReader(self.procfs.root, fields).read()}
        self.assertEqual([records[pid].state for pid in range(1, 9)],
                         ["Running", "Sleeping", "Waiting", "Zombie", "Other", "Other",
                          "Other", "Sleeping"])
        self.assertEqual(records[3].swapped_bytes, 3 * 1024)
        self.assertEqual(records[3].fd_limit, 1024)
        self.assertEqual(records[3].wchan, "do_wait")
        self.assertEqual((records[3].proportional_resident_bytes,
                          records[3].proportional_swapped_bytes), (700 * 1024, 30 * 1024))
        kernel = records[8]
        self.assertTrue(kernel.kernel_thread)
        self.assertFalse(records[3].kernel_thread)
        for absent in ("fd_limit", "wchan", "swapped_bytes", "proportional_resident_bytes"):
            self.assertIsNone(getattr(kernel, absent), absent)

    def test_smaps_and_threads_are_read_only_when_asked_for(self):
        self.procfs.add(9, threads=2, smaps=(1, 1), switches=(1, 1),
                        tasks={10: (b"t", (1, 1))})
        smaps = os.path.join(self.procfs.root, "9", "smaps_rollup")
        os.remove(smaps)
        os.mkdir(smaps)                                 # reading it would fail
        reader = pe.LinuxReader(self.procfs.root, pe.VALUE_FIELDS)
        (record,) = reader.read()
        self.assertEqual((reader.partial, reader.skipped["error"]), (0, 0))
        self.assertIsNone(record.thread_list)
        self.assertIsNone(record.proportional_resident_bytes)
        reader = pe.LinuxReader(self.procfs.root, {"thread_list", "voluntary_switches"})
        (record,) = reader.read()
        self.assertEqual(sorted((t.tid, t.name, t.voluntary_switches)
                                for t in record.thread_list), [(9, "proc", 1), (10, "t", 1)])

    def test_missing_io_leaves_those_numbers_out_not_the_process(self):
        self.procfs.add(8, fds=2)                # no io file, as for a process mid-exit
        records, reader = self.read()
        self.assertEqual(records[8].open_fds, 2)
        self.assertIsNone(records[8].disk_read_bytes)
        self.assertEqual(reader.partial, 0)
        text = pe.render(list(records.values()))
        self.assertNotIn("process_disk_read_bytes_total", text)

    def test_only_wanted_files_are_opened(self):
        self.procfs.add(9, fds=3, io=(1, 2), switches=(1, 1))
        os.chmod(os.path.join(self.procfs.root, "9", "io"), 0)
        os.rename(os.path.join(self.procfs.root, "9", "io"),
                  os.path.join(self.procfs.root, "9", "io-hidden"))
        os.mkdir(os.path.join(self.procfs.root, "9", "io"))   # reading it would fail
        reader = pe.LinuxReader(self.procfs.root, fields={"threads"})
        (record,) = reader.read()
        self.assertEqual(reader.skipped["error"], 0)
        self.assertEqual(record.threads, 1)
        self.assertIsNone(record.open_fds)
        self.assertIsNone(record.voluntary_switches)

    def test_owner_of_the_files_is_the_effective_ids_without_status(self):
        self.procfs.add(30, uid=7, gid=8)                  # status says 7/8 ...
        os.chown(os.path.join(self.procfs.root, "30", "stat"), 501, 20)   # ... owner 501/20
        os.remove(os.path.join(self.procfs.root, "30", "status"))         # and is not read
        reader = pe.LinuxReader(self.procfs.root, fields={"threads"})
        (record,) = reader.read()
        self.assertEqual((record.uid, record.gid), (501, 20))

    def test_kernel_threads_are_root_without_status(self):
        stat = os.path.join(self.procfs.root, "2", "stat")
        self.procfs.add(2, comm=b"kthreadd", ppid=0)
        with open(stat, "rb") as f:
            text = f.read()
        with open(stat, "wb") as f:                        # flags: PF_KTHREAD
            f.write(text.replace(b" 4194560 ", b" %d " % (0x208040,)))
        os.remove(os.path.join(self.procfs.root, "2", "status"))
        (record,) = pe.LinuxReader(self.procfs.root, fields={"threads"}).read()
        self.assertEqual((record.uid, record.gid, record.name), (0, 0, "kthreadd"))

    def test_an_owner_from_status_is_rechecked_after_a_minute(self):
        now = [1000.0]
        self.procfs.add(40, uid=0, gid=0)                  # root-owned files: ambiguous
        reader = pe.LinuxReader(self.procfs.root, fields={"threads"}, clock=lambda: now[0])
        self.assertEqual(reader.read()[0].uid, 0)
        status = os.path.join(self.procfs.root, "40", "status")
        with open(status) as f:
            text = f.read()
        with open(status, "w") as f:                       # it dropped to uid 33
            f.write(text.replace("Uid:\t7\t0\t0\t0", "Uid:\t33\t33\t33\t33"))
        now[0] += 30
        self.assertEqual(reader.read()[0].uid, 0)          # trusted for a minute
        now[0] += 31
        self.assertEqual(reader.read()[0].uid, 33)

    def test_the_path_is_read_once_until_the_process_execs(self):
        self.procfs.add(50, comm=b"bash", exe=b"/bin/bash")
        reader = pe.LinuxReader(self.procfs.root)
        self.assertEqual(reader.read()[0].path, "/bin/bash")
        exe = os.path.join(self.procfs.root, "50", "exe")
        os.remove(exe)
        os.symlink("/usr/bin/python3", exe)
        self.assertEqual(reader.read()[0].path, "/bin/bash")       # same process: cached
        stat = os.path.join(self.procfs.root, "50", "stat")
        with open(stat, "rb") as f:
            text = f.read()
        with open(stat, "wb") as f:                                # exec: a new name
            f.write(text.replace(b"(bash)", b"(python3)"))
        (record,) = reader.read()
        self.assertEqual((record.name, record.path), ("python3", "/usr/bin/python3"))

    def test_fd_count_from_listing_outside_real_procfs(self):
        self.assertFalse(pe.fd_dir_size_counts(self.procfs.root))
        self.procfs.add(60, fds=3)
        for kept_files in (100, 1, 0):
            reader = pe.LinuxReader(self.procfs.root, kept_files=kept_files)
            self.assertEqual(reader.read()[0].open_fds, 3)
            self.assertEqual(reader.read()[0].open_fds, 3)
            self.assertEqual(len(reader.files), min(kept_files, 2))   # stat and status
            reader.close()
            self.assertEqual(len(reader.files), 0)

    def test_a_replaced_binary_keeps_its_path(self):
        self.procfs.add(5, exe="/usr/sbin/daemon (deleted)")
        records, _ = self.read()
        self.assertEqual(records[5].path, "/usr/sbin/daemon")

    def test_start_times_stay_put_and_new_processes_follow_a_clock_step(self):
        now = [1700000000.0]
        reader = pe.LinuxReader(self.procfs.root, wall_clock=lambda: now[0])
        self.procfs.add(5, starttime=100 * 500)            # 500 s after boot
        first = {r.pid: r.start_time for r in reader.read()}
        self.assertEqual(first[5], 1700000000.0 - 1000.0 + 500.0)
        now[0] += 0.013                                     # the usual jitter between reads
        self.assertEqual({r.pid: r.start_time for r in reader.read()}, first)
        now[0] += 3600.0                                    # the clock is stepped
        self.procfs.add(6, starttime=100 * 600)
        later = {r.pid: r.start_time for r in reader.read()}
        self.assertEqual(later[5], first[5])               # the same process, the same key
        self.assertAlmostEqual(later[6], now[0] - 1000.0 + 600.0, places=6)

    def test_a_fifo_as_a_process_file_does_not_block(self):
        self.procfs.add(5)
        os.remove(os.path.join(self.procfs.root, "5", "stat"))
        os.mkfifo(os.path.join(self.procfs.root, "5", "stat"))
        self.procfs.add(6)
        records, reader = self.read()
        self.assertEqual(sorted(records), [6])
        self.assertEqual(reader.skipped["error"], 1)

    def test_boot_time_falls_back_to_btime(self):
        os.remove(os.path.join(self.procfs.root, "uptime"))
        self.procfs.add(5, starttime=0)
        records, _ = self.read()
        self.assertEqual(records[5].start_time, 1700000000.0)

    def test_odd_names_and_paths(self):
        self.procfs.add(10, comm=b"a) (b c) ) x", exe=ODD_PATH)
        self.procfs.add(11, comm=b"tab\there", exe=b"/bin/with space")
        self.procfs.add(12, comm=b"\xff\xfe bad utf8")
        records, _ = self.read()
        self.assertEqual(records[10].name, "a) (b c) ) x")
        self.assertEqual(records[10].path, ODD_PATH_TEXT)
        self.assertEqual(records[11].name, "tab\there")
        self.assertEqual(records[11].path, "/bin/with space")
        self.assertEqual(records[12].name, "\ufffd\ufffd bad utf8")
        self.assertEqual(records[12].path, "")               # no exe link: unreadable
        text = pe.render(list(records.values()))
        families = self.assertValidExposition(text)
        names = {labels["pid"]: labels["name"]
                 for labels, _ in families["process_resident_memory_bytes"]["samples"]}
        self.assertEqual(names["10"], "a) (b c) ) x")

    def test_vanished_and_broken_processes_are_counted_not_fatal(self):
        self.procfs.add(20, exe=b"/bin/ok")
        os.makedirs(os.path.join(self.procfs.root, "21"))          # vanished: no stat
        self.procfs.write("22/stat", b"22 (short) S\n")             # truncated stat
        self.procfs.add(23)
        os.remove(os.path.join(self.procfs.root, "23", "status"))  # vanished mid-read
        records, reader = self.read()
        self.assertEqual(sorted(records), [20])
        self.assertEqual(reader.skipped, {"permission_denied": 0, "vanished": 2, "error": 1})
        text = pe.render(list(records.values()), reader.skipped)
        self.assertIn('process_exporter_processes_skipped{reason="vanished"} 2\n', text)
        self.assertIn('process_exporter_processes_skipped{reason="error"} 1\n', text)


# ---------------------------------------------------------------------------
# Selecting: filters and groups
# ---------------------------------------------------------------------------

def proc(pid, name, ppid=1, uid=501, path=None, start=1000.0, cpu=0.0, rss=None, **values):
    return pe.Process(pid, ppid, uid, 20, name, "/bin/" + name if path is None else path,
                      start, cpu, 0.0, rss, **values)


@in_fast_tier
class FilterTest(unittest.TestCase):

    def test_include_exclude_and_user(self):
        records = [proc(1, "launchd", uid=0, path="/sbin/launchd"),
                   proc(2, "Safari", path="/Applications/Safari.app/Contents/MacOS/Safari"),
                   proc(3, "SafariHelper", path="/Applications/Safari.app/helper"),
                   proc(4, "bash", uid=502)]
        pick = lambda f: [r.pid for r in f.apply(records)]           # noqa: E731
        self.assertEqual(pick(pe.Filter()), [1, 2, 3, 4])
        self.assertEqual(pick(pe.Filter(include=["^Safari$"])), [2])
        self.assertEqual(pick(pe.Filter(include=["Safari\\.app"])), [2, 3])   # by path
        self.assertEqual(pick(pe.Filter(include=["Safari"], exclude=["Helper"])), [2])
        self.assertEqual(pick(pe.Filter(include=["launchd", "bash"])), [1, 4])
        self.assertEqual(pick(pe.Filter(exclude=["^/sbin/"])), [2, 3, 4])
        self.assertEqual(pick(pe.Filter(uids=[0, 502])), [1, 4])
        self.assertEqual(pick(pe.Filter(include=["a"], uids=[502])), [4])

    def test_resolve_user(self):
        self.assertEqual(pe.resolve_user("0"), 0)
        self.assertEqual(pe.resolve_user("root"), 0)
        with self.assertRaises(ValueError):
            pe.resolve_user("no-such-user-here")

    def test_user_names_cached_and_numeric_fallback(self):
        names = pe.UserNames()
        self.assertEqual(names(0), "root")
        self.assertEqual(names(4000000), "4000000")        # no such user: the uid
        self.assertIs(names._names[0], names(0))


    def test_a_regex_runs_once_per_process_not_on_every_scrape(self):
        # A crafted path can make a regex slow: the cost must not recur per scrape.
        records = [proc(pid, "p%d" % pid, path="/tmp/" + "a" * 30) for pid in range(1, 51)]
        searches = CountingPattern("a+b")
        selection = pe.Filter(include=["x"])
        selection.include[0].regex = searches
        for _ in range(5):
            selection.apply(records)
        self.assertEqual(searches.calls, 2 * 50)          # name and path, once each
        records[0] = proc(1, "p1", path="/tmp/other")      # exec: asked again
        selection.apply(records)
        self.assertEqual(searches.calls, 2 * 51)

    def test_user_names_that_are_not_utf8_are_mended(self):
        import pwd
        real = pwd.getpwuid
        pwd.getpwuid = lambda uid: pwd.struct_passwd(
            (os.fsdecode(b"caf\xe9"), "x", uid, uid, "", "/", "/bin/sh"))
        self.addCleanup(setattr, pwd, "getpwuid", real)
        self.assertEqual(pe.UserNames()(501), "caf\ufffd")
        records = [proc(1, "a"), proc(2, "b")]
        labelled = pe.Exporter(StaticReader(records),
                               labels_of=pe.labeler(pe.PROCESS_LABELS + ("user",),
                                                    pe.UserNames()))
        grouped = pe.Exporter(StaticReader(records), pe.GROUP_FAMILIES,
                              grouper=pe.Grouper("user"))
        for exporter in (labelled, grouped):
            text = exporter.scrape()
            parse_exposition(text)
            self.assertIn('"caf\ufffd"', text)


class CountingPattern:
    """A compiled regex that counts its searches."""

    def __init__(self, pattern):
        self.pattern, self.calls = re.compile(pattern), 0

    def search(self, text):
        self.calls += 1
        return self.pattern.search(text)


@in_fast_tier
class GrouperTest(unittest.TestCase, ExpositionChecks):

    def totals(self, groups):
        return {g.name: g for g in groups}

    def test_assignment_declared_then_key_then_ancestor(self):
        grouper = pe.Grouper(group_by=None, declared=[("build", "^xcodebuild$"),
                                                      ("web", "nginx")])
        records = [proc(1, "launchd", ppid=0), proc(10, "xcodebuild"),
                   proc(11, "clang", ppid=10), proc(12, "ld", ppid=11),
                   proc(20, "nginx"), proc(30, "vim")]
        groups = grouper.assign(records)
        self.assertEqual({g: sorted(r.pid for r in rs) for g, rs in groups.items()},
                         {"build": [10, 11, 12], "web": [20]})
        grouper.children = False
        self.assertEqual(sorted(r.pid for r in grouper.assign(records)["build"]), [10])

    def test_group_by_name_path_user(self):
        records = [proc(1, "a", uid=0), proc(2, "a", uid=501, path="/opt/a"),
                   proc(3, "b", uid=501, path="")]
        by = lambda key: {g: sorted(r.pid for r in rs)                    # noqa: E731
                          for g, rs in pe.Grouper(key).assign(records).items()}
        self.assertEqual(by("name"), {"a": [1, 2], "b": [3]})
        # 3 has no path, so no group of its own: it joins its parent's
        self.assertEqual(by("path"), {"/bin/a": [1, 3], "/opt/a": [2]})
        self.assertEqual(by("user"), {"root": [1], pe.UserNames()(501): [2, 3]})

    def test_an_empty_group_has_zeros_for_what_the_platform_gives(self):
        grouper = pe.Grouper(group_by="name", declared=[("db", "^postgres$")])
        live = [proc(1, "vim", rss=100, threads=2, open_fds=5, fd_limit=1024, state="Sleeping")]
        groups = self.totals(grouper.update(live, now=0))
        db = groups["db"]
        self.assertEqual((db.num_procs, db.resident_bytes, db.threads, db.open_fds,
                          db.worst_fd_ratio), (0, 0, 0, 0, 0))
        self.assertIsNone(db.footprint_bytes)       # never given here: no zero for it
        self.assertIsNone(db.start_time)
        self.assertEqual((db.state_running, db.state_sleeping), (0, 0))
        self.assertEqual(groups["vim"].worst_fd_ratio, 5 / 1024)
        # every process filtered out (--include): what was read still tells the platform
        (db,) = pe.Grouper(declared=[("db", "^postgres$")]).update([], live, now=0)
        self.assertEqual((db.resident_bytes, db.threads), (0, 0))
        text = render_series(groups.values(), pe.GROUP_FAMILIES, pe.group_labels)
        self.assertIn('namedprocess_namegroup_memory_bytes{groupname="db",memtype="resident"} 0',
                      text)
        self.assertNotIn('groupname="db",memtype="footprint"', text)

    def test_joins_count_processes_new_to_the_group_after_the_first_scrape(self):
        grouper = pe.Grouper(declared=[("web", "^nginx$")])
        first = [proc(10, "nginx", start=100.0), proc(11, "nginx", start=101.0)]
        self.assertEqual(grouper.update(first, now=0)[0].joins, 0)     # there before us
        self.assertEqual(grouper.update(first, now=1)[0].joins, 0)
        restarted = [proc(10, "nginx", start=100.0), proc(12, "nginx", start=200.0)]
        self.assertEqual(grouper.update(restarted, now=2)[0].joins, 1)
        self.assertEqual(grouper.update(restarted, now=3)[0].joins, 1)   # once, not per scrape
        self.assertEqual(grouper.update([], now=4)[0].joins, 1)           # never goes down
        reused = [proc(12, "nginx", start=300.0)]                         # pid reused
        self.assertEqual(grouper.update(reused, now=5)[0].joins, 2)
        reloaded = pe.Grouper(declared=[("web", "^nginx$")])              # SIGHUP
        reloaded.inherit(grouper)
        self.assertEqual(reloaded.update(reused, now=6)[0].joins, 2)      # kept, no rejoin
        self.assertEqual(reloaded.update(reused + [proc(13, "nginx", start=400.0)],
                                         now=7)[0].joins, 3)

    def test_thread_totals_by_name_never_go_down(self):
        def threaded(*threads):
            record = proc(5, "java", threads=len(threads))
            record.thread_list = [pe.Thread(tid, name, cpu, 0.0, voluntary_switches=switches)
                                  for tid, name, cpu, switches in threads]
            return [record]
        grouper = pe.Grouper(group_by="name")
        (group,) = grouper.update(threaded((5, "java", 1.0, 10), (6, "GC", 2.0, 20),
                                           (7, "GC", 3.0, 30)), now=0)
        gc = group.threads_by_name["GC"]
        self.assertEqual((gc.count, gc.cpu_user, gc.voluntary_switches), (2, 5.0, 50))
        self.assertIsNone(gc.read_bytes)                    # no thread gave it
        (group,) = grouper.update(threaded((5, "java", 1.5, 11), (6, "GC", 2.5, 21)), now=1)
        gc = group.threads_by_name["GC"]
        self.assertEqual((gc.count, gc.cpu_user, gc.voluntary_switches), (1, 5.5, 51))
        # a new GC thread reuses tid 6 (a pthread address on an older macOS): its CPU is
        # lower, so it is another thread, and the old one's stays counted
        (group,) = grouper.update(threaded((5, "java", 1.5, 11), (6, "GC", 0.5, 1)), now=1.5)
        gc = group.threads_by_name["GC"]
        self.assertEqual((gc.count, gc.cpu_user, gc.voluntary_switches), (1, 5.5 + 0.5, 52))
        # every GC thread gone: the name and its history go (no series for ever)
        (group,) = grouper.update(threaded((5, "java", 2.0, 12)), now=2)
        self.assertEqual(sorted(group.threads_by_name), ["java"])
        text = render_series([group], pe.GROUP_FAMILIES, pe.group_labels)
        self.assertIn('namedprocess_namegroup_thread_cpu_seconds_total{groupname="java",'
                      'threadname="java",mode="user"} 2.0\n', text)
        self.assertNotIn("thread_io_bytes_total{", text)

    def test_kernel_threads_make_one_group_none_or_one_per_name(self):
        records = [proc(2, "kthreadd", ppid=0, path=""), proc(3, "kworker/0:1-events", ppid=2,
                   path=""), proc(4, "kworker/1:2-mm_percpu_wq", ppid=2, path=""),
                   proc(100, "sshd")]
        for record in records[:3]:
            record.kernel_thread = True
        by = {mode: sorted(pe.Grouper("name", kernel_threads=mode).assign(records))
              for mode in ("group", "none", "name")}
        self.assertEqual(by["group"], ["kernel threads", "sshd"])
        self.assertEqual(by["none"], ["sshd"])
        self.assertEqual(by["name"], ["kthreadd", "kworker/0:1-events",
                                      "kworker/1:2-mm_percpu_wq", "sshd"])
        no_cgroups = pe.AppNames("linux", procfs=tempfile.gettempdir() + "/no-such-procfs")
        self.assertEqual(sorted(pe.Grouper("app", app_names=no_cgroups).assign(records)),
                         ["kernel threads", "sshd"])
        declared = pe.Grouper("name", declared=[("workers", "^kworker")])
        self.assertEqual(sorted(declared.assign(records)), ["kernel threads", "sshd",
                                                            "workers"])

    def test_a_declared_regex_runs_once_per_process(self):
        records = [proc(pid, "p%d" % pid, path="/tmp/" + "a" * 30) for pid in range(1, 51)]
        grouper = pe.Grouper(declared=[("g", "x")])
        searches = CountingPattern("a+b")
        grouper.declared[0][1].regex = searches
        for _ in range(5):
            grouper.update(records, now=0.0)
        self.assertEqual(searches.calls, 2 * 50)

    def test_a_deep_chain_of_children_costs_its_length_not_its_square(self):
        depth = 4000
        records = [proc(1, "root")] + [proc(pid, "c", ppid=pid - 1)
                                       for pid in range(2, depth + 1)]
        grouper = pe.Grouper(declared=[("g", "^root$")])
        started = time.perf_counter()
        groups = grouper.assign(records)
        self.assertLess(time.perf_counter() - started, 0.5)     # quadratic: seconds
        self.assertEqual(len(groups["g"]), depth)

    def test_ancestor_loops_do_not_hang(self):
        records = [proc(5, "x", ppid=6), proc(6, "y", ppid=5)]
        self.assertEqual(pe.Grouper(declared=[("g", "^z$")]).assign(records), {})

    def test_counters_never_go_down_when_members_exit(self):
        grouper = pe.Grouper("name")
        first = self.totals(grouper.update([proc(10, "make", cpu=5.0, rss=100),
                                            proc(11, "make", cpu=3.0, rss=50)], now=0))
        self.assertEqual((first["make"].cpu_user, first["make"].num_procs), (8.0, 2))
        self.assertEqual(first["make"].resident_bytes, 150)
        second = self.totals(grouper.update([proc(10, "make", cpu=6.0, rss=100)], now=1))
        self.assertEqual(second["make"].cpu_user, 9.0)        # 11's 3.0 is kept
        self.assertEqual(second["make"].num_procs, 1)
        self.assertEqual(second["make"].resident_bytes, 100)  # gauges: live members only
        third = self.totals(grouper.update([], now=2))
        self.assertEqual((third["make"].cpu_user, third["make"].num_procs), (9.0, 0))

    def test_pid_reuse_is_a_new_member(self):
        grouper = pe.Grouper("name")
        grouper.update([proc(10, "job", start=100.0, cpu=4.0)], now=0)
        reused = self.totals(grouper.update([proc(10, "job", start=200.0, cpu=1.0)], now=1))
        self.assertEqual(reused["job"].cpu_user, 5.0)
        self.assertEqual(reused["job"].start_time, 200.0)

    def test_a_number_unread_once_keeps_its_last_value(self):
        grouper = pe.Grouper("name")
        grouper.update([proc(10, "x", disk_read_bytes=500)], now=0)
        later = self.totals(grouper.update([proc(10, "x", disk_read_bytes=None)], now=1))
        self.assertEqual(later["x"].disk_read_bytes, 500)

    def test_declared_groups_exist_from_the_start_and_never_expire(self):
        grouper = pe.Grouper(None, declared=[("postgres", "^postgres$")], expiry=10)
        groups = self.totals(grouper.update([proc(1, "launchd")], now=0))
        self.assertEqual(list(groups), ["postgres"])
        self.assertEqual(groups["postgres"].num_procs, 0)
        self.assertIsNone(groups["postgres"].cpu_user)
        later = self.totals(grouper.update([], now=1000))
        self.assertEqual(later["postgres"].num_procs, 0)
        text = render_series(later.values(), pe.GROUP_FAMILIES, pe.group_labels)
        self.assertIn('namedprocess_namegroup_num_procs{groupname="postgres"} 0\n', text)

    def test_an_empty_group_expires(self):
        grouper = pe.Grouper("name", expiry=300)
        grouper.update([proc(10, "cron", cpu=1.0)], now=0)
        self.assertIn("cron", self.totals(grouper.update([], now=10)))
        self.assertIn("cron", self.totals(grouper.update([], now=309)))
        self.assertNotIn("cron", self.totals(grouper.update([], now=311)))
        self.assertNotIn("cron", grouper.ledger.left)
        self.assertNotIn("cron", grouper.joins)
        back = self.totals(grouper.update([proc(11, "cron", cpu=2.0)], now=400))
        self.assertEqual(back["cron"].cpu_user, 2.0)      # a new series starts afresh

    def test_history_stays_bounded_under_3000_short_lived_processes(self):
        # 3,000 compiler runs, 50 per scrape, each alive for one scrape
        live = [proc(1, "launchd", ppid=0, path="/sbin/launchd", cpu=1.0)]
        batches = [[proc(1000 + i, "cc1", path="/tmp/build-%d/cc1" % i, start=float(i),
                         cpu=0.5) for i in range(n, n + 50)] for n in range(0, 3000, 50)]
        grouper = pe.Grouper("path", expiry=300)      # a group of its own for each
        for scrape, batch in enumerate(batches):
            grouper.update(live + batch, now=scrape * 0.01)
        self.assertLessEqual(len(grouper.joins), pe.MAX_EMPTY_GROUPS + 51)
        self.assertLessEqual(len(grouper.ledger.left), pe.MAX_EMPTY_GROUPS + 51)
        self.assertEqual(len(grouper.ledger.members), 51)     # the processes of the scrape
        self.assertLessEqual(len(grouper.ledger._away), 50)   # and those of the one before
        same = pe.Grouper("name", expiry=300)        # all in one group
        for scrape, batch in enumerate(batches):
            same.update(live + batch, now=scrape)
        final = self.totals(same.update(live, now=len(batches)))
        self.assertEqual(final["cc1"].cpu_user, 1500.0)   # every exit counted once
        self.assertEqual(final["cc1"].num_procs, 0)

    def test_group_exposition_is_valid(self):
        grouper = pe.Grouper("name", declared=[("idle", "^nothing$")])
        records = [proc(1, "a", cpu=1.5, rss=10, threads=2, open_fds=3, disk_read_bytes=4,
                        disk_written_bytes=5, major_faults=6, minor_faults=7,
                        context_switches=8, virtual_bytes=9),
                   proc(2, 'we"ird\\name\n', cpu=0.5, rss=20)]
        text = render_series(grouper.update(records), pe.GROUP_FAMILIES, pe.group_labels)
        text += pe.render_self(2, {}, 0.1)
        families = self.assertValidExposition(text)
        self.assertEqual(samples_of(families, "namedprocess_namegroup_cpu_seconds_total",
                                    groupname="a", mode="user"), [1.5])
        self.assertEqual(samples_of(families, "namedprocess_namegroup_memory_bytes",
                                    groupname="a", memtype="virtual"), [9])
        self.assertEqual(samples_of(families, "namedprocess_namegroup_num_procs",
                                    groupname='we"ird\\name\n'), [1])

    def test_durations(self):
        self.assertEqual(pe.parse_duration("300"), 300)
        self.assertEqual(pe.parse_duration("90s"), 90)
        self.assertEqual(pe.parse_duration("5m"), 300)
        self.assertEqual(pe.parse_duration("1h"), 3600)
        for bad in ("", "5 minutes", "-1s", "m"):
            with self.assertRaises(ValueError):
                pe.parse_duration(bad)


# A child with four threads that switch a few hundred times, then all wait: its
# counts hold still while a test reads them.
THREADED_CHILD = """
import threading, time
done = threading.Event()
def work():
    for _ in range(200):
        time.sleep(0.0005)
    done.wait()
threads = [threading.Thread(target=work) for _ in range(3)]
for t in threads:
    t.start()
print("ready", flush=True)
done.wait()
"""


def task_switches(pid):
    """Voluntary and nonvoluntary switches summed over /proc/PID/task/*/status."""
    total = [0, 0]
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    total[0] += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    total[1] += int(line.split()[1])
    return tuple(total)


@unittest.skipUnless(IS_LINUX, "real processes under /proc")
class GroupsOnRealProcessesTest(unittest.TestCase, ExpositionChecks):
    """States, thread sums, empty groups, kernel threads and restarts, on real
    processes this test starts."""

    def child(self, *args, **kwargs):
        child = subprocess.Popen(args, **kwargs)
        self.addCleanup(lambda: (child.kill(), child.wait()) if child.poll() is None else None)
        return child

    def test_a_multi_threaded_process_switches_are_its_threads_sum(self):
        child = self.child(sys.executable, "-c", THREADED_CHILD, stdout=subprocess.PIPE)
        self.addCleanup(child.stdout.close)
        self.assertEqual(child.stdout.readline(), b"ready\n")
        time.sleep(0.3)                    # every worker is waiting now
        (record,) = [r for r in pe.LinuxReader().read() if r.pid == child.pid]
        expected = task_switches(child.pid)
        leader = pe.parse_status(pe.read_regular_file("/proc/%d/status" % child.pid))[2]
        self.assertEqual(record.threads, 4)
        self.assertEqual((record.voluntary_switches, record.nonvoluntary_switches), expected)
        self.assertGreater(expected[0], leader[0] + 300)     # the workers' 600 sleeps

    def test_a_zombie_and_a_stopped_child_in_the_reference_states(self):
        zombie = subprocess.Popen(["true"])
        stopped = self.child("sleep", "60")
        os.kill(stopped.pid, signal.SIGSTOP)
        deadline = time.time() + 5
        while time.time() < deadline:
            states = {r.pid: r.state for r in pe.LinuxReader().read()}
            if states.get(zombie.pid) == "Zombie" and states.get(stopped.pid) == "Other":
                break
            time.sleep(0.05)
        self.assertEqual((states.get(zombie.pid), states.get(stopped.pid)),
                         ("Zombie", "Other"))
        zombie.wait()
        exporter = pe.Exporter(pe.LinuxReader(), pe.PROCESS_FAMILIES)
        text = exporter.scrape()
        self.assertRegex(text, r'process_state\{pid="%d",[^}]*,state="Other"\} 1\n'
                         % stopped.pid)

    def test_a_declared_group_with_nothing_running_exports_zeros(self):
        grouper = pe.Grouper(declared=[("nothing", "^no-such-program-here$")])
        exporter = pe.Exporter(pe.LinuxReader(), pe.GROUP_FAMILIES, grouper=grouper)
        families = self.assertValidExposition(exporter.scrape())
        for name, labels in (("namedprocess_namegroup_num_procs", {}),
                             ("namedprocess_namegroup_memory_bytes", {"memtype": "resident"}),
                             ("namedprocess_namegroup_memory_bytes", {"memtype": "virtual"}),
                             ("namedprocess_namegroup_num_threads", {}),
                             ("namedprocess_namegroup_open_filedesc", {}),
                             ("namedprocess_namegroup_states", {"state": "Running"})):
            with self.subTest(name, **labels):
                self.assertEqual(samples_of(families, name, groupname="nothing", **labels),
                                 [0])
        self.assertNotIn("namedprocess_namegroup_oldest_start_time_seconds", families)

    def test_kernel_threads_make_no_group_per_worker(self):
        everyone = pe.LinuxReader().read()
        need(any(r.kernel_thread for r in everyone), "no kernel thread visible here")
        names = set(pe.Grouper("name").assign(everyone))
        self.assertIn(pe.KERNEL_THREADS_GROUP, names)
        self.assertFalse([n for n in names if n.startswith(("kworker", "ksoftirqd"))], names)
        apart = set(pe.Grouper("name", kernel_threads="name").assign(everyone))
        self.assertGreater(len(apart), len(names))

    def test_the_restart_counter_counts_each_restart_once(self):
        folder = tempfile.mkdtemp(prefix="restarts-")
        self.addCleanup(shutil.rmtree, folder, True)
        program = os.path.join(folder, "pe-restarting")   # a name no other process has
        os.symlink(shutil.which("sleep"), program)
        grouper = pe.Grouper(declared=[("sleeper", "^pe-restarting$")], children=False)
        exporter = pe.Exporter(pe.LinuxReader(), pe.GROUP_FAMILIES,
                               pe.Filter(include=["^pe-restarting$"]), grouper=grouper)
        joins = lambda: samples_of(parse_exposition(exporter.scrape()),      # noqa: E731
                                   "process_exporter_group_joins_total", groupname="sleeper")
        child = self.child(program, "60")
        self.assertEqual(joins(), [0])            # there before the first scrape: no join
        for restart in range(1, 4):
            child.kill()
            child.wait()
            child = self.child(program, "60")
            self.assertEqual(joins(), [restart])
            self.assertEqual(joins(), [restart])              # a second scrape: no more


def with_cmdline(record, cmdline):
    record.cmdline = cmdline
    return record


@in_fast_tier
class RuleTest(unittest.TestCase, ExpositionChecks):
    """Rules on one field (name:, path:, cmdline:, user:) and group names filled
    from the match."""

    def test_what_an_outsider_can_make_a_regex_cost_is_bounded(self):
        for pattern in ("(a+)+$", "(\\w+\\s?)*x", "(a|aa)*b", "(x|x)+", "((ab)*c)+",
                        "(a{1,30})+b", "a{99999999999}", "(" * 500 + "a" + ")" * 500,
                        "(?:" * 2000 + "a" + ")" * 2000):
            with self.subTest(pattern=pattern[:30]):
                said = one_line_exit(self, ["--include", "cmdline:" + pattern])
                self.assertIn("bad regex", said)
        # Polynomial ones search the start of a long text: n ** 2 steps for this one.
        rule = pe.Rule("cmdline:(?P<jar>\\w+)\\.jar")
        self.assertLess(rule.reach, 5000)
        searched = []
        real = rule.regex
        rule.regex = type("Recording", (), {"search": lambda _, text: searched.append(
            len(text)) or real.search(text)})()
        hostile = with_cmdline(proc(9, "x"), "a" * pe.CMDLINE_BYTES)   # 20 s in full
        self.assertIsNone(rule.search(hostile, pe.UserNames()))
        self.assertEqual(searched, [rule.reach])
        near = with_cmdline(proc(9, "x"), "java -jar app.jar " + "-Dx=1 " * 100)
        self.assertEqual(rule.search(near, pe.UserNames()).group("jar"), "app")
        with contextlib.redirect_stderr(io.StringIO()) as said:
            pe.warn_of_short_reach(pe.parse_args(["--include", "cmdline:(?P<j>\\w+)\\.jar",
                                                  "--include", "java"]))
        self.assertEqual(len(said.getvalue().splitlines()), 1)
        self.assertIn("searches only the first %d characters" % rule.reach, said.getvalue())
        # Linear ones search it all.
        for pattern in ("-jar\\s+(?P<jar>\\S+)", "^/usr/.*\\.app/", "java", "(?:foo|bar)+"):
            self.assertEqual(pe.Rule(pattern).reach, pe.REGEX_STEPS, pattern)

    def records(self):
        return [with_cmdline(proc(1, "java", path="/usr/bin/java"),
                             "java -Xmx1g -jar /opt/kafka/kafka.jar"),
                with_cmdline(proc(2, "java", path="/usr/bin/java"),
                             "java -jar /srv/billing.jar --port=8080"),
                with_cmdline(proc(3, "python3", uid=0), "python3 -m http.server"),
                proc(4, "java", uid=0),                 # another user's: no command line
                with_cmdline(proc(5, "node"), "node /srv/app/server.js")]

    def pick(self, **rules):
        return [r.pid for r in pe.Filter(**rules).apply(self.records())]

    def test_each_field_alone_and_no_prefix_is_name_or_path(self):
        self.assertEqual(self.pick(include=["cmdline:kafka"]), [1])
        self.assertEqual(self.pick(include=["name:^java$"]), [1, 2, 4])
        self.assertEqual(self.pick(include=["path:^/usr/bin/"]), [1, 2])
        self.assertEqual(self.pick(include=["user:^root$"]), [3, 4])
        self.assertEqual(self.pick(include=["java"]), [1, 2, 4])
        self.assertEqual(self.pick(include=["usr/bin/java"]), [1, 2])
        self.assertEqual(self.pick(exclude=["cmdline:--port="]), [1, 3, 4, 5])
        self.assertEqual(self.pick(include=["cmdline:."]), [1, 2, 3, 5])     # 4: unknown
        self.assertEqual(self.pick(include=["name:cmdline"]), [])

    def test_an_unknown_field_is_refused_and_a_colon_can_be_escaped(self):
        with self.assertRaisesRegex(ValueError, "unknown field 'args'"):
            pe.Rule("args:x")
        self.assertEqual(pe.Rule("args\\:x").field, None)
        self.assertEqual(pe.Rule("(?:a)").field, None)
        self.assertEqual(pe.Rule("Name:x").field, None)        # a prefix is lowercase

    def test_a_cmdline_rule_runs_once_per_process(self):
        records = self.records()
        selection = pe.Filter(include=["cmdline:x"])
        searches = CountingPattern("kafka")
        selection.include[0].regex = searches
        for _ in range(4):
            self.assertEqual([r.pid for r in selection.apply(records)], [1])
        self.assertEqual(searches.calls, 4)             # 4 has none: never searched

    def groups(self, declared, records=None):
        grouper = pe.Grouper(declared=declared, children=False)
        assigned = grouper.assign(self.records() if records is None else records)
        return {name: [r.pid for r in members] for name, members in assigned.items()}

    def test_one_group_per_captured_value(self):
        jar = ("{app}", r"cmdline:-jar (?:\S*/)?(?P<app>[^ /]+)\.jar")
        self.assertEqual(self.groups([jar]), {"kafka": [1], "billing": [2]})
        self.assertEqual(self.groups([("{user}-{name}", "cmdline:.")]),
                         {"root-python3": [3], pe.UserNames()(501) + "-java": [1, 2],
                          pe.UserNames()(501) + "-node": [5]})

    def test_an_empty_placeholder_leaves_the_process_to_the_next_rule(self):
        declared = [("jvm-{opt}", r"cmdline:^java(?: (?P<opt>-X\S+))?"),
                    ("other-java", "name:java"), ("{name}", "")]
        self.assertEqual(self.groups(declared), {
            "jvm--Xmx1g": [1], "other-java": [2, 4], "python3": [3], "node": [5]})

    def test_templated_groups_are_not_exported_empty_but_fixed_ones_are(self):
        grouper = pe.Grouper(declared=[("{name}", "cmdline:nothing-runs-this"),
                                       ("kafka", "cmdline:kafka-not-here")])
        groups = grouper.update(self.records(), now=0.0)
        self.assertEqual([g.name for g in groups], ["kafka"])
        grouper = pe.Grouper(declared=[("{name}", "name:^node$")], expiry=10)
        self.assertEqual([g.name for g in grouper.update(self.records(), now=0.0)],
                         ["node"])
        self.assertEqual([g.name for g in grouper.update([], now=5.0)], ["node"])
        self.assertEqual(grouper.update([], now=20.0), [])      # forgotten as any group

    def test_bad_templates(self):
        for name, pattern in (("{app}", "x"), ("{app", "x"), ("a}", "x"), ("{}", "x"),
                              ("{app}", "cmdline:(?P<other>x)")):
            with self.subTest(name=name, pattern=pattern):
                with self.assertRaises(ValueError):
                    pe.check_template(name, pattern)
        pe.check_template("{app}-{name}", "cmdline:(?P<app>x)")


CHROME = "/Applications/Google Chrome.app"
CHROME_HELPER = (CHROME + "/Contents/Frameworks/Google Chrome Framework.framework/Versions/"
                 "120.0/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/"
                 "Google Chrome Helper (Renderer)")
TRANSLOCATED = ("/private/var/folders/x1/abc/T/AppTranslocation/"
                "0C2B6E5A-1F1D-4E3C-9B7A-2D8E6F4A1B3C/d/Tidy.app/Contents/MacOS/Tidy")


@in_fast_tier
class AppNamesTest(unittest.TestCase):
    """--group-by app: bundles in a folder made here, cgroups in a fake procfs."""

    def setUp(self):
        import plistlib
        self.root = tempfile.mkdtemp(prefix="apps-")
        self.addCleanup(shutil.rmtree, self.root, ignore_errors=True)

        def bundle(path, info=None, raw=None):
            contents = self.root + path + "/Contents"
            os.makedirs(contents + "/MacOS", exist_ok=True)
            if info is not None:
                with open(contents + "/Info.plist", "wb") as f:
                    plistlib.dump(info, f, fmt=plistlib.FMT_BINARY)
            if raw is not None:
                with open(contents + "/Info.plist", "wb") as f:
                    f.write(raw)
        bundle(CHROME, {"CFBundleName": "Chrome", "CFBundleDisplayName": "Google Chrome"})
        bundle(CHROME_HELPER.split("/Contents/MacOS/")[0], {"CFBundleName": "Helper"})
        bundle("/Applications/Plain.app", {"CFBundleName": "Plain Name"})
        bundle("/Applications/Silent.app", {"CFBundleName": "", "Other": 1})
        bundle("/Applications/Broken.app", raw=b"<?xml version='1.0'?><plist><dict><key>")
        bundle("/Applications/Listed.app", raw=b"bplist00 not really")
        bundle("/Applications/NoPlist.app")
        self.apps = pe.AppNames("darwin", root=self.root)

    def test_the_outermost_bundle_names_the_app(self):
        for path, app in (
                (CHROME + "/Contents/MacOS/Google Chrome", "Google Chrome"),
                (CHROME_HELPER, "Google Chrome"),
                ("/Applications/Plain.app/Contents/MacOS/plain", "Plain Name"),
                ("/Applications/Silent.app/Contents/MacOS/s", "Silent"),
                ("/Applications/Broken.app/Contents/MacOS/b", "Broken"),
                ("/Applications/Listed.app/Contents/MacOS/l", "Listed"),
                ("/Applications/NoPlist.app/Contents/MacOS/n", "NoPlist"),
                ("/Applications/Gone.app/Contents/MacOS/g", "Gone"),
                (TRANSLOCATED, "Tidy"),
                ("/usr/bin/python3", None), ("", None), ("/opt/x.app", None),
                ("/opt/.app/bin/x", None)):
            with self.subTest(path=path):
                self.assertEqual(self.apps.bundle_app(path), app)

    def test_files_anyone_controls_are_looked_at_before_they_are_opened(self):
        import plistlib
        target = self.root + "/elsewhere.plist"
        with open(target, "wb") as f:
            plistlib.dump({"CFBundleName": "Borrowed"}, f)
        for app, make in (("Linked", lambda path: os.symlink(target, path)),
                          ("Piped", os.mkfifo)):
            os.makedirs(self.root + "/Applications/%s.app/Contents" % app)
            make(self.root + "/Applications/%s.app/Contents/Info.plist" % app)
        opened = []
        real_open = os.open
        os.open = lambda path, *args, **kw: opened.append(path) or real_open(path, *args, **kw)
        try:
            self.assertEqual(self.apps.bundle_app("/Applications/Linked.app/Contents/MacOS/l"),
                             "Linked")
            self.assertEqual(self.apps.bundle_app("/Applications/Piped.app/Contents/MacOS/p"),
                             "Piped")
        finally:
            os.open = real_open
        self.assertEqual(opened, [])              # neither followed nor opened

    def test_no_plist_is_read_on_other_volumes_or_in_guarded_folders(self):
        looked = []
        real_lstat, real_open = os.lstat, os.open
        os.lstat = lambda path, *args, **kw: looked.append(path) or real_lstat(path)
        os.open = lambda path, *args, **kw: looked.append(path) or real_open(path, *args, **kw)
        try:
            for path, app in (
                    ("/Volumes/NAS/Apps/Slow.app/Contents/MacOS/s", "Slow"),
                    ("/Network/Servers/x/Apps/Far.app/Contents/MacOS/f", "Far"),
                    ("/Users/me/Downloads/New.app/Contents/MacOS/n", "New"),
                    ("/Users/me/Desktop/Tool.app/Contents/MacOS/t", "Tool"),
                    ("/Users/me/Library/Mobile Documents/x/Sync.app/Contents/MacOS/s", "Sync")):
                self.assertEqual(self.apps.bundle_app(path), app)
        finally:
            os.lstat, os.open = real_lstat, real_open
        self.assertEqual(looked, [])

    def test_a_plist_that_could_not_be_read_is_tried_again_later(self):
        import plistlib
        now = [1000.0]
        apps = pe.AppNames("darwin", root=self.root, clock=lambda: now[0])
        path = "/Applications/NoPlist.app/Contents/MacOS/n"
        self.assertEqual(apps.bundle_app(path), "NoPlist")           # none yet: the folder
        with open(self.root + "/Applications/NoPlist.app/Contents/Info.plist", "wb") as f:
            plistlib.dump({"CFBundleDisplayName": "Now Listed"}, f)   # the install finished
        now[0] += 60
        self.assertEqual(apps.bundle_app(path), "NoPlist")
        now[0] += apps.RETRY_SECONDS
        self.assertEqual(apps.bundle_app(path), "Now Listed")

    def test_an_interpreter_is_the_script_it_runs(self):
        framework = ("/Library/Frameworks/Python.framework/Versions/3.12/Resources/"
                     "Python.app/Contents/MacOS/Python")
        self.assertIsNone(self.apps.bundle_app(framework))     # no app: an interpreter's
        for name, cmdline, app in (
                ("Python", framework + " /Users/me/bin/backup.py --full", "backup.py"),
                ("Python", framework + " -u -B /srv/job.py", "job.py"),
                ("python3", "python3 -m http.server 8000", "http.server"),
                ("python3.11", "/usr/bin/python3.11 process_exporter.py --once",
                 "process_exporter.py"),
                ("node", "node /srv/app/server.js", "server.js"),
                ("Python", framework + " -c print(1)", None),
                ("Python", None, None),                          # another user's: not known
                ("bash", "bash /usr/local/bin/run.sh", None)):   # a shell runs commands
            with self.subTest(cmdline=cmdline):
                record = with_cmdline(proc(5, name, path=framework), cmdline)
                self.assertEqual(self.apps(record), app)
        grouper = pe.Grouper("app", children=False, app_names=self.apps)
        records = [with_cmdline(proc(1, "Python", path=framework), "Python /a/backup.py"),
                   with_cmdline(proc(2, "Python", path=framework), "Python -m pip install x"),
                   proc(3, "Python", path=framework)]
        self.assertEqual(sorted(grouper.assign(records)), ["Python", "backup.py", "pip"])

    def test_a_plist_is_read_once_per_bundle(self):
        self.assertEqual(self.apps.bundle_app(CHROME_HELPER), "Google Chrome")
        os.remove(self.root + CHROME + "/Contents/Info.plist")
        self.assertEqual(self.apps.bundle_app(CHROME + "/Contents/MacOS/x"), "Google Chrome")

    @not_in_fast_tier
    def test_groups_by_app_on_the_standin(self):
        lib = standin_library()
        lib.standin_reset()
        for pid, path in ((10, CHROME + "/Contents/MacOS/Google Chrome"), (11, CHROME_HELPER),
                          (12, CHROME_HELPER), (13, "/usr/bin/python3")):
            name = path.rpartition("/")[2].encode()
            add_fake(lib, pid, comm=name[:15], name=name[:31], path=path.encode())
        grouper = pe.Grouper("app", children=False, app_names=self.apps)
        groups = grouper.assign(pe.DarwinReader(lib).read())
        self.assertEqual({name: sorted(r.pid for r in members)
                          for name, members in groups.items()},
                         {"Google Chrome": [10, 11, 12], "python3": [13]})

    def test_units_and_containers_from_cgroups(self):
        long_id = "0123456789ab" + "c" * 52
        for text, app in (
                ("0::/system.slice/nginx.service\n", "nginx.service"),
                ("0::/system.slice/docker-%s.scope\n" % long_id, "0123456789ab"),
                ("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
                 "cri-containerd-%s.scope\n" % long_id, "0123456789ab"),
                ("0::/machine.slice/libpod-%s.scope/container\n" % long_id, "0123456789ab"),
                ("12:pids:/docker/%s\n1:name=systemd:/docker/%s\n" % (long_id, long_id),
                 "0123456789ab"),
                ("11:memory:/system.slice/cron.service\n1:name=systemd:/system.slice/"
                 "cron.service\n0::/system.slice/cron.service\n", "cron.service"),
                ("0::/user.slice/user-1000.slice/session-3.scope\n", None),
                ("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", None),
                ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
                 "pipewire.service\n", "pipewire.service"),
                ("0::/init.scope\n", "init.scope"), ("0::/\n", None), ("", None),
                ("garbage without colons", None)):
            with self.subTest(text=text):
                self.assertEqual(pe.cgroup_app(text), app)

    def test_groups_by_unit_on_a_fake_procfs(self):
        procfs = FakeProcfs()
        self.addCleanup(procfs.cleanup)
        procfs.add(20, comm=b"nginx", exe=b"/usr/sbin/nginx")
        procfs.write("20/cgroup", b"0::/system.slice/nginx.service\n")
        procfs.add(21, comm=b"bash", exe=b"/bin/bash")
        procfs.write("21/cgroup", b"0::/user.slice/user-1000.slice/session-2.scope\n")
        procfs.add(22, comm=b"kthreadd")            # no cgroup file: by its name
        grouper = pe.Grouper("app", children=False,
                             app_names=pe.AppNames("linux", procfs=procfs.root))
        groups = grouper.assign(pe.LinuxReader(procfs.root).read())
        self.assertEqual({name: [r.pid for r in members] for name, members in groups.items()},
                         {"nginx.service": [20], "bash": [21], "kthreadd": [22]})


# Real-world command lines and what --label cmdline shows of them: no secret.
REDACTION_TABLE = (
    ("mysql -h db -u root -pS3cr3t shop", "mysql -h db -u root -p*** shop"),
    ("mysql -u root -p shop", "mysql -u root -p shop"),          # -p alone prompts
    ("mysqldump --password=S3cr3t shop", "mysqldump --password=*** shop"),
    ("psql postgresql://app:S3cr3t@db.internal:5432/shop",
     "psql postgresql://app:***@db.internal:5432/shop"),
    ("psql host=db user=app password=S3cr3t dbname=shop",
     "psql host=db user=app password=*** dbname=shop"),
    ("curl -u alice:S3cr3t https://api.example.com", "curl -u alice:*** https://api.example.com"),
    ("curl -ualice:S3cr3t https://x", "curl -ualice:*** https://x"),
    ("curl --user alice:S3cr3t https://x", "curl --user alice:*** https://x"),
    ("curl -H Authorization: Bearer S3cr3t https://x",
     "curl -H Authorization: Bearer *** https://x"),
    ("curl https://x/api?user=a&api_key=S3cr3t&n=1", "curl https://x/api?user=a&api_key=***&n=1"),
    ("java -Djavax.net.ssl.keyStorePassword=S3cr3t -Ddb.password=S3cr3t -jar app.jar",
     "java -Djavax.net.ssl.keyStorePassword=*** -Ddb.password=*** -jar app.jar"),
    ("redis-cli -h cache -a S3cr3t ping", "redis-cli -h cache -a *** ping"),
    ("redis-server --requirepass S3cr3t", "redis-server --requirepass ***"),
    ("aws configure set aws_secret_access_key S3cr3t",
     "aws configure set aws_secret_access_key ***"),
    ("docker login -u bob -p S3cr3t registry.example.com",
     "docker login -u bob -p *** registry.example.com"),
    ("docker run -p 8080:80 nginx", "docker run -p 8080:80 nginx"),   # -p: publish
    ("sshpass -p S3cr3t ssh host", "sshpass -p *** ssh host"),
    ("env PGPASSWORD=S3cr3t MYSQL_PWD=S3cr3t AWS_SECRET_ACCESS_KEY=S3cr3t run",
     "env PGPASSWORD=*** MYSQL_PWD=*** AWS_SECRET_ACCESS_KEY=*** run"),
    ("app --token S3cr3t --api-key=S3cr3t --client-secret S3cr3t --verbose",
     "app --token *** --api-key=*** --client-secret *** --verbose"),
    ("openssl enc -aes256 -pass pass:S3cr3t -in f", "openssl enc -aes256 -pass pass:*** -in f"),
    ("git clone https://oauth2:S3cr3t@gitlab.example.com/g/r.git",
     "git clone https://oauth2:***@gitlab.example.com/g/r.git"),
    ("redis-server redis://:S3cr3t@cache:6379", "redis-server redis://:***@cache:6379"),
    ("vault login -method=userpass username=bob password=S3cr3t",
     "vault login -method=userpass username=bob password=***"),
    ("python3 -m http.server 8000", "python3 -m http.server 8000"),
)


@in_fast_tier
class RedactionTest(unittest.TestCase, ExpositionChecks):

    def test_the_table(self):
        for cmdline, shown in REDACTION_TABLE:
            with self.subTest(cmdline=cmdline):
                self.assertEqual(pe.redacted_cmdline(cmdline), shown)
                self.assertNotIn("S3cr3t", pe.redacted_cmdline(cmdline))

    def test_cut_with_a_marker(self):
        shown = pe.redacted_cmdline("x" * 500)
        self.assertEqual(shown, "x" * pe.CMDLINE_LABEL_CHARS + pe.CUT_MARK)
        self.assertEqual(pe.redacted_cmdline("x" * pe.CMDLINE_LABEL_CHARS),
                         "x" * pe.CMDLINE_LABEL_CHARS)

    def test_on_process_info_only(self):
        args = pe.parse_args(["--label=cmdline"])
        exporter = pe.build_exporter(args)
        exporter.reader = StaticReader([with_cmdline(proc(1, "mysql"), "mysql -pS3cr3t"),
                                        proc(2, "other"),
                                        with_cmdline(proc(3, "odd"), 'a "b"\\\nc\ufffd')])
        text = exporter.scrape()
        families = self.assertValidExposition(text)
        info = {labels["pid"]: labels["cmdline"]
                for labels, _ in families["process_info"]["samples"]}
        self.assertEqual(info, {"1": "mysql -p***", "2": "", "3": 'a "b"\\\nc\ufffd'})
        for name, family in families.items():
            if name != "process_info":
                self.assertTrue(all("cmdline" not in labels
                                    for labels, _ in family["samples"]), name)
        self.assertNotIn("S3cr3t", text)


@in_fast_tier
class SelectionOnReadersTest(unittest.TestCase, ExpositionChecks):
    """Filters and groups over the real readers: the stand-in libSystem and a procfs tree."""

    def test_partial_counts_only_the_processes_exported(self):
        records = [proc(1, "bash"), proc(2, "sshd", uid=0), proc(3, "sshd", uid=0)]
        records[1].partial = records[2].partial = True      # root's, read as a user
        reader = StaticReader(records)

        def partial(**options):
            text = pe.Exporter(reader, **options).scrape()
            return samples_of(parse_exposition(text), "process_exporter_processes_partial")
        self.assertEqual(partial(), [2])
        self.assertEqual(partial(filter=pe.Filter(include=["name:^bash$"])), [0])
        self.assertEqual(partial(top=pe.TopConsumers(1, pe.PROCESS_FAMILIES)), [2])
        for declared, count in (([("b", "^bash$")], 0), ([("s", "^sshd$")], 2)):
            grouper = pe.Grouper(declared=declared, children=False)
            self.assertEqual(partial(families=pe.GROUP_FAMILIES, grouper=grouper), [count])

    def test_the_exporters_own_health_under_its_own_prefix(self):
        me = proc(os.getpid(), "python3", rss=12345678, virtual_bytes=99, start=1700000000.0)
        for records, resident in (([proc(1, "init"), me], 12345678), ([proc(1, "init")], None)):
            families = parse_exposition(pe.Exporter(StaticReader(records)).scrape())
            self.assertEqual(families.get("process_exporter_resident_memory_bytes",
                                          {"samples": []})["samples"],
                             [({}, resident)] if resident else [])
            self.assertGreater(samples_of(families, "process_exporter_cpu_seconds_total")[0],
                               0)
            self.assertGreater(samples_of(families, "process_exporter_open_fds")[0], 0)
            self.assertEqual(families["process_exporter_cpu_seconds_total"]["type"],
                             "counter")
        self.assertNotIn("process_exporter_start_time_seconds", families)   # not read
        for name, family in families.items():        # process_*: the processes', by pid
            if not name.startswith("process_exporter_"):
                self.assertTrue(all("pid" in labels for labels, _ in family["samples"]), name)

    @not_in_fast_tier
    def test_groups_on_the_stand_in_libsystem(self):
        lib = self.lib = standin_library()
        lib.standin_reset()
        DarwinReaderTest.populate(self)   # the same processes as the darwin tests
        lib.standin_timebase(125, 3, 24000000)
        grouper = pe.Grouper(None, declared=[("browser", "^Safari$"), ("mail", "^Mail$")])
        exporter = pe.Exporter(pe.DarwinReader(lib), pe.GROUP_FAMILIES, grouper=grouper)
        families = self.assertValidExposition(exporter.scrape(), promtool=False)
        self.assertEqual(samples_of(families, "namedprocess_namegroup_num_procs",
                                    groupname="browser"), [2])     # Safari + its zombie
        self.assertEqual(samples_of(families, "namedprocess_namegroup_cpu_seconds_total",
                                    groupname="browser", mode="user"), [12.0])
        self.assertEqual(samples_of(families, "namedprocess_namegroup_memory_bytes",
                                    groupname="browser", memtype="footprint"), [450000000])
        self.assertEqual(samples_of(families, "namedprocess_namegroup_num_procs",
                                    groupname="mail"), [0])
        self.assertEqual(samples_of(families, "process_exporter_processes"), [2])

    def test_filters_on_a_procfs_tree(self):
        procfs = FakeProcfs()
        self.addCleanup(procfs.cleanup)
        procfs.add(1, comm=b"init", ppid=0, uid=0, exe=b"/sbin/init")
        procfs.add(50, comm=b"postgres", uid=70, exe=b"/usr/lib/postgresql/bin/postgres")
        procfs.add(51, comm=b"postgres", ppid=50, uid=70, exe=b"/usr/lib/postgresql/bin/postgres")
        procfs.add(60, comm=b"bash", uid=1000, exe=b"/bin/bash")
        exporter = pe.Exporter(pe.LinuxReader(procfs.root),
                               filter=pe.Filter(include=["postgres", "bash"], uids=[70]))
        families = parse_exposition(exporter.scrape())
        pids = sorted(labels["pid"] for labels, _ in families["process_info"]["samples"])
        self.assertEqual(pids, ["50", "51"])
        self.assertEqual(samples_of(families, "process_exporter_processes"), [2])


class OwnChildren(pe.Filter):
    """Only this test process's children."""

    def apply(self, records):
        return [record for record in records if record.ppid == os.getpid()]


class World(pe.Reader):
    """A machine whose processes start, exit, rename themselves, start and end threads
    and use CPU in steps of a clock tick, at random; read as a Reader, which now and
    then fails as a whole or misses one process.  It keeps what every process used,
    so that groups can be held to it."""

    def __init__(self, rng, pid_reuse=True):
        pe.Reader.__init__(self)
        self.rng, self.pid_reuse = rng, pid_reuse
        self.processes = {}          # pid -> [name, start, user, system, read, switches, threads]
        self.next_pid, self.clock, self.used = 100, 1000.0, 0.0
        for _ in range(12):
            self.spawn()

    def spawn(self):
        rng = self.rng
        pid = rng.choice([pid for pid in self.processes] or [100]) if self.pid_reuse and \
            rng.random() < 0.2 else self.next_pid
        self.next_pid += 1
        self.clock += 1.0
        threads = {tid: [rng.choice(("main", "gc", "io")), 0.0]
                   for tid in range(rng.randint(1, 3))}
        self.processes.pop(pid, None)
        self.processes[pid] = [rng.choice(("web", "db", "job", "cc")), self.clock,
                               0.0, 0.0, 0, 0, threads]

    def step(self):
        rng = self.rng
        for pid, process in list(self.processes.items()):
            for thread in process[6].values():
                spent = rng.randint(0, 3) * 0.01          # ticks: no float is exact
                thread[1] += spent
                process[2] += spent
                self.used += spent
            extra = rng.randint(0, 2) * 0.01
            process[3] += extra
            self.used += extra
            process[4] += rng.randint(0, 4096)
            process[5] += rng.randint(0, 5)
            event = rng.random()
            if event < 0.08:
                del self.processes[pid]                   # exits
            elif event < 0.16:
                process[0] = rng.choice(("web", "db", "job", "cc", "x"))     # renames
            elif event < 0.22:
                threads = process[6]
                tid = rng.choice(list(threads))
                if rng.random() < 0.5 and len(threads) > 1:
                    del threads[tid]                      # a thread ends
                elif rng.random() < 0.5:
                    threads[tid][0] = rng.choice(("main", "gc", "io", "w"))    # renamed
                else:
                    threads[max(threads) + 1] = ["w", 0.0]
        for _ in range(rng.randint(0, 2)):
            self.spawn()

    def read(self):
        self._start_reading()
        if self.rng.random() < 0.05:
            raise OSError("the listing failed")
        missing = self.rng.choice(list(self.processes)) if self.rng.random() < 0.1 else None
        records = []
        for pid, (name, start, user, system, read, switches, threads) in \
                self.processes.items():
            if pid == missing:
                continue
            record = pe.Process(pid, 1, 501, 20, name, "/bin/" + name, start, user, system,
                                1000, 2000, threads=len(threads), disk_read_bytes=read,
                                context_switches=switches)
            record.thread_list = [pe.Thread(tid, thread_name, cpu, 0.0)
                                  for tid, (thread_name, cpu) in threads.items()]
            records.append(record)
        return records


@in_fast_tier
class CountersNeverGoDownTest(unittest.TestCase):
    """Whatever exits, renames, thread changes, reloads and failed scrapes happen, no
    exported counter goes down, groups count no process's use twice, and a process
    joins at most once in its life."""

    CONFIGS = (["--group-by=name", "--threads"],
               ["--group=serving=^(web|db)$", "--group=jobs=^job$", "--threads"],
               ["--group-by=name", "--group=all=.", "--threads"],
               ["--top=2"],
               ["--top=3", "--metrics=default"])

    def run_world(self, seed, configs):
        rng = random.Random(seed)
        world = World(rng, pid_reuse="--top" not in " ".join(configs[0]))
        folder = tempfile.mkdtemp(prefix="property-")
        self.addCleanup(shutil.rmtree, folder)
        path = os.path.join(folder, "flags")
        with open(path, "w") as f:
            f.write("\n".join(configs[0]))
        argv = ["--config.file", path]
        running = pe.parse_args(argv)
        exporter = pe.build_exporter(running, reader=world)
        last = {}
        for scrape in range(60):
            if rng.random() < 0.1:                         # SIGHUP, maybe another file
                with open(path, "w") as f:
                    f.write("\n".join(rng.choice(configs)))
                with contextlib.redirect_stderr(io.StringIO()):
                    pe.reload_config(exporter, argv, running)
            try:
                text = exporter.scrape()
            except OSError:
                continue
            families = parse_exposition(text)
            for name, family in families.items():
                if family["type"] != "counter":
                    continue
                for labels, value in family["samples"]:
                    series = (name, tuple(sorted(labels.items())))
                    self.assertGreaterEqual(value, last.get(series, value),
                                            "%s went down (seed %d, scrape %d)"
                                            % (series, seed, scrape))
                    last[series] = value
            if exporter.grouper is not None:
                cpu = families.get("namedprocess_namegroup_cpu_seconds_total",
                                   {"samples": []})["samples"]
                grouped = sum(value for labels, value in cpu)
                self.assertLessEqual(grouped, world.used + 1e-6, "a use counted twice")
                joins = families["process_exporter_group_joins_total"]["samples"]
                self.assertLessEqual(sum(value for _, value in joins), world.next_pid - 100)
            world.step()

    def test_groups_and_threads(self):
        for seed in range(6):
            with self.subTest(seed=seed):
                self.run_world(seed, self.CONFIGS[:3])

    def test_top_and_its_rest(self):
        for seed in range(6):
            with self.subTest(seed=seed):
                self.run_world(seed, self.CONFIGS[3:])


@in_fast_tier
class BoundedSeriesTest(unittest.TestCase, ExpositionChecks):
    """--top, --min-age and --labels on records made here (the fast tier)."""

    def top(self, count=1):
        return pe.TopConsumers(count, pe.select_families(None))

    def test_the_heaviest_are_kept_and_the_rest_summed(self):
        top = self.top(1)
        records = [proc(1, "idle", cpu=1.0, rss=10), proc(2, "busy", cpu=50.0, rss=20),
                   proc(3, "big", cpu=2.0, rss=900), proc(4, "small", cpu=3.0, rss=30)]
        items = top.select(records)
        self.assertEqual([item.pid for item in items], [2, 3, "other"])
        rest = items[-1]
        self.assertEqual((rest.cpu_user, rest.resident_bytes), (4.0, 40))
        self.assertIsNone(rest.start_time)
        text = pe.render(items)
        self.assertNotIn('process_info{pid="other"', text)
        self.assertIn('process_cpu_seconds_total{pid="other",ppid="",uid="",gid="",path="",'
                      'name="",mode="user"} 4.0', text.split("\n"))
        self.assertValidExposition(text)

    def test_the_rest_counts_only_what_it_used_while_outside(self):
        top = self.top(1)
        def a(cpu):
            return proc(1, "a", cpu=cpu, rss=1)

        def b(cpu):
            return proc(2, "b", cpu=cpu, rss=1000)       # always the most memory

        def c(cpu):
            return proc(3, "c", cpu=cpu, rss=2)
        items = top.select([a(10.0), b(100.0), c(5.0)])          # b tops both
        self.assertEqual(([item.pid for item in items], items[-1].cpu_user),
                         ([2, "other"], 15.0))
        # a used the most since the last scrape (+50): it enters the top
        items = top.select([a(60.0), b(101.0), c(6.0)])
        self.assertEqual(([item.pid for item in items], items[-1].cpu_user),
                         ([1, 2, "other"], 16.0))
        # and leaves it again: only what it used since counts for the rest
        items = top.select([a(61.0), b(200.0), c(8.0)])
        self.assertEqual(([item.pid for item in items], items[-1].cpu_user),
                         ([2, "other"], 19.0))
        # a process new to us counts whole; one that exited is simply gone
        items = top.select([b(300.0), c(9.0), proc(4, "d", cpu=0.5, rss=3)])
        self.assertEqual(items[-1].cpu_user, 20.5)

    def test_labels_on_value_series_and_every_label_on_info(self):
        exporter = pe.Exporter(StaticReader([proc(7, "x", rss=5)]),
                               pe.select_families(None),
                               value_labels_of=pe.labeler(["pid", "name"]))
        families = parse_exposition(exporter.scrape())
        (info, _), = families["process_info"]["samples"]
        self.assertEqual(set(info), {"pid", "ppid", "uid", "gid", "path", "name"})
        (rss, _), = families["process_resident_memory_bytes"]["samples"]
        self.assertEqual(rss, {"pid": "7", "name": "x"})

    def test_min_age_hides_the_youngest(self):
        records = [proc(1, "old", start=1000.0), proc(2, "young", start=1099.0),
                   proc(3, "unknown", start=None)]
        exporter = pe.Exporter(StaticReader(records), min_age=2.0, clock=lambda: 1100.0)
        families = parse_exposition(exporter.scrape())
        pids = sorted(labels["pid"] for labels, _ in families["process_info"]["samples"])
        self.assertEqual(pids, ["1", "3"])
        self.assertEqual(samples_of(families, "process_exporter_processes"), [2])

    def test_the_rest_has_no_number_no_process_has(self):
        """A counter no process gives (instructions on Linux, say) is not 0 for the rest."""
        top = self.top(1)
        items = top.select([proc(1, "a", cpu=1.0, rss=1), proc(2, "b", cpu=2.0, rss=2)])
        rest = items[-1]
        self.assertEqual(rest.cpu_user, 1.0)
        self.assertIsNone(rest.instructions)
        self.assertNotIn("process_instructions_total", pe.render(items))

    def test_the_series_count_is_what_was_exported(self):
        exporter = pe.Exporter(StaticReader([proc(1, "a", rss=1), proc(2, "b")]))
        text = exporter.scrape()
        own = [line for line in text.split("\n") if line.startswith("process_exporter_")
               or line.startswith("#") or not line]
        self.assertEqual(samples_of(parse_exposition(text), "process_exporter_series"),
                         [len(text.split("\n")) - len(own)])


@unittest.skipUnless(IS_LINUX, "starts and reads real processes")
class BoundedSeriesOnRealProcessesTest(unittest.TestCase, ExpositionChecks):
    """--top and --min-age on real children, as the exporter runs them."""

    def children(self, argv, count):
        started = []
        self.addCleanup(lambda: [stop_process(child) for child in started])
        for _ in range(count):
            started.append(subprocess.Popen(argv))
        return started

    def test_top_keeps_the_busy_and_the_rest_never_goes_down(self):
        sleepers = self.children(["sleep", "60"], 60)
        spin = [sys.executable, "-c", "while True: pass"]
        spinners = self.children(spin, 3)
        self.addCleanup(lambda: [os.kill(s.pid, signal.SIGCONT) for s in spinners
                                 if s.poll() is None])      # a stopped child ignores TERM
        for spinner in spinners[1:]:
            os.kill(spinner.pid, signal.SIGSTOP)
        # The top among this test's children (--top combines with filters), so that
        # whatever else the machine runs cannot push the busy one out.
        exporter = pe.Exporter(pe.LinuxReader(), pe.select_families(None),
                               filter=OwnChildren(),
                               top=pe.TopConsumers(5, pe.select_families(None)))
        rest_cpu, in_top = [], set()
        for scrape in range(12):
            running = spinners[scrape % 3]          # one runs, the others are stopped
            os.kill(running.pid, signal.SIGCONT)
            time.sleep(0.05)
            families = parse_exposition(exporter.scrape())
            os.kill(running.pid, signal.SIGSTOP)
            if scrape % 4 == 3:                     # children end and begin meanwhile
                stop_process(sleepers.pop())
                sleepers.extend(self.children(["sleep", "60"], 1))
            pids = {labels["pid"] for labels, _ in families["process_info"]["samples"]}
            self.assertLessEqual(len(pids), 10)
            self.assertIn(str(running.pid), pids)
            in_top |= pids
            rest_cpu.append(sum(samples_of(families, "process_cpu_seconds_total",
                                           pid="other")))
            self.assertEqual(len(samples_of(families, "process_resident_memory_bytes",
                                            pid="other")), 1)
        self.assertTrue({str(s.pid) for s in spinners} <= in_top)   # each in, and out
        self.assertEqual(rest_cpu, sorted(rest_cpu))

    def test_min_age_hides_a_child_for_its_first_seconds(self):
        later = []                 # the clock moves on when told to, not in a sleep

        def clock():
            return time.time() + sum(later)
        exporter = pe.Exporter(pe.LinuxReader(), min_age=2.0, clock=clock)
        child, = self.children(["sleep", "60"], 1)
        young = parse_exposition(exporter.scrape())
        self.assertEqual(samples_of(young, "process_info", pid=child.pid), [])
        later.append(1.5)
        self.assertEqual(samples_of(parse_exposition(exporter.scrape()), "process_info",
                                    pid=child.pid), [])
        later.append(1.0)
        grown = parse_exposition(exporter.scrape())
        self.assertEqual(samples_of(grown, "process_info", pid=child.pid), [1])


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

def sample_records():
    return [
        pe.Process(1, 0, 0, 0, "launchd", "/sbin/launchd", 1700000000.25, 1.5, 0.5, 1024),
        pe.Process(2, 1, 501, 20, 'q"b\\n\nx', 'p"\\\n', 1700000001.1234567, 0.1, 0.2, 2048),
        pe.Process(3, 1, 501, 20, "nocpu", "", None, None, None, 4096),
    ]


@in_fast_tier
class LoggingTest(unittest.TestCase):
    """--log.level and --log.format: one record a line, time, level and message."""

    def records(self, argv, messages):
        args = pe.parse_args(argv)
        saved = (pe.Logging.level, pe.Logging.json)
        self.addCleanup(lambda: setattr(pe.Logging, "level", saved[0]) or
                        setattr(pe.Logging, "json", saved[1]))
        pe.use_logging(args)
        with contextlib.redirect_stderr(io.StringIO()) as said:
            for message, level in messages:
                pe.log(message, level)
        return said.getvalue().splitlines()

    MESSAGES = (("scraped 3 processes", "debug"), ("listening on :9256", "info"),
                ('odd "quoted"\n\tline \\ \x01', "warn"), ("cannot listen", "error"))

    def test_logfmt_by_default_from_info_up(self):
        lines = self.records([], self.MESSAGES)
        self.assertEqual(len(lines), 3)
        for line, (message, level) in zip(lines, self.MESSAGES[1:]):
            match = re.match(r'time=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) '
                             r'level=([A-Z]+) msg="((?:[^"\\]|\\.)*)"\Z', line)
            self.assertIsNotNone(match, line)
            self.assertEqual(match.group(2), level.upper())
            self.assertEqual(json.loads('"%s"' % match.group(3)), message)

    def test_json_and_levels(self):
        lines = self.records(["--log.format=json", "--log.level=debug"], self.MESSAGES)
        self.assertEqual([(json.loads(line)["level"], json.loads(line)["msg"])
                          for line in lines],
                         [(level.upper(), message) for message, level in self.MESSAGES])
        self.assertEqual(sorted(json.loads(lines[0])), ["level", "msg", "time"])
        errors = self.records(["--log.level=error"], self.MESSAGES)
        self.assertEqual(len(errors), 1)
        self.assertIn('level=ERROR msg="cannot listen"', errors[0])


@in_fast_tier
class RenderTest(unittest.TestCase, ExpositionChecks):

    def test_escaping(self):
        self.assertEqual(pe.escape_label_value('a\\b"c\nd'), 'a\\\\b\\"c\\nd')
        self.assertEqual(pe.escape_help("a\\b\nc\"d"), "a\\\\b\\nc\"d")

    def test_values_in_full_precision(self):
        self.assertEqual(pe.format_value(1700000001.1234567), "1700000001.1234567")
        self.assertEqual(pe.format_value(0.1 + 0.2), "0.30000000000000004")
        self.assertEqual(pe.format_value(12345678901234567890), "12345678901234567890")
        self.assertEqual(pe.format_value(float("inf")), "+Inf")
        self.assertEqual(pe.format_value(float("-inf")), "-Inf")
        self.assertEqual(pe.format_value(float("nan")), "NaN")
        self.assertEqual(pe.format_value(1e300), "1e+300")
        for value in (1700000001.1234567, 1 / 3, 2.5e-9):
            self.assertEqual(float(pe.format_value(value)), value)

    def test_families_contiguous_unique_and_typed(self):
        text = pe.render(sample_records(), {"vanished": 2}, 0.25)
        families = self.assertValidExposition(text)
        per_process = [name for name in families if not name.startswith("process_exporter")]
        self.assertEqual(per_process, [f.name for f in pe.PROCESS_FAMILIES
                                       if f.name in per_process])      # the table's order
        self.assertEqual(per_process[:4], ["process_info", "process_start_time_seconds",
                                           "process_cpu_seconds_total",
                                           "process_resident_memory_bytes"])
        self.assertNotIn("process_threads", families)      # no values: no empty family
        self.assertEqual(text.count("# HELP process_cpu_seconds_total "), 1)
        self.assertEqual(families["process_cpu_seconds_total"]["type"], "counter")
        self.assertEqual(samples_of(families, "process_cpu_seconds_total", pid=1, mode="user"),
                         [1.5])
        odd = [labels for labels, _ in families["process_resident_memory_bytes"]["samples"]
               if labels["pid"] == "2"][0]
        self.assertEqual((odd["name"], odd["path"]), ('q"b\\n\nx', 'p"\\\n'))
        self.assertEqual(samples_of(families, "process_exporter_processes_skipped",
                                    reason="vanished"), [2.0])
        self.assertEqual(samples_of(families, "process_exporter_scrape_duration_seconds"),
                         [0.25])

    def test_missing_values_are_left_out_not_zero(self):
        families = parse_exposition(pe.render(sample_records()))
        self.assertEqual(samples_of(families, "process_cpu_seconds_total", pid=3), [])
        self.assertEqual(samples_of(families, "process_start_time_seconds", pid=3), [])
        self.assertEqual(samples_of(families, "process_resident_memory_bytes", pid=3),
                         [4096.0])

    def test_build_info(self):
        families = parse_exposition(pe.render([]))
        (labels, value), = families["process_exporter_build_info"]["samples"]
        self.assertEqual(value, 1)
        self.assertEqual(labels["version"], pe.__version__)
        self.assertEqual(labels["platform"], sys.platform)
        self.assertEqual(labels["python_version"], "%d.%d.%d" % sys.version_info[:3])

    def test_random_bytes_in_names_and_paths_round_trip(self):
        import random
        rng = random.Random(2026)
        records, expected = [], {}
        for pid in range(1, 301):
            name = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(0, 16)))
            path = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(0, 80)))
            record = pe.Process(pid, 1, 0, 0, pe.decode(name), pe.decode(path), 1.0, 0.5,
                                0.25, 4096)
            records.append(record)
            expected[str(pid)] = (record.name, record.path)
        text = pe.render(records)
        families = self.assertValidExposition(text)
        found = {labels["pid"]: (labels["name"], labels["path"])
                 for labels, _ in families["process_info"]["samples"]}
        self.assertEqual(found, expected)
        text.encode("utf-8")          # always valid UTF-8

    def test_no_processes_is_still_valid(self):
        self.assertValidExposition(pe.render([]))

    def test_prometheus_client_agrees(self):
        text = pe.render(sample_records())
        families = client_parse(text)
        cpu = families["process_cpu_seconds"]      # the client drops _total from counters
        values = {(s.labels["pid"], s.labels["mode"]): s.value for s in cpu.samples}
        self.assertEqual(values[("2", "system")], 0.2)
        memory = families["process_resident_memory_bytes"]
        odd = [s for s in memory.samples if s.labels["pid"] == "2"][0]
        self.assertEqual(odd.labels["path"], 'p"\\\n')

    @unittest.skipUnless(IS_LINUX, "reads the real /proc")
    def test_real_scrape_is_valid(self):
        self.assertValidExposition(pe.Exporter(pe.LinuxReader()).scrape())


# ---------------------------------------------------------------------------
# Security: TLS, client certificates and basic auth
# ---------------------------------------------------------------------------

class Certificates:
    """A throwaway CA, server and client certificates, made with the openssl command."""

    def __init__(self):
        self.openssl = shutil.which("openssl")
        need(self.openssl, "the openssl command is not installed")
        self.folder = tempfile.mkdtemp(prefix="exporter-tls-")
        self.ca = self.path("ca.crt")
        self.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", self.path("ca.key"), "-out", self.ca, "-days", "2",
                 "-subj", "/CN=process_exporter test CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.server_cert, self.server_key = self.issue("server", "serverAuth")
        self.run("genrsa", "-out", self.path("rsa.key"), "2048")       # a legacy PEM key
        self.client_cert, self.client_key = self.issue("client", "clientAuth")

    def path(self, name):
        return os.path.join(self.folder, name)

    def run(self, *args):
        subprocess.run([self.openssl] + list(args), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def issue(self, name, usage):
        key, csr, cert, ext = (self.path(name + suffix)
                               for suffix in (".key", ".csr", ".crt", ".ext"))
        self.run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", "/CN=%s" % name)
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature\nextendedKeyUsage=%s\n"
                    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n" % usage)
        self.run("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.path("ca.key"),
                 "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
        return cert, key

    def client_context(self, with_certificate=False):
        import ssl
        context = ssl.create_default_context(cafile=self.ca)
        if with_certificate:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context

    def cleanup(self):
        shutil.rmtree(self.folder, ignore_errors=True)


def https_request(port, context, path="/metrics", headers=None):
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read(), \
            conn.sock.getpeercert(binary_form=True)
    finally:
        conn.close()


def users_file(test, password, prefix="exporter-auth-"):
    """A basic-auth file in a folder of its own (removed after the test) with one user,
    prom, and a cheap hash of `password`."""
    folder = tempfile.mkdtemp(prefix=prefix)
    test.addCleanup(shutil.rmtree, folder, True)
    path = os.path.join(folder, "users")
    with open(path, "w") as f:
        f.write("prom:%s\n" % pe.hash_password(password, iterations=1000))
    return path


def basic(user, password):
    import base64
    return {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()}


@in_fast_tier
class PasswordHashTest(unittest.TestCase):

    def test_round_trip_and_format(self):
        encoded = pe.hash_password("correct horse", iterations=1000)
        kind, iterations, salt, digest = encoded.split("$")
        self.assertEqual((kind, iterations), ("pbkdf2-sha256", "1000"))
        self.assertTrue(pe.verify_password("correct horse", encoded))
        self.assertFalse(pe.verify_password("correct horse ", encoded))
        self.assertNotEqual(encoded, pe.hash_password("correct horse", iterations=1000))
        self.assertEqual(pe.hash_password("x").split("$")[1], str(pe.PBKDF2_ITERATIONS))

    def test_malformed_hashes_match_nothing(self):
        for bad in ("", "plain", "pbkdf2-sha256$x$y$z", "pbkdf2-sha256$1000$!!$!!",
                    "md5$abc", "scrypt$1$2"):
            self.assertFalse(pe.verify_password("anything", bad), bad)

    def test_scrypt_where_available(self):
        import base64
        import hashlib
        if not hasattr(hashlib, "scrypt"):
            self.skipTest("hashlib has no scrypt here")
        salt = b"0123456789abcdef"
        digest = hashlib.scrypt(b"pw", salt=salt, n=1024, r=8, p=1, dklen=32)
        encoded = "scrypt$1024$8$1$%s$%s" % (base64.b64encode(salt).decode(),
                                            base64.b64encode(digest).decode())
        self.assertTrue(pe.verify_password("pw", encoded))
        self.assertFalse(pe.verify_password("pW", encoded))


class BasicAuthTest(unittest.TestCase, ServerFixture, ExpositionChecks):

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="exporter-auth-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.file = os.path.join(self.folder, "users")
        self.write_users("prom:%s\n" % pe.hash_password("s3cret", iterations=1000))
        self.auth = pe.BasicAuth(self.file)
        self.start_server(auth=self.auth)

    def write_users(self, text):
        with open(self.file + ".new", "w") as f:
            f.write("# users of the exporter\n\n" + text)
        os.chmod(self.file + ".new", 0o600)
        os.replace(self.file + ".new", self.file)

    def test_right_password(self):
        status, _, body = self.request(headers=basic("prom", "s3cret"))
        self.assertEqual(status, 200)
        parse_exposition(body.decode())

    def test_wrong_or_missing_credentials_get_401(self):
        for headers in ({}, basic("prom", "wrong"), basic("nobody", "s3cret"),
                        {"Authorization": "Basic !!notbase64"},
                        {"Authorization": "Bearer abc"}, basic("prom", "")):
            with self.subTest(headers=headers):
                status, response_headers, body = self.request(headers=headers)
                self.assertEqual(status, 401)
                self.assertEqual(response_headers["WWW-Authenticate"],
                                 'Basic realm="process_exporter", charset="UTF-8"')
                self.assertNotIn(b"process_", body)

    def test_landing_page_and_other_paths_need_credentials(self):
        for path in ("/", "/nothing", "/metrics"):
            self.assertEqual(self.request(path=path)[0], 401)
        self.assertEqual(self.request(path="/", headers=basic("prom", "s3cret"))[0], 200)

    def test_a_verified_credential_is_not_derived_again(self):
        calls = []
        real = pe.verify_password

        def counting(password, encoded):
            calls.append(1)
            return real(password, encoded)
        pe.verify_password = counting
        self.addCleanup(setattr, pe, "verify_password", real)
        for _ in range(3):
            self.assertEqual(self.request(headers=basic("prom", "s3cret"))[0], 200)
        self.assertEqual(len(calls), 1)
        self.assertEqual(self.request(headers=basic("prom", "nope"))[0], 401)
        self.assertEqual(len(calls), 2)                   # failures are never cached

    def test_guesses_from_the_scrapers_address_never_hold_up_its_password(self):
        self.assertEqual(self.request(headers=basic("prom", "s3cret"))[0], 200)   # verified
        for _ in range(6):            # guessing from the same address (one NAT, one host)
            self.assertEqual(self.request(headers=basic("prom", "guess"))[0], 401)
        started = time.monotonic()
        self.assertEqual(self.request(headers=basic("prom", "s3cret"))[0], 200)
        self.assertLess(time.monotonic() - started, 0.2)

    def later(self):
        """A second on for the file check, not waited for; what the exporter logs."""
        import contextlib
        import io
        moved = self.auth._checked + 1.5
        self.auth.clock = lambda: moved
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            self.auth.get()
        return said.getvalue()

    def test_the_file_is_reread_when_it_changes(self):
        self.write_users("grafana:%s\n" % pe.hash_password("other", iterations=1000))
        self.assertIn("reloaded the basic-auth file", self.later())
        self.assertEqual(self.request(headers=basic("grafana", "other"))[0], 200)
        self.assertEqual(self.request(headers=basic("prom", "s3cret"))[0], 401)

    def test_a_broken_file_keeps_the_old_users(self):
        self.write_users("this line has no hash\n")
        said = self.later()
        self.assertIn("keeping the old basic-auth file", said)
        self.assertEqual(len(said.splitlines()), 1, said)
        self.assertEqual(self.request(headers=basic("prom", "s3cret"))[0], 200)

    def test_bad_files_are_refused_at_start(self):
        for text in ("", "nocolon\n", "user:plaintext\n"):
            with self.subTest(text=text):
                with open(self.file, "w") as f:
                    f.write(text)
                with self.assertRaises(ValueError):
                    pe.BasicAuth(self.file)


def run_bounded(*args, timeout=20):
    """Run the exporter with at most 512 MiB of memory, in case it reads without end."""
    def bound_memory():
        try:
            resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
        except (ValueError, OSError):     # macOS does not enforce (or take) RLIMIT_AS;
            pass                          # the timeout still bounds the run
    return subprocess.run([sys.executable, SCRIPT] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, preexec_fn=bound_memory,
                          stdin=subprocess.DEVNULL)


class HostileAuthTest(unittest.TestCase):
    """Basic auth against guessing, timing and files that could never let anyone in."""

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="exporter-auth-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.file = os.path.join(self.folder, "users")
        self.write(("prom:%s\n" % pe.hash_password("s3cret", iterations=1000)).encode())

    def write(self, data):
        with open(self.file, "wb") as f:
            f.write(data)

    def header(self, user, password):
        return basic(user, password)["Authorization"]

    def test_an_unknown_user_costs_what_a_known_one_does(self):
        self.write(("prom:%s\n" % pe.hash_password("s3cret", iterations=2345)).encode())
        auth = pe.BasicAuth(self.file)
        derived = []
        real = pe.verify_password
        pe.verify_password = lambda password, encoded: derived.append(encoded) or \
            real(password, encoded)
        self.addCleanup(setattr, pe, "verify_password", real)
        self.assertFalse(auth.authorize(self.header("prom", "wrong")))
        self.assertFalse(auth.authorize(self.header("nobody", "wrong")))
        known, unknown = derived

        def shape(encoded):     # scheme, cost, and the lengths of salt and digest
            parts = encoded.split("$")
            return parts[:-2] + [len(parts[-2]), len(parts[-1])]
        self.assertEqual(shape(unknown), shape(known))
        self.assertNotEqual(unknown, known)

    def slow_guesses(self):
        """verify_password made to hang on the password "guess" until released."""
        inside, release = threading.Event(), threading.Event()
        real = pe.verify_password

        def slow_for_guesses(password, encoded):
            if password == "guess":
                inside.set()
                release.wait(10)
            return real(password, encoded)
        pe.verify_password = slow_for_guesses
        self.addCleanup(setattr, pe, "verify_password", real)
        self.addCleanup(release.set)
        return inside, release

    def test_guessing_never_delays_a_verified_password_from_any_address(self):
        auth = pe.BasicAuth(self.file)
        self.assertTrue(auth.authorize(self.header("prom", "s3cret")))      # verified once
        inside, release = self.slow_guesses()
        guesses = [threading.Thread(target=auth.authorize,
                                    args=(self.header("prom", "guess"),)) for _ in range(3)]
        for thread in guesses:
            thread.start()
        self.assertTrue(inside.wait(10))          # one derives, two wait for the lane
        started = time.monotonic()
        self.assertTrue(auth.authorize(self.header("prom", "s3cret")))
        self.assertLess(time.monotonic() - started, 0.1)
        release.set()
        for thread in guesses:
            thread.join(20)

    def test_an_attempt_waiting_for_the_lane_lets_go_when_dropped(self):
        auth = pe.BasicAuth(self.file)
        inside, release = self.slow_guesses()
        first = threading.Thread(target=auth.authorize, args=(self.header("prom", "guess"),))
        first.start()
        self.assertTrue(inside.wait(10))
        dropped = threading.Event()
        results = []
        waiting = threading.Thread(target=lambda: results.append(
            auth.authorize(self.header("prom", "other"), dropped)))
        waiting.start()
        time.sleep(0.1)
        started = time.monotonic()
        dropped.set()                                 # its connection was closed for room
        waiting.join(2)
        self.assertLess(time.monotonic() - started, 0.5)
        self.assertEqual(results, [False])
        release.set()
        first.join(20)

    def test_lines_that_could_never_log_in_are_refused_naming_file_and_line(self):
        good = pe.hash_password("pw", iterations=1000)
        cases = {
            "byte-order mark": (b"\xef\xbb\xbfprom:" + good.encode() + b"\n", 1),
            "empty user": (b"# users\n:" + good.encode() + b"\n", 2),
            "colon in user": (b"a:b:" + good.encode() + b"\n", 1),
            "space in user": (b"bob smith:" + good.encode() + b"\n", 1),
            "malformed iterations": (b"prom:pbkdf2-sha256$many$c2FsdA==$aGFzaA==\n", 1),
            "empty salt": (b"prom:pbkdf2-sha256$1000$$aGFzaA==\n", 1),
            "bad base64": (b"prom:pbkdf2-sha256$1000$!!$aGFzaA==\n", 1),
            "scrypt with N not a power of two": (b"prom:scrypt$1000$8$1$c2FsdA==$aGFzaA==\n", 1),
            "duplicate user": (("prom:%s\n\nprom:%s\n" % (good, good)).encode(), 3),
            "not UTF-8": (b"prom:" + good.encode() + b"\n\xff\xfe:x\n", 2),
        }
        for name, (data, line) in cases.items():
            with self.subTest(name):
                self.write(data)
                with self.assertRaises(ValueError) as caught:
                    pe.BasicAuth(self.file)
                message = str(caught.exception)
                self.assertIn("%s line %d" % (self.file, line), message)
                self.assertNotIn("\n", message)

    def test_hash_password_refuses_names_the_file_cannot_hold(self):
        for user in ("", "a:b", "#admin", "bob smith", " prom", "prom\t", "\udcff"):
            with self.subTest(user=user):
                stderr, sys.stderr = sys.stderr, io.StringIO()
                try:
                    with self.assertRaises(SystemExit) as caught:
                        pe.parse_args(["--hash-password=" + user])
                finally:
                    said, sys.stderr = sys.stderr.getvalue(), stderr
                self.assertEqual(caught.exception.code, 2)
                self.assertEqual(len(said.splitlines()), 1, said)

    def test_a_broken_file_is_logged_once_per_change_not_every_second(self):
        auth = pe.BasicAuth(self.file)
        stderr, sys.stderr = sys.stderr, io.StringIO()
        try:
            for text in (b"broken\n", None, None, b"still broken!\n", None):
                if text is not None:
                    self.write(text)
                    os.utime(self.file, ns=(time.time_ns(), time.time_ns() + 10 ** 9))
                auth._checked -= 2                  # as if a second had passed
                self.assertIn("prom", auth.get())  # the old users stay
            os.remove(self.file)
            for _ in range(3):
                auth._checked -= 2
                auth.get()
        finally:
            said, sys.stderr = sys.stderr.getvalue(), stderr
        lines = said.splitlines()
        self.assertEqual(len(lines), 3, said)
        self.assertIn("line 1: not user:hash", lines[0])
        self.assertIn("No such file", lines[2])

    def test_a_fifo_or_a_device_as_the_file_is_one_line_and_exit_2(self):
        fifo = os.path.join(self.folder, "fifo")
        os.mkfifo(fifo)
        for path in (fifo, "/dev/zero"):
            with self.subTest(path=path):
                done = run_bounded("--web.basic-auth-file=" + path)
                self.assertEqual(done.returncode, 2)
                lines = done.stderr.decode().splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertIn(path, lines[0])


class TLSTest(unittest.TestCase, ServerFixture, ExpositionChecks):

    @classmethod
    def setUpClass(cls):
        cls.certs = Certificates()

    @classmethod
    def tearDownClass(cls):
        cls.certs.cleanup()

    def test_https_scrape(self):
        tls = pe.TLSFiles(self.certs.server_cert, self.certs.server_key)
        self.start_server(tls=tls)
        status, headers, body, _ = https_request(self.port, self.certs.client_context())
        self.assertEqual(status, 200)
        self.assertValidExposition(body.decode())

    def test_tls_1_1_is_refused(self):
        import ssl
        self.start_server(tls=pe.TLSFiles(self.certs.server_cert, self.certs.server_key))
        old = self.certs.client_context()
        try:
            with warnings.catch_warnings():       # 3.10+ deprecates naming TLS 1.1
                warnings.simplefilter("ignore", DeprecationWarning)
                old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError):
            self.skipTest("this OpenSSL cannot even offer TLS 1.1")
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            https_request(self.port, old)

    def test_plain_http_to_the_tls_port_fails_cleanly(self):
        self.start_server(tls=pe.TLSFiles(self.certs.server_cert, self.certs.server_key))
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            status, _, _ = self.request()
            if status:
                raise ConnectionError("answered plain HTTP with %d" % status)
        self.assertEqual(https_request(self.port, self.certs.client_context())[0], 200)

    def test_mutual_tls_refuses_a_client_without_a_certificate(self):
        import ssl
        tls = pe.TLSFiles(self.certs.server_cert, self.certs.server_key, self.certs.ca)
        self.start_server(tls=tls)
        with self.assertRaises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            https_request(self.port, self.certs.client_context(with_certificate=False))
        status = https_request(self.port, self.certs.client_context(with_certificate=True))[0]
        self.assertEqual(status, 200)

    def test_certificates_are_reread_when_they_change(self):
        cert, key = os.path.join(self.certs.folder, "live.crt"), \
            os.path.join(self.certs.folder, "live.key")
        shutil.copy(self.certs.server_cert, cert)
        shutil.copy(self.certs.server_key, key)
        import contextlib
        import io
        tls = pe.TLSFiles(cert, key)
        self.start_server(tls=tls)
        context = self.certs.client_context()
        first = https_request(self.port, context)[3]
        new_cert, new_key = self.certs.issue("renewed", "serverAuth")
        for source, target in ((new_key, key), (new_cert, cert)):
            shutil.copy(source, target + ".tmp")
            os.replace(target + ".tmp", target)
        moved = tls._checked + 1.5              # the once-a-second check, not waited for
        tls.clock = lambda: moved
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            tls.get()
        self.assertIn("reloaded the TLS certificates", said.getvalue())
        self.assertNotEqual(https_request(self.port, context)[3], first)
        with open(new_cert) as f:
            import ssl
            self.assertEqual(https_request(self.port, context)[3],
                             ssl.PEM_cert_to_DER_cert(f.read()))

    def test_tls_and_basic_auth_together(self):
        users = users_file(self, "pw")
        self.start_server(tls=pe.TLSFiles(self.certs.server_cert, self.certs.server_key),
                          auth=pe.BasicAuth(users))
        context = self.certs.client_context()
        self.assertEqual(https_request(self.port, context)[0], 401)
        self.assertEqual(https_request(self.port, context, headers=basic("prom", "pw"))[0],
                         200)


class WebConfigTest(unittest.TestCase, ServerFixture):
    """--web.config.file: exporter-toolkit's file, TLS, bcrypt users and headers."""

    @classmethod
    def setUpClass(cls):
        cls.certs = Certificates()

    @classmethod
    def tearDownClass(cls):
        cls.certs.cleanup()

    def bcrypt(self, password):
        crypt = pe.system_bcrypt()
        need(crypt, "this system's crypt(3) has no bcrypt")
        return crypt(password.encode(), b"$2y$04$" + b"abcdefghijklmnopqrstuv").decode()

    def write(self, text):
        folder = tempfile.mkdtemp(prefix="web-config-", dir=self.certs.folder)
        path = os.path.join(folder, "web-config.yml")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def config(self, users=None, extra=""):
        users = users or {"prom": self.bcrypt("s3cret")}
        return ("tls_server_config:\n  cert_file: ../server.crt\n  key_file: ../server.key\n"
                "http_server_config:\n  http2: false\n  headers:\n"
                "    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=60\n"
                "basic_auth_users:\n" + "".join("  %s: %s\n" % item for item in users.items())
                + extra)

    def serve(self, path):
        args = pe.parse_args(["--web.config.file", path])
        tls, auth, headers = pe.load_security(args)
        self.start_server(tls=tls, auth=auth, headers=headers)
        return tls, auth

    def statuses(self, port):
        """(status, X-Frame-Options) with the right password, a wrong one and none."""
        answers = []
        for headers in (basic("prom", "s3cret"), basic("prom", "wrong"), {}):
            status, got, _, _ = https_request(port, self.certs.client_context(), "/metrics",
                                              headers)
            answers.append((status, got.get("X-Frame-Options")))
        return answers

    def test_tls_and_a_bcrypt_user_as_node_exporter_has_them(self):
        path = self.write(self.config())
        self.serve(path)
        self.assertEqual(self.statuses(self.port), [(200, "deny"), (401, "deny"),
                                                    (401, "deny")])

    def test_the_same_answers_as_the_reference_exporter(self):
        reference = shutil.which("prometheus-process-exporter")
        need(reference, "the reference exporter is not installed (Debian package "
                        "prometheus-process-exporter)")
        path = self.write(self.config())
        config = os.path.join(os.path.dirname(path), "reference.yml")
        with open(config, "w") as f:
            f.write("process_names:\n  - comm: [nothing-at-all]\n")
        port = free_port()
        proc = subprocess.Popen([reference, "-config.path", config, "-web.config.file", path,
                                 "-web.listen-address", "127.0.0.1:%d" % port],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(stop_process, proc)
        self.serve(path)
        deadline = time.monotonic() + 10
        while True:
            try:
                theirs = self.statuses(port)
                break
            except OSError:
                self.assertLess(time.monotonic(), deadline, "the reference did not answer")
                time.sleep(0.05)
        self.assertEqual(self.statuses(self.port), theirs)

    def test_our_own_hashes_and_a_change_to_the_users(self):
        path = self.write(self.config({"prom": pe.hash_password("s3cret", iterations=1000)}))
        _, auth = self.serve(path)
        self.assertEqual([status for status, _ in self.statuses(self.port)], [200, 401, 401])
        with open(path, "w") as f:
            f.write(self.config({"prom": self.bcrypt("other")}))
        auth.web.clock = lambda: time.monotonic() + 5          # a second on: read again
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(https_request(self.port, self.certs.client_context(),
                                           headers=basic("prom", "other"))[0], 200)
        self.assertEqual(https_request(self.port, self.certs.client_context(),
                                       headers=basic("prom", "s3cret"))[0], 401)

    def test_client_certificates_and_their_allowed_names(self):
        import ssl
        tls = ("  client_ca_file: ../ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n"
               "  client_allowed_sans: [%s]\n")
        for allowed, passes in (("localhost", True), ("someone-else", False)):
            with self.subTest(allowed=allowed):
                path = self.write(self.config().replace(
                    "http_server_config:", tls % allowed + "http_server_config:"))
                self.serve(path)
                context = self.certs.client_context(with_certificate=True)
                if passes:
                    self.assertEqual(https_request(self.port, context, headers=basic(
                        "prom", "s3cret"))[0], 200)
                else:
                    with self.assertRaises((ssl.SSLError, ConnectionError,
                                            http.client.HTTPException)):
                        https_request(self.port, context, headers=basic("prom", "s3cret"))
                with self.assertRaises((ssl.SSLError, ConnectionError,
                                        http.client.HTTPException)):
                    https_request(self.port, self.certs.client_context(), headers=basic(
                        "prom", "s3cret"))                         # no certificate at all

    def test_what_cannot_work_is_one_line_and_exit_2(self):
        cases = (
            ("tls_server_config:\n  cert_fil: x\n", "unknown key 'cert_fil'"),
            ("basic_auth_user:\n  a: b\n", "unknown key 'basic_auth_user'"),
            ("basic_auth_users:\n  prom: plaintext\n", "make one with --hash-password"),
            (self.config().replace("http2: false", "http2: false\n  headers2: x"),
             "unknown key 'headers2'"),
            (self.config().replace("deny", "DENY"), "X-Frame-Options"),
            (self.config().replace("X-Frame-Options", "X-Custom"), "cannot be set"),
            (self.config(extra="tls_server_config:\n  x: 1\n"), "duplicate key"),
            ("tls_server_config:\n  cert_file: ../server.crt\n", "missing key_file"),
            ("tls_server_config:\n  cert: |\n    x\n", "block scalars"),
            ("tls_server_config:\n  cert: abc\n  key: def\n", "inline"),
            (self.config().replace("key_file: ../server.key", "key_file: ../server.key\n"
                                   "  client_auth_type: RequireAnyClientCert"),
             "RequireAnyClientCert cannot be kept"),
            (self.config().replace("key_file: ../server.key", "key_file: ../server.key\n"
                                   "  client_ca_file: ../ca.crt"), "go together"),
            (self.config().replace("key_file: ../server.key", "key_file: ../server.key\n"
                                   "  min_version: TLS14"), "TLS10 to TLS13"),
            ("just text\n", "not a mapping"))
        for text, says in cases:
            with self.subTest(says=says):
                path = self.write(text)
                with contextlib.redirect_stderr(io.StringIO()) as said:
                    code = pe.main(["--web.config.file", path])
                self.assertEqual(code, 2, said.getvalue())
                self.assertEqual(len(said.getvalue().splitlines()), 1, said.getvalue())
                self.assertIn(says, said.getvalue())
        both = one_line_exit(self, ["--web.config.file", "x", "--web.basic-auth-file", "y"])
        self.assertIn("not both", both)

    def test_bcrypt_where_crypt_cannot_is_refused_naming_hash_password(self):
        path = self.write("basic_auth_users:\n  prom: %s\n" % (
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"))
        saved = list(pe._crypt)
        pe._crypt[:] = [None]             # as on a Mac: Apple's crypt(3) knows only DES
        self.addCleanup(lambda: pe._crypt.__setitem__(slice(None), saved))
        with contextlib.redirect_stderr(io.StringIO()) as said:
            self.assertEqual(pe.main(["--web.config.file", path]), 2)
        self.assertIn("cannot check bcrypt", said.getvalue())
        self.assertIn("--hash-password", said.getvalue())


class TLSFilesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.certificates = Certificates()

    @classmethod
    def tearDownClass(cls):
        cls.certificates.cleanup()

    def test_a_key_with_a_pass_phrase_is_refused_not_prompted_for(self):
        locked = self.certificates.path("locked.key")
        self.certificates.run("pkey", "-in", self.certificates.server_key, "-out", locked,
                              "-aes256", "-passout", "pass:secret")
        called = []
        real = pe.no_pass_phrase

        def recording():
            called.append(1)
            return real()
        pe.no_pass_phrase = recording
        self.addCleanup(setattr, pe, "no_pass_phrase", real)
        with self.assertRaises(ValueError) as caught:
            pe.TLSFiles(self.certificates.server_cert, locked)
        self.assertEqual(called, [1])          # OpenSSL asked us, not the terminal
        self.assertIn("--web.tls-key-file %s is protected by a pass phrase" % locked,
                      str(caught.exception))
        # The same when a running exporter's key is replaced by a locked one.
        live = self.certificates.path("live.key")
        shutil.copy(self.certificates.server_key, live)
        files = pe.TLSFiles(self.certificates.server_cert, live)
        context = files.current
        said = io.StringIO()
        for later, (command, key, *legacy) in enumerate(
                (("pkey", self.certificates.server_key),
                 ("rsa", self.certificates.path("rsa.key"), "-traditional")), 1):
            self.certificates.run(command, "-in", key, "-out", live, "-aes256",
                                  "-passout", "pass:secret", *legacy)
            files.clock = lambda later=later: time.monotonic() + 10 * later
            with contextlib.redirect_stderr(said):
                self.assertIs(files.get(), context)            # the old one kept
            self.assertEqual(len(called), 1 + later)           # asked us, not the terminal
        self.assertEqual(said.getvalue().count("is protected by a pass phrase"), 1)

    def test_errors_name_the_flag_and_the_file(self):
        folder = self.certificates.folder
        junk = os.path.join(folder, "junk.pem")
        with open(junk, "w") as f:
            f.write("not a certificate\n")
        fifo = os.path.join(folder, "fifo")
        if not os.path.exists(fifo):
            os.mkfifo(fifo)
        cert, key = self.certificates.server_cert, self.certificates.server_key
        cases = (((junk, key, None), "--web.tls-cert-file %s with --web.tls-key-file" % junk),
                 ((cert, "/nonexistent", None), "--web.tls-key-file /nonexistent"),
                 ((cert, key, junk), "--web.tls-client-ca-file %s" % junk),
                 ((fifo, key, None), "--web.tls-cert-file: %s is not a regular file" % fifo),
                 ((cert, "/dev/zero", None), "--web.tls-key-file: /dev/zero is not"))
        for files, expected in cases:
            with self.subTest(files=files):
                with self.assertRaises(ValueError) as caught:
                    pe.TLSFiles(*files)
                self.assertIn(expected, str(caught.exception))


class SecurityCommandLineTest(unittest.TestCase):

    def test_hash_password_from_standard_input(self):
        result = subprocess.run([sys.executable, SCRIPT, "--hash-password=alice"],
                                input=b"pass word\n", stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        user, _, encoded = result.stdout.decode().strip().partition(":")
        self.assertEqual(user, "alice")
        self.assertTrue(pe.verify_password("pass word", encoded))
        self.assertFalse(pe.verify_password("password", encoded))
        default = subprocess.run([sys.executable, SCRIPT, "--hash-password"], input=b"x\n",
                                 stdout=subprocess.PIPE, timeout=60)
        self.assertTrue(default.stdout.startswith(b"prometheus:pbkdf2-sha256$"))
        empty = subprocess.run([sys.executable, SCRIPT, "--hash-password"], input=b"\n",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual((empty.returncode, empty.stdout), (1, b""))

    def test_hash_password_never_loses_the_hash_silently_nor_prints_a_traceback(self):
        real_hash, real_in, real_out = pe.hash_password, sys.stdin, sys.stdout
        pe.hash_password = lambda password: "pbkdf2-sha256$1$c2FsdA==$aGFzaA=="
        self.addCleanup(setattr, pe, "hash_password", real_hash)
        self.addCleanup(setattr, sys, "stdin", real_in)
        self.addCleanup(setattr, sys, "stdout", real_out)

        class Full(io.BytesIO):
            def write(self, data):
                raise OSError(errno.ENOSPC, "No space left on device")
        closed = io.TextIOWrapper(io.BytesIO())
        closed.close()
        for name, stdin, stdout in (
                ("stdin closed", None, io.TextIOWrapper(io.BytesIO())),
                ("stdin not UTF-8", io.TextIOWrapper(io.BytesIO(b"\xff\xfe\n")), None),
                ("stdout closed", io.TextIOWrapper(io.BytesIO(b"pw\n")), closed),
                ("stdout full", io.TextIOWrapper(io.BytesIO(b"pw\n")),
                 io.TextIOWrapper(Full()))):
            with self.subTest(name):
                sys.stdin, sys.stdout = stdin, stdout
                with contextlib.redirect_stderr(io.StringIO()) as said:
                    code = pe.main(["--hash-password=alice"])
                sys.stdin, sys.stdout = real_in, real_out
                self.assertEqual(code, 1)
                self.assertEqual(len(said.getvalue().splitlines()), 1, said.getvalue())

    def test_bad_tls_flags_and_files(self):
        folder = tempfile.mkdtemp(prefix="exporter-bad-tls-")
        self.addCleanup(shutil.rmtree, folder, True)
        junk = os.path.join(folder, "junk.pem")
        with open(junk, "w") as f:
            f.write("not a certificate\n")
        for args in (["--web.tls-cert-file", junk],
                     ["--web.tls-client-ca-file", junk],
                     ["--web.tls-cert-file", junk, "--web.tls-key-file", junk],
                     ["--web.tls-cert-file", "/nonexistent", "--web.tls-key-file", junk],
                     ["--web.basic-auth-file", "/nonexistent"]):
            with self.subTest(args=args):
                result = run_script(*args)
                self.assertEqual(result.returncode, 2)
                self.assertNotIn(b"Traceback", result.stderr)
                self.assertEqual(len(result.stderr.decode().strip().splitlines()), 1,
                                 result.stderr)

    @unittest.skipUnless(IS_LINUX, "runs the exporter on real processes")
    def test_start_up_warnings(self):
        users = users_file(self, "pw", prefix="exporter-warn-")
        os.chmod(users, 0o644)
        proc, _ = start_script("--web.basic-auth-file", users)
        stop_process(proc)
        self.assertIn("world-readable", "".join(proc.early_stderr))
        proc, _ = start_script("--web.listen-address=0.0.0.0:0")
        stop_process(proc)
        warning = [line for line in proc.early_stderr if "beyond loopback" in line]
        self.assertEqual(len(warning), 1)
        os.chmod(users, 0o600)
        proc, _ = start_script("--web.listen-address=0.0.0.0:0", "--web.basic-auth-file", users)
        stop_process(proc)
        self.assertFalse([line for line in proc.early_stderr if "warning" in line])


# ---------------------------------------------------------------------------
# HTTP: routing, keep-alive, and clients slow, idle, greedy or hostile
# ---------------------------------------------------------------------------

def socketless_server(reader=None, **options):
    """What a MetricsServer holds, without a socket: all its handler reads."""
    import types
    return types.SimpleNamespace(**pe.server_settings(pe.Exporter(reader or StaticReader()),
                                                      **options))


def exchange(server, data, address="127.0.0.1"):
    """Every byte the handler writes for the request bytes `data`, with no socket,
    as CPython's test_httpservers does with its SocketlessRequestHandler."""
    import io
    handler_class = pe.http_classes()[0]
    handler = handler_class.__new__(handler_class)
    handler.server, handler.client_address, handler.request = server, (address, 40000), None
    handler.rfile, handler.wfile = io.BytesIO(data), io.BytesIO()
    handler.deadline = pe.Deadline(float("inf"))
    handler.handle()
    return handler.wfile.getvalue()


def statuses(reply):
    return [int(code) for code in re.findall(rb"^HTTP/1\.[01] (\d{3}) ", reply, re.M)]


@in_fast_tier
class SocketlessHTTPTest(unittest.TestCase, ExpositionChecks):

    def setUp(self):
        self.server = socketless_server()

    def test_routes(self):
        cases = {
            b"GET /metrics HTTP/1.1\r\n\r\n": 200,
            b"GET /metrics?x=1 HTTP/1.1\r\n\r\n": 200,
            b"GET / HTTP/1.1\r\n\r\n": 200,
            b"GET /other HTTP/1.1\r\n\r\n": 404,
            b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n": 405,
            b"DELETE / HTTP/1.1\r\n\r\n": 405,
            b"GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n": 400,
            b"GET\r\n\r\n": 400,
        }
        for request, status in cases.items():
            with self.subTest(request=request):
                self.assertEqual(statuses(exchange(self.server, request)), [status])

    def test_metrics_body_and_headers(self):
        reply = exchange(self.server, b"GET /metrics HTTP/1.1\r\n\r\n")
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertIn(b"\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n", head)
        self.assertIn(b"\r\nContent-Length: %d" % len(body), head)
        self.assertNotIn(b"Python", head)
        parse_exposition(body.decode())

    def test_the_landing_page_says_what_a_person_checks_first(self):
        folder = tempfile.mkdtemp(prefix="exporter-auth-")
        self.addCleanup(shutil.rmtree, folder, True)
        users = os.path.join(folder, "users")
        encoded = pe.hash_password("s3cret", iterations=1000)
        with open(users, "w") as f:
            f.write("prom:%s\n" % encoded)
        server = socketless_server(auth=pe.BasicAuth(users),
                                   flags=["--web.basic-auth-file=" + users, "--top=5"])
        authorized = b"Authorization: Basic %s\r\n" % base64.b64encode(b"prom:s3cret")
        before = exchange(server, b"GET / HTTP/1.1\r\n" + authorized + b"\r\n")
        self.assertIn(b"Last scrape</th><td>none yet", before)
        server.exporter.scrape()
        page = exchange(server, b"GET / HTTP/1.1\r\n" + authorized + b"\r\n").decode()
        self.assertIn("<title>Process exporter</title>", page)
        self.assertIn(pe.__version__, page)
        self.assertIn(sys.platform, page)
        self.assertIn("uid %d" % os.geteuid() if os.geteuid() else "root", page)
        self.assertRegex(page, r"3 processes, read and rendered in [0-9.]+ ms")
        self.assertIn("--top=5", page)
        self.assertIn('<a href="/metrics">/metrics</a>', page)
        self.assertIn("#what-it-needs-to-see-every-process", page)
        self.assertNotIn(encoded.split("$")[-1], page)      # never the hash, nor any of it
        self.assertNotIn("s3cret", page)
        with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
            headings = {re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower())
                        .replace(" ", "-") for line in f if line.startswith("#")}
        for _, anchor in pe.README_SECTIONS:
            self.assertIn(anchor, headings)                 # the links lead somewhere

    def quietly(self, data):
        """The reply to data, and what the exporter logged meanwhile."""
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            reply = exchange(self.server, data)
        return reply, said.getvalue()

    def test_a_head_past_16_kib_is_431_without_reading_on(self):
        huge = b"GET /metrics HTTP/1.1\r\n" + (b"X-A: " + b"b" * 65000 + b"\r\n") * 100
        stream = io.BytesIO(huge + b"\r\n")
        self.assertRaises(pe.HeadTooLarge, pe.read_head, stream)
        self.assertLessEqual(stream.tell(), pe.MAX_HEAD_BYTES + 1)   # the rest never read
        reply, said = self.quietly(huge + b"\r\n")
        self.assertEqual(statuses(reply), [431])
        self.assertEqual(said, "")
        fits = b"GET /metrics HTTP/1.1\r\n" + b"Cookie: " + b"c" * 12000 + b"\r\n\r\n"
        self.assertEqual(statuses(self.quietly(fits)[0]), [200])

    def test_content_length_is_ascii_digits_and_one_value(self):
        follow = b"GET /smuggled HTTP/1.1\r\n\r\n"
        for length in ("\u0661\u0662".encode(), b"+5", b"5" * 5000, b"-1", b"0x10", b"1 2"):
            with self.subTest(length=length[:20]):
                reply, said = self.quietly(b"GET /metrics HTTP/1.1\r\nContent-Length: "
                                           + length + b"\r\n\r\n" + follow)
                self.assertEqual(statuses(reply), [400])     # and nothing more read
                self.assertEqual(said, "")
        two = b"GET /metrics HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: %d\r\n\r\n"
        self.assertEqual(statuses(self.quietly(two % len(follow) + follow)[0]), [400])
        same = b"GET /metrics HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
        self.assertEqual(statuses(self.quietly(same + b"GET / HTTP/1.1\r\n\r\n")[0]),
                         [200, 200])

    def test_absolute_form_and_leading_empty_lines_are_served(self):
        for request in (b"GET http://127.0.0.1:9256/metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                        b"GET HTTPS://exporter.example/metrics?x=1 HTTP/1.1\r\n\r\n",
                        b"\r\nGET /metrics HTTP/1.1\r\n\r\n",
                        b"\r\n\r\n\nGET /metrics HTTP/1.1\r\n\r\n"):
            with self.subTest(request=request):
                reply = exchange(self.server, request)
                self.assertEqual(statuses(reply), [200])
                self.assertIn(b"process_exporter_build_info", reply)
        self.assertEqual(statuses(exchange(self.server, b"GET http://x HTTP/1.1\r\n\r\n")),
                         [200])                                          # the landing page

    def test_405_says_what_is_allowed(self):
        reply = exchange(self.server, b"PUT /metrics HTTP/1.1\r\n\r\n")
        self.assertIn(b"\r\nAllow: GET, HEAD\r\n", reply)

    def test_keep_alive_answers_each_request(self):
        reply = exchange(self.server, b"GET / HTTP/1.1\r\n\r\n" * 2
                         + b"GET /x HTTP/1.1\r\n\r\n")
        self.assertEqual(statuses(reply), [200, 200, 404])

    def test_401_without_the_right_credentials(self):
        path = users_file(self, "s3cret")
        server = socketless_server(auth=pe.BasicAuth(path))
        reply = exchange(server, b"GET / HTTP/1.1\r\n\r\n")
        self.assertEqual(statuses(reply), [401])
        self.assertIn(b'WWW-Authenticate: Basic realm="process_exporter"', reply)
        good = b"GET /metrics HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n" % \
            base64.b64encode(b"prom:s3cret")
        self.assertEqual(statuses(exchange(server, good, "10.0.0.2")), [200])

    def test_503_when_every_request_slot_is_taken(self):
        server = socketless_server(max_requests=1)
        server.request_slots.acquire()
        self.assertEqual(statuses(exchange(server, b"GET /metrics HTTP/1.1\r\n\r\n")), [503])


class HTTPTest(unittest.TestCase, ServerFixture, ExpositionChecks):

    def setUp(self):
        self.start_server()

    def test_metrics(self):
        status, headers, body = self.request()
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(int(headers["Content-Length"]), len(body))
        self.assertNotIn("Content-Encoding", headers)
        families = self.assertValidExposition(body.decode("utf-8"))
        self.assertEqual(samples_of(families, "process_resident_memory_bytes", pid=1), [1024])

    def test_gzip_when_accepted(self):
        status, headers, body = self.request(headers={"Accept-Encoding": "gzip"})
        self.assertEqual((status, headers["Content-Encoding"]), (200, "gzip"))
        text = gzip.decompress(body).decode("utf-8")
        self.assertValidExposition(text)
        _, _, plain = self.request()
        self.assertEqual(parse_exposition(text).keys(), parse_exposition(plain.decode()).keys())

    def test_accept_encoding_parsing(self):
        self.assertTrue(pe.accepts_gzip("gzip"))
        self.assertTrue(pe.accepts_gzip("identity, GZIP;q=0.5"))
        self.assertFalse(pe.accepts_gzip("gzip;q=0"))
        self.assertFalse(pe.accepts_gzip("gzip; q=0.000"))
        self.assertFalse(pe.accepts_gzip("br, deflate"))
        self.assertFalse(pe.accepts_gzip(None))
        self.assertFalse(pe.accepts_gzip("gzip;q=nonsense"))

    def test_head(self):
        status, headers, body = self.request("HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertGreater(int(headers["Content-Length"]), 0)

    def test_landing_page_links_metrics(self):
        status, headers, body = self.request(path="/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn(b'href="/metrics"', body)

    def test_query_string_is_ignored(self):
        self.assertEqual(self.request(path="/metrics?foo=bar")[0], 200)

    def test_other_paths_404(self):
        for path in ("/metric", "/metrics/", "/favicon.ico", "/../etc/passwd"):
            with self.subTest(path=path):
                self.assertEqual(self.request(path=path)[0], 404)

    def test_other_methods_405(self):
        for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"):
            with self.subTest(method=method):
                status, headers, _ = self.request(method)
                self.assertEqual(status, 405)
                self.assertEqual(headers["Allow"], "GET, HEAD")

    def test_malformed_request_400_and_server_carries_on(self):
        reply = self.raw(b"GARBAGE\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 400") or reply.startswith(b"HTTP/1.0 400"),
                        reply[:40])
        self.assertEqual(self.request()[0], 200)

    def test_keep_alive_serves_several_requests(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(conn.close)
        for _ in range(3):
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            self.assertEqual(response.status, 200)
            parse_exposition(response.read().decode())

    def test_concurrent_scrapes(self):
        results = []

        def scrape():
            results.append(self.request())
        threads = [threading.Thread(target=scrape) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(len(results), 20)
        bodies = {body for status, _, body in results if status == 200}
        self.assertEqual(len([r for r in results if r[0] == 200]), 20)
        families = [tuple(parse_exposition(body.decode())) for body in bodies]
        self.assertEqual(len(set(families)), 1)

    def test_client_hanging_up_mid_response(self):
        for _ in range(5):
            self.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", read=False)
        status, _, body = self.request()
        self.assertEqual(status, 200)
        parse_exposition(body.decode())


class HTTPFailureTest(unittest.TestCase, ServerFixture):

    def test_reader_failure_is_500_and_the_server_lives(self):
        reader = StaticReader(fail=True)
        self.start_server(reader)
        stderr = sys.stderr
        sys.stderr = open(os.devnull, "w")
        try:
            self.assertEqual(self.request()[0], 500)
        finally:
            sys.stderr.close()
            sys.stderr = stderr
        reader.fail = False
        self.assertEqual(self.request()[0], 200)

    def test_custom_telemetry_path(self):
        self.start_server(telemetry_path="/probe")
        self.assertEqual(self.request(path="/probe")[0], 200)
        self.assertEqual(self.request(path="/metrics")[0], 404)
        self.assertIn(b'href="/probe"', self.request(path="/")[2])


@in_fast_tier
class ListenAddressTest(unittest.TestCase):

    def test_parse(self):
        self.assertEqual(pe.parse_listen_address("127.0.0.1:9256"), ("127.0.0.1", 9256))
        self.assertEqual(pe.parse_listen_address(":9256"), ("", 9256))
        self.assertEqual(pe.parse_listen_address("[::1]:9256"), ("::1", 9256))
        self.assertEqual(pe.parse_listen_address("localhost:80"), ("localhost", 80))
        for bad in ("9256", "host:", "host:port", ":70000", "::1:9256", "[::1:9256"):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    pe.parse_listen_address(bad)

    def test_a_telemetry_path_no_request_can_reach_is_refused(self):
        for path in ("/a%zz", "/a%4", "/metrics/../x", "/./metrics", "//metrics",
                     "/metrics/.", "/" + "m" * 2000):
            with self.subTest(path=path[:40]):
                self.assertRaises(ValueError, pe.checked_telemetry_path, path)
        for path in ("/metrics", "/a%20b", "/probe/metrics", "/m:9256"):
            self.assertEqual(pe.checked_telemetry_path(path), path)

    @not_in_fast_tier
    def test_every_interface_means_ipv4_and_ipv6(self):
        server = pe.make_server(pe.Exporter(StaticReader()), ":0")
        self.addCleanup(server.server_close)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        self.addCleanup(server.shutdown)
        port = server.server_address[1]
        hosts = ["127.0.0.1"] + (["::1"] if server.address_family == socket.AF_INET6 else [])
        for host in hosts:
            with self.subTest(host=host):
                conn = http.client.HTTPConnection(host, port, timeout=10)
                conn.request("GET", "/metrics")
                self.assertEqual(conn.getresponse().status, 200)
                conn.close()

    @not_in_fast_tier
    def test_ipv6_loopback(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6 here")
        try:
            server = pe.make_server(pe.Exporter(StaticReader()), "[::1]:0")
        except OSError as exc:
            self.skipTest("cannot bind ::1 here: %s" % exc)
        self.addCleanup(server.server_close)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        self.addCleanup(server.shutdown)
        conn = http.client.HTTPConnection("::1", server.server_address[1], timeout=10)
        conn.request("GET", "/metrics")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()


class AbuseTest(unittest.TestCase, ServerFixture, ExpositionChecks):

    def setUp(self):
        # A short read timeout: a connection left open after garbage is let go soon.
        self.start_server(read_timeout=0.15)

    def assertScrapeWorks(self):
        status, _, body = self.request()
        self.assertEqual(status, 200)
        parse_exposition(body.decode())

    def assertRefused(self, reply):
        """An error status, or a connection closed with nothing said."""
        if reply:
            status = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
            self.assertTrue(status, reply[:80])
            self.assertGreaterEqual(int(status.group(1)), 400, reply[:80])

    def test_garbage_on_the_socket(self):
        import random
        rng = random.Random(1234)
        garbage = {
            "random bytes": bytes(rng.randrange(256) for _ in range(4096)),
            "random line": bytes(rng.randrange(256) for _ in range(200)) + b"\r\n\r\n",
            "HTTP/0.9 line": b"GET /metrics\r\n\r\n",
            "64 KiB request line": b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\n\r\n",
            "1000 headers": b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 1000 + b"\r\n",
            "header without colon": b"GET /metrics HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
            "non-ASCII path": "GET /m\u00e9trics\u2603 HTTP/1.1\r\n\r\n".encode("utf-8"),
            "dot-dot path": b"GET /../../etc/passwd HTTP/1.1\r\n\r\n",
            "dot-dot metrics": b"GET /x/../metrics HTTP/1.1\r\n\r\n",
            "bad version": b"GET /metrics HTTP/9.9\r\n\r\n",
            "NUL bytes": b"GET /\x00metrics HTTP/1.1\r\n\r\n",
            "unfinished request": b"GET /metrics HTTP/1.1\r\nHost: x\r\n",
        }
        for name, data in garbage.items():
            with self.subTest(name):
                if name == "HTTP/0.9 line":
                    reply = self.raw(data)          # answered (a GET), or closed
                    self.assertTrue(reply == b"" or reply.startswith(b"HTTP/1."), reply[:80])
                else:
                    self.assertRefused(self.raw(data))
                self.assertScrapeWorks()

    def test_idle_connections_do_not_block_a_scrape_and_are_closed(self):
        idle = []
        self.addCleanup(lambda: [s.close() for s in idle])
        for _ in range(200):
            idle.append(socket.create_connection(("127.0.0.1", self.port), timeout=10))
        started = time.monotonic()
        self.assertScrapeWorks()
        self.assertLess(time.monotonic() - started, 5.0)
        # --web.read-timeout is 0.3 s here: every idle connection gets closed.
        for sock in idle[:20]:
            sock.settimeout(10)
            self.assertEqual(sock.recv(10), b"")

    def test_client_that_hangs_up_mid_response(self):
        import io
        baseline = threading.active_count()
        records = [pe.Process(pid, 1, 0, 0, "p%d" % pid, "/bin/p" * 20, 1.0, 2.0, 3.0, 4)
                   for pid in range(1, 8001)]
        self.start_server(StaticReader(records))          # a body of some MB
        captured, stderr = io.StringIO(), sys.stderr
        sys.stderr = captured
        try:
            for _ in range(4):
                with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
                    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    sock.recv(1000)
                    # close with a reset, mid-body
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            status, _, body = self.request()
            deadline = time.monotonic() + 10
            while threading.active_count() > baseline + 1 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            sys.stderr = stderr
        self.assertEqual(status, 200)
        self.assertTrue(body.endswith(b"\n"))
        self.assertEqual(body.count(b"\nprocess_resident_memory_bytes{"), 8000)
        # the second server adds its own serving thread, and nothing else stays
        self.assertLessEqual(threading.active_count(), baseline + 1)
        self.assertEqual(captured.getvalue(), "")          # no traceback, no log spam


def big_records(count=20000):
    """Enough processes for an exposition of several MB."""
    return [pe.Process(pid, 1, 0, 0, "p%d" % pid, "/bin/p" * 20, 1.0, 2.0, 3.0, 4)
            for pid in range(1, count + 1)]


def closed_within(sock, seconds, trickle=None):
    """Whether the server closed sock within `seconds`; trickle, if given, is sent a
    byte at a time every 0.1 s meanwhile, as a slow client would."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.1)
    sent = 0
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            return True
        if trickle is not None:
            try:
                sock.send(trickle[sent % len(trickle):][:1])
            except (ConnectionResetError, BrokenPipeError):
                return True
            sent += 1
    return False


class HostileClientTest(unittest.TestCase, ServerFixture):
    """Slow, idle, greedy and odd clients: each gets a bounded share, scrapes go on."""

    def scrape_status(self):
        return self.request()[0]

    def connect(self, count, first=b""):
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            if first:
                sock.sendall(first)
            socks.append(sock)
        return socks

    def test_a_trickled_request_is_cut_off_at_the_read_deadline(self):
        # Each byte comes well within the timeout; the request as a whole does not.
        self.start_server(read_timeout=0.5)
        sock, = self.connect(1)
        started = time.monotonic()
        self.assertTrue(closed_within(sock, 5.0, trickle=b"GET /metrics HTTP/1.1\r\nX: "
                                                         + b"y" * 1000))
        self.assertLess(time.monotonic() - started, 1.5)

    def test_a_slow_reader_is_cut_off_at_the_write_deadline_and_holds_no_request_slot(self):
        self.start_server(StaticReader(big_records()), max_requests=1, write_timeout=0.5)
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", self.port))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(10)
        received = len(sock.recv(1))          # its answer has begun; it reads no more
        status, _, body = self.request()
        self.assertEqual(status, 200)
        time.sleep(0.7)                       # past its write deadline
        sock.settimeout(5)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += len(chunk)
        except ConnectionResetError:
            pass
        self.assertLess(received, len(body))   # cut off, not waited for

    def test_trickling_connections_cannot_keep_a_scrape_out(self):
        # Far more slow connections than slots, each with half a request sent.
        self.start_server(read_timeout=30.0, max_connections=20)
        self.connect(60, first=b"GET /metrics HTTP/1.1\r\nX: ")
        for _ in range(3):
            started = time.monotonic()
            self.assertEqual(self.scrape_status(), 200)
            self.assertLess(time.monotonic() - started, 2.0)
        self.assertLessEqual(len(self.server.connections), 20)

    def test_a_get_with_a_body_never_has_it_read_as_the_next_request(self):
        smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        server = socketless_server()
        for framing in (b"Content-Length: %d\r\n" % len(smuggled),
                        b"Content-Length: 100000\r\n",
                        b"Transfer-Encoding: chunked\r\n"):
            with self.subTest(framing=framing):
                request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n"
                self.assertEqual(statuses(exchange(server, request + smuggled)), [200])
        # A small body is dropped and the connection serves the next request.
        follow = b"GET / HTTP/1.1\r\n\r\n"
        reply = exchange(server, b"GET /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                         + follow)
        self.assertEqual(statuses(reply), [200, 200])

    def test_no_reverse_dns_when_listening_on_every_interface(self):
        looked_up = []
        real = socket.getfqdn
        socket.getfqdn = lambda name="": looked_up.append(name) or real(name)
        self.addCleanup(setattr, socket, "getfqdn", real)
        server = pe.make_server(pe.Exporter(StaticReader()), ":0")
        server.server_close()
        self.assertEqual(looked_up, [])

    def test_a_thread_that_cannot_start_releases_its_slot(self):
        self.start_server(max_connections=4)
        real_start = threading.Thread.start
        server = self.server

        tries = []

        def failing_start(thread):          # every other one fails: a burst, on and off
            if getattr(thread, "_target", None) == server.process_request_thread:
                tries.append(1)
                if len(tries) % 2:
                    raise RuntimeError("can't start new thread")
            return real_start(thread)
        stderr, sys.stderr = sys.stderr, io.StringIO()
        threading.Thread.start = failing_start
        try:
            for attempt in range(10):
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    sock.settimeout(5)
                    if attempt % 2 == 0:
                        self.assertEqual(sock.recv(10), b"")    # let go, not left hanging
        finally:
            threading.Thread.start = real_start
            logged, sys.stderr = sys.stderr.getvalue(), stderr
        self.assertEqual(len(logged.splitlines()), 1, logged)   # said once, not per connection
        deadline = time.monotonic() + 5          # the served ones end as their clients left
        while len(self.server.connections) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(self.server.connections), 0)
        self.assertEqual(self.scrape_status(), 200)

    def test_accept_out_of_descriptors_backs_off_instead_of_spinning(self):
        self.start_server()
        calls = []
        real_socket = self.server.socket

        class Exhausted:
            def __getattr__(self, name):
                return getattr(real_socket, name)

            def accept(self):
                calls.append(time.monotonic())
                raise OSError(errno.EMFILE, "Too many open files")
        stderr, sys.stderr = sys.stderr, io.StringIO()
        self.server.socket = Exhausted()
        try:
            waiting = socket.create_connection(("127.0.0.1", self.port))  # readable from now
            self.addCleanup(waiting.close)
            time.sleep(0.5)
        finally:
            self.server.socket = real_socket
            logged, sys.stderr = sys.stderr.getvalue(), stderr
        self.assertGreater(len(calls), 0)
        self.assertLess(len(calls), 20)                  # a spinning loop makes thousands
        self.assertEqual(len(logged.splitlines()), 1, logged)
        self.assertEqual(self.scrape_status(), 200)

    def test_no_accept_while_every_connection_is_being_answered(self):
        self.start_server(SlowReader(delay=0.6), max_connections=2)
        busy = self.connect(2, first=b"GET /metrics HTTP/1.1\r\n\r\n")   # both answered
        time.sleep(0.2)
        calls = []
        real_socket = self.server.socket

        class Counting:
            def __getattr__(self, name):
                return getattr(real_socket, name)

            def accept(self):
                calls.append(1)
                return real_socket.accept()
        self.server.socket = Counting()
        self.addCleanup(setattr, self.server, "socket", real_socket)
        started = time.monotonic()
        flood = []
        while time.monotonic() - started < 0.3 and len(flood) < 500:    # all it can
            flood.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
        accepted = len(calls)                         # while both are still answered
        self.addCleanup(lambda: [sock.close() for sock in flood])
        self.assertLess(accepted, 5)                  # waited for room, not accept-and-close
        for sock in busy:
            sock.settimeout(5)
            self.assertTrue(sock.recv(12).startswith(b"HTTP/1.1 200"))

    def test_the_connection_cap_follows_the_descriptor_limit(self):
        self.assertEqual(pe.connection_cap(256), 256 - pe.DESCRIPTORS_KEPT)
        self.assertEqual(pe.connection_cap(1 << 20), pe.MAX_CONNECTIONS)
        self.assertGreaterEqual(pe.connection_cap(10), 1)

    @unittest.skipUnless(IS_LINUX, "reads the exporter's CPU time from /proc")
    def test_a_low_descriptor_limit_neither_spins_nor_keeps_scrapes_out(self):
        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
        proc = subprocess.Popen(
            [sys.executable, SCRIPT, "--web.listen-address=127.0.0.1:0",
             "--web.read-timeout=60", "--metrics=process_cpu_seconds_total"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=low_limit)
        self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stderr.close()))
        self.port = int(re.search(rb"\(port (\d+)\)", proc.stderr.readline()).group(1))
        self.connect(300)                     # more than the process has descriptors for
        cpu_before = cpu_seconds(proc.pid)
        time.sleep(0.5)
        self.assertLess(cpu_seconds(proc.pid) - cpu_before, 0.25)     # not spinning
        for _ in range(3):
            self.assertEqual(self.scrape_status(), 200)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@in_fast_tier
class ConnectionsTest(unittest.TestCase):
    """The connection table alone, on socket pairs."""

    def pair(self):
        ours, theirs = socket.socketpair()
        self.addCleanup(ours.close)
        self.addCleanup(theirs.close)
        theirs.settimeout(1)
        return ours, theirs

    def test_past_the_cap_the_longest_waiting_connection_makes_room(self):
        table = pe.Connections(2)
        (a, a_peer), (b, _), (c, _) = self.pair(), self.pair(), self.pair()
        self.assertTrue(table.admit(a, "10.0.0.1"))
        a_dropped = table.dropped(a)
        time.sleep(0.01)
        self.assertTrue(table.admit(b, "10.0.0.2"))
        self.assertTrue(table.admit(c, "10.0.0.3"))
        self.assertEqual(a_peer.recv(1), b"")            # a was hung up on
        self.assertTrue(a_dropped.is_set())               # and its waits end
        self.assertEqual(len(table), 2)

    def test_a_connection_being_answered_is_never_cut_off(self):
        table = pe.Connections(1)
        (a, _), (b, _) = self.pair(), self.pair()
        table.admit(a, "10.0.0.1")
        table.waiting(a, False)
        self.assertFalse(table.admit(b, "10.0.0.2"))
        table.remove(a)
        self.assertTrue(table.admit(b, "10.0.0.2"))

    def test_one_address_gets_three_quarters_and_makes_room_among_its_own(self):
        table = pe.Connections(8)
        self.assertEqual(table.per_address, 6)
        mine = [self.pair() for _ in range(7)]
        for ours, _ in mine:
            self.assertTrue(table.admit(ours, "10.0.0.9"))
            time.sleep(0.002)
        self.assertEqual(mine[0][1].recv(1), b"")         # its own oldest made room
        others = [self.pair() for _ in range(2)]
        for ours, _ in others:
            self.assertTrue(table.admit(ours, "10.0.0.10"))
        for _, peer in mine[1:]:                           # without cutting off its own
            with self.assertRaises(socket.timeout):
                peer.settimeout(0.01)
                peer.recv(1)


class SlowReader(StaticReader):

    def __init__(self, records=None, delay=0.2):
        StaticReader.__init__(self, records)
        self.delay = delay

    def read(self):
        time.sleep(self.delay)
        return StaticReader.read(self)


class LoadTest(unittest.TestCase, ServerFixture, ExpositionChecks):

    def scrape_concurrently(self, count):
        results = [None] * count

        def scrape(i):
            try:
                results[i] = self.request()
            except Exception as exc:           # recorded, so the test can say what
                results[i] = exc
        threads = [threading.Thread(target=scrape, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return results

    def test_50_concurrent_scrapes_valid_and_alike(self):
        # 50 at once is over the default limit of 40 requests in flight: raise it.
        self.start_server(StaticReader(), max_requests=64)
        results = self.scrape_concurrently(50)
        statuses = [r[0] if isinstance(r, tuple) else r for r in results]
        self.assertEqual(statuses, [200] * 50)
        family_sets = {tuple(parse_exposition(r[2].decode())) for r in results}
        self.assertEqual(len(family_sets), 1)

    def test_requests_beyond_the_limit_get_503(self):
        self.start_server(SlowReader(), max_requests=2)
        results = self.scrape_concurrently(8)
        statuses = sorted(r[0] for r in results)
        self.assertIn(200, statuses)
        self.assertIn(503, statuses)
        self.assertEqual(set(statuses), {200, 503})
        self.assertEqual(self.request()[0], 200)      # and it carries on


# ---------------------------------------------------------------------------
# Configuration files: YAML, the reference's process_names, the web config
# ---------------------------------------------------------------------------

@in_fast_tier
class YAMLTest(unittest.TestCase):
    """The strict subset of YAML the two files use: what it reads, and one line with the
    file and the line for anything else (cases in tests/yaml_cases.py)."""

    def test_the_two_files_users_have(self):
        self.assertEqual(pe.parse_yaml(yaml_cases.PROCESS_EXPORTER, "x"),
                         yaml_cases.PROCESS_EXPORTER_VALUE)
        self.assertEqual(pe.parse_yaml(yaml_cases.WEB_CONFIG, "x"), yaml_cases.WEB_CONFIG_VALUE)

    def test_supported_forms(self):
        for text, expected, _ in yaml_cases.SUPPORTED:
            with self.subTest(text=text):
                self.assertEqual(pe.parse_yaml(text, "conf.yml"), expected)

    def test_everything_else_is_one_line_naming_file_and_line(self):
        for text, line, words in yaml_cases.ERRORS:
            with self.subTest(text=text[:60]):
                with self.assertRaises(ValueError) as caught:
                    pe.parse_yaml(text, "conf.yml")
                message = str(caught.exception)
                self.assertTrue(message.startswith("conf.yml line %d: " % line), message)
                self.assertIn(words, message)
                self.assertEqual(len(message.splitlines()), 1)

    def test_the_same_as_pyyaml_where_both_read(self):
        try:
            import yaml
        except ImportError:
            yaml = None
        need(yaml, "PyYAML is not installed")
        for text, _, same in yaml_cases.SUPPORTED:
            if same:
                with self.subTest(text=text):
                    self.assertEqual(pe.parse_yaml(text, "x"),
                                     yaml_cases.pyyaml_as_written(yaml.safe_load(text)))


@in_fast_tier
class ProcessNamesTest(unittest.TestCase):
    """--config.path: the reference's selectors and templates, on records made here."""

    def items(self, text, procfs="/proc"):
        folder = tempfile.mkdtemp(prefix="process-names-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "config.yml")
        with open(path, "w") as f:
            f.write(text)
        return pe.read_process_names(path, procfs)

    def name(self, items, record):
        for item in items:
            name = item.search(record, pe.UserNames())
            if name is not None:
                return name
        return None

    def record(self, name, argv, pid=7, uid=0):
        record = proc(pid, name, uid=uid, start=1700000000.25)
        record.cmdline, record.argv0 = (None, None) if argv is None else \
            (" ".join(argv), argv[0] if argv else "")
        return record

    def test_selectors_and_templates_as_the_reference_fills_them(self):
        items = self.items(yaml_cases.PROCESS_EXPORTER.replace(
            '"{{.Comm}}"', '"{{.Comm}}/{{.ExeBase}}/{{.ExeFull}}/{{.PID}}/{{.Username}}"'))
        java = self.record("java", ["/usr/bin/java", "-Xmx1g", "-jar", "/opt/kafka.jar"])
        self.assertEqual(self.name(items, java), "java/java//usr/bin/java/7/root")
        kernel = self.record("kworker/0:1", [])               # no arguments: '.+' fails
        bash = self.record("bash", ["-bash"])
        self.assertEqual(self.name(items, kernel), None)
        self.assertEqual(self.name(items[2:], bash), "-bash")          # {{.ExeBase}}
        jar = self.items(yaml_cases.PROCESS_EXPORTER)[1]
        self.assertEqual(jar.search(java, pe.UserNames()), "/opt/kafka.jar")
        other = self.record("java", ["/opt/jdk/bin/java", "-jar", "x.jar"])
        self.assertIsNone(jar.search(other, pe.UserNames()))     # /usr/bin/java whole only
        unreadable = self.record("java", None)    # another user's, on macOS
        self.assertIsNone(jar.search(unreadable, pe.UserNames()))

    def test_start_time_and_missing_matches_as_go_prints_them(self):
        (item,) = self.items('process_names:\n  - name: "{{.StartTime}}|{{.Matches.x}}|'
                             '{{.Matches.y}}"\n    cmdline: ["(?P<x>a)?b"]\n',
                             procfs="/nonexistent")
        name = item.search(self.record("t", ["b"]), pe.UserNames())
        self.assertEqual(name, "2023-11-14 22:13:20.25 +0000 UTC||<no value>")
        self.assertEqual(pe.go_time(1700000000.0, 2), "2023-11-14 22:13:20 +0000 UTC")
        self.assertEqual([pe.go_base(p) for p in ("", "/", "a/", "/usr/bin/java", "x")],
                         [".", "/", "a", "java", "x"])

    def test_go_regexes_read_as_go_reads_them(self):
        for go, text, matched in (("(?<app>\\w+)\\.jar", "kafka.jar", "kafka"),
                                  ("^[[:alpha:]]+[[:digit:]]\\z", "abc1", "abc1")):
            match = re.search(pe.go_regex(go), text)
            self.assertEqual(match.group(1) if match.groups() else match.group(), matched)

    def test_a_bad_file_is_one_line_and_exit_2(self):
        for text, says in (("process_names:\n  - nme: x\n", "unknown key 'nme'"),
                           ("process_names:\n  - name: x\n", "needs comm, exe or cmdline"),
                           ("process_names:\n  - comm: bash\n", "list of strings"),
                           ("other: 1\n", "no process_names list"),
                           ("process_names:\n  - cmdline: ['(a+)+']\n", "a repeat inside"),
                           ('process_names:\n  - name: "{{.Comm | x}}"\n    comm: [a]\n',
                            "only {{.Comm}}"),
                           ("process_names:\n  - comm: [a]\n   exe: [b]\n", "line 3")):
            with self.subTest(text=text):
                folder = tempfile.mkdtemp(prefix="process-names-")
                self.addCleanup(shutil.rmtree, folder, True)
                path = os.path.join(folder, "config.yml")
                with open(path, "w") as f:
                    f.write(text)
                said = one_line_exit(self, ["--config.path", path])
                self.assertIn(path, said)
                self.assertIn(says, said)

    def test_reloaded_on_sighup(self):
        folder = tempfile.mkdtemp(prefix="process-names-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "config.yml")
        with open(path, "w") as f:
            f.write("process_names:\n  - comm: [nginx]\n")
        argv = ["--config.path", path]
        args = pe.parse_args(argv)
        reader = StaticReader([self.record("nginx", ["nginx"]), self.record("redis", ["r"], 8)])
        exporter = pe.build_exporter(args, reader=reader)
        self.assertEqual(ReferenceConfigSideBySideTest.groups(exporter.scrape()), {"nginx": 1})
        with open(path, "w") as f:
            f.write("process_names:\n  - comm: [nginx, redis]\n    name: web\n")
        with contextlib.redirect_stderr(io.StringIO()) as said:
            pe.reload_config(exporter, argv, args)
        self.assertIn("reloaded " + path, said.getvalue())
        self.assertEqual(ReferenceConfigSideBySideTest.groups(exporter.scrape()), {"web": 2})


# ---------------------------------------------------------------------------
# The command line, as a user runs it
# ---------------------------------------------------------------------------

def run_script(*args, timeout=60):
    return subprocess.run([sys.executable, SCRIPT] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def start_script(*args):
    """Start the exporter as a server on an ephemeral port; return (process, port)."""
    proc = subprocess.Popen([sys.executable, SCRIPT, "--web.listen-address=127.0.0.1:0"]
                            + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = []
    for _ in range(5):            # warnings, if any, come before the listening line
        line = proc.stderr.readline().decode()
        lines.append(line)
        match = re.search(r"listening on .*\(port (\d+)\)", line)
        if match or not line:
            break
    proc.early_stderr = lines
    if not match:
        proc.kill()
        proc.wait()
        raise AssertionError("no listening line: %r" % lines)
    return proc, int(match.group(1))


class CommandLineTest(unittest.TestCase, ExpositionChecks):

    @unittest.skipUnless(IS_LINUX or sys.platform == "darwin", "needs a supported platform")
    def test_once_prints_valid_metrics_and_exits_0(self):
        result = run_script("--once")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, b"")
        text = result.stdout.decode("utf-8")
        families = self.assertValidExposition(text)
        self.assertIn("process_cpu_seconds_total", families)
        self.assertGreater(samples_of(families, "process_exporter_processes")[0], 1)

    def test_version(self):
        result = run_script("--version")
        self.assertEqual(result.returncode, 0)
        self.assertIn("process_exporter %s" % pe.__version__, result.stdout.decode())

    def test_help_lists_every_flag(self):
        result = run_script("--help")
        self.assertEqual(result.returncode, 0)
        for flag in ("--web.listen-address", "--web.telemetry-path", "--once", "--version",
                     "--path.procfs", "--web.read-timeout", "--web.max-requests",
                     "--no-linux.keep-files-open"):
            self.assertIn(flag, result.stdout.decode())

    def test_bad_flag_one_line_exit_2(self):
        for args in (["--no-such-flag"], ["--web.listen-address=nonsense"],
                     ["--web.telemetry-path=metrics"], ["--web.max-requests=0"]):
            with self.subTest(args=args):
                result = run_script(*args)
                self.assertEqual(result.returncode, 2)
                self.assertEqual(result.stdout, b"")
                lines = result.stderr.decode().strip().splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertIn("error", lines[0])

    def test_bad_selection_flags_exit_2(self):
        for args in (["--include", "("], ["--exclude", "[a-"], ["--group", "x=("],
                     ["--group", "=abc"], ["--group", "noequals"],
                     ["--user", "no-such-user-here"], ["--group-expiry", "soon"],
                     ["--group-by", "color"], ["--label", "shoe"],
                     ["--group-by", "name", "--label", "user"],
                     ["--group-by", "name", "--metrics", "process_threads"],
                     ["--metrics", "namedprocess_namegroup_num_procs"],
                     ["--labels", "name,path"], ["--labels", "pid,shoe"],
                     ["--labels", "pid,user"], ["--top", "0"], ["--top", "many"],
                     ["--min-age", "young"], ["--group-by", "name", "--top", "5"],
                     ["--group", "a=b", "--min-age", "2s"],
                     ["--group-by", "user", "--labels", "pid"]):
            with self.subTest(args=args):
                one_line_exit(self, args)       # in-process: the script's path is above

    @unittest.skipUnless(IS_LINUX, "reads the real /proc")
    def test_labels_top_and_min_age_as_a_user_runs_them(self):
        for args in (["--labels", "pid,name"], ["--top", "3"], ["--min-age", "1s"],
                     ["--top", "2", "--labels", "pid", "--min-age", "1m", "--label", "user"],
                     ["--top", "1", "--metrics", "process_cpu_seconds_total",
                      "--include", "python"]):
            with self.subTest(args=args):
                result = run_script("--once", *args)
                self.assertEqual((result.returncode, result.stderr), (0, b""))
                families = self.assertValidExposition(result.stdout.decode())
                self.assertGreater(samples_of(families, "process_exporter_series")[0], 0)
        result = run_script("--once", "--labels", "pid,name", "--label", "user")
        families = parse_exposition(result.stdout.decode())
        for name, family in families.items():
            if name.startswith("process_exporter_"):
                continue
            for labels, _ in family["samples"]:
                expected = {"pid", "ppid", "uid", "gid", "path", "name", "user"} \
                    if name == "process_info" else {"pid", "name"}
                self.assertEqual(set(labels) - {"mode", "ctxswitchtype", "state"}, expected,
                                 name)

    @unittest.skipUnless(IS_LINUX, "reads the real /proc")
    def test_once_with_groups_and_filters(self):
        result = run_script("--once", "--group-by", "name", "--group", "nothing=^zz-none$",
                            "--include", "python", "--include", "sleep")
        self.assertEqual(result.returncode, 0, result.stderr)
        families = self.assertValidExposition(result.stdout.decode())
        self.assertFalse([name for name in families if name.startswith("process_info")])
        groups = {labels["groupname"] for labels, _ in
                  families["namedprocess_namegroup_num_procs"]["samples"]}
        self.assertIn("nothing", groups)
        self.assertTrue(any(g.startswith("python") for g in groups), groups)
        self.assertEqual(samples_of(families, "namedprocess_namegroup_num_procs",
                                    groupname="nothing"), [0])

    @unittest.skipUnless(IS_LINUX, "reads the real /proc")
    def test_once_with_user_label_and_user_filter(self):
        result = run_script("--once", "--label", "user", "--user", "root",
                            "--metrics", "process_info")
        self.assertEqual(result.returncode, 0, result.stderr)
        families = self.assertValidExposition(result.stdout.decode())
        users = {labels["user"] for labels, _ in families["process_info"]["samples"]}
        self.assertEqual(users, {"root"})
        self.assertEqual([n for n in families if not n.startswith("process_exporter")],
                         ["process_info"])

    def test_no_procfs_one_line_exit_1(self):
        result = run_script("--once", "--path.procfs=/nonexistent/proc")
        if not IS_LINUX:
            self.skipTest("--path.procfs is read on Linux only")
        self.assertEqual(result.returncode, 1)
        self.assertNotIn(b"Traceback", result.stderr)
        self.assertEqual(len(result.stderr.decode().strip().splitlines()), 1, result.stderr)
        self.assertIn(b"cannot read processes", result.stderr)

    def test_port_in_use_one_line_no_traceback(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            result = run_script("--web.listen-address=127.0.0.1:%d" % port)
        self.assertNotEqual(result.returncode, 0)
        stderr = result.stderr.decode()
        self.assertNotIn("Traceback", stderr)
        self.assertEqual(len(stderr.strip().splitlines()), 1, stderr)
        self.assertIn("cannot listen on 127.0.0.1:%d" % port, stderr)

    @unittest.skipUnless(IS_LINUX or sys.platform == "darwin", "needs a supported platform")
    def test_sigterm_and_sigint_stop_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig):
                proc, port = start_script()
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("GET", "/metrics")
                    self.assertEqual(conn.getresponse().status, 200)
                    conn.close()
                    proc.send_signal(sig)
                    self.assertEqual(proc.wait(timeout=3), 0)
                    self.assertNotIn(b"Traceback", proc.stderr.read())
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                    proc.stdout.close()
                    proc.stderr.close()


def one_line_exit(test, argv, code=2):
    """parse_args or main on argv: exits `code` with exactly one line on stderr."""
    stderr, sys.stderr = sys.stderr, io.StringIO()
    try:
        with test.assertRaises(SystemExit) as caught:
            pe.parse_args(argv)
    finally:
        said, sys.stderr = sys.stderr.getvalue(), stderr
    test.assertEqual(caught.exception.code, code)
    test.assertEqual(len(said.splitlines()), 1, said)
    return said


class BadInputTest(unittest.TestCase):
    """Odd values, odd outputs, odd moments: one line and the right exit code."""

    def once(self, **popen):
        procfs = FakeProcfs()
        self.addCleanup(procfs.cleanup)
        procfs.add(7, comm="caf\u00e9\u2603".encode(), exe="/opt/\u00e9t\u00e9/bin")
        return subprocess.run([sys.executable, SCRIPT, "--once", "--path.procfs=" + procfs.root],
                              stderr=subprocess.PIPE, timeout=30, **popen)

    def test_values_that_can_never_work_are_refused(self):
        for argv in (["--web.telemetry-path=/metrics?x=1"], ["--web.telemetry-path=/m#x"],
                     ["--web.telemetry-path=/m\u00e9trics"], ["--web.telemetry-path=/m\udcff"],
                     ["--web.telemetry-path=/a b"], ["--web.telemetry-path=/"],
                     ["--web.read-timeout=nan"], ["--web.read-timeout=inf"],
                     ["--web.read-timeout=1e300"], ["--web.write-timeout=-1"],
                     ["--web.write-timeout=0"], ["--web.read-timeout=ten"]):
            with self.subTest(argv=argv):
                one_line_exit(self, argv)
        self.assertEqual(pe.parse_args(["--web.telemetry-path=/probe/x-1.txt"]).telemetry_path,
                         "/probe/x-1.txt")

    def test_bad_rules_and_group_names_are_one_line(self):
        for argv in (["--include=args:x"], ["--exclude=cmdline:("], ["--group=g=usr:x"],
                     ["--group={app}=cmdline:x"], ["--group={app=x"],
                     ["--group={}=cmdline:(?P<a>x)"], ["--labels=pid,cmdline", "--label=cmdline"],
                     ["--label=cmdline", "--group-by=name"], ["--group=\udcff\udcfe=x"]):
            with self.subTest(argv=argv):
                one_line_exit(self, argv)
        args = pe.parse_args(["--group={app}=cmdline:-jar (?P<app>[^ /]+)\\.jar"])
        self.assertEqual(args.declared, [("{app}", "cmdline:-jar (?P<app>[^ /]+)\\.jar")])
        args = pe.parse_args(["--include=user:^www$", "--label=cmdline"])
        self.assertEqual(args.identity_labels, pe.PROCESS_LABELS + ("cmdline",))

    def test_a_procfs_with_a_broken_boot_time_is_one_line(self):
        procfs = FakeProcfs()
        self.addCleanup(procfs.cleanup)
        os.remove(os.path.join(procfs.root, "uptime"))
        for stat in ("cpu 1 2\n", "cpu 1 2\nbtime \n", "btime x\n", "btime 1 2\n"):
            with self.subTest(stat=stat):
                procfs.write("stat", stat)
                with self.assertRaises(OSError) as caught:
                    pe.LinuxReader(procfs.root)
                self.assertIn("no boot time in", str(caught.exception))

    @unittest.skipUnless(IS_LINUX, "a fake procfs")
    def test_once_to_a_closed_pipe_is_quiet(self):
        proc = subprocess.Popen([sys.executable, SCRIPT, "--once"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        proc.stdout.close()                 # as `| head -1` does, only sooner
        _, err = proc.communicate(timeout=30)
        self.assertEqual((proc.returncode, err), (1, b""))

    @unittest.skipUnless(IS_LINUX and os.path.exists("/dev/full"), "needs /dev/full")
    def test_once_to_a_full_disk_is_one_line(self):
        with open("/dev/full", "wb") as full:
            done = self.once(stdout=full)
        self.assertEqual(done.returncode, 1)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)
        self.assertIn(b"No space left", done.stderr)

    @unittest.skipUnless(IS_LINUX, "a fake procfs")
    def test_once_with_stdout_closed_is_one_line(self):
        done = self.once(stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
        self.assertEqual(done.returncode, 1)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)

    @unittest.skipUnless(IS_LINUX, "a fake procfs")
    def test_once_under_an_ascii_locale_writes_utf8(self):
        env = dict(os.environ, PYTHONIOENCODING="ascii", LC_ALL="C", PYTHONUTF8="0")
        done = self.once(stdout=subprocess.PIPE, env=env)
        self.assertEqual((done.returncode, done.stderr), (0, b""))
        self.assertIn('name="caf\u00e9\u2603"'.encode("utf-8"), done.stdout)
        parse_exposition(done.stdout.decode("utf-8"))

    def test_ctrl_c_during_start_up_or_once_is_exit_130_without_traceback(self):
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt
        for where, argv in (("build_exporter", ["--once"]), ("build_exporter", []),
                            ("write_exposition", ["--once"]), ("make_server", [])):
            with self.subTest(where=where, argv=argv):
                real = getattr(pe, where)
                setattr(pe, where, interrupted)
                stderr, sys.stderr = sys.stderr, io.StringIO()
                try:
                    code = pe.main(argv + ["--web.listen-address=127.0.0.1:0"])
                finally:
                    setattr(pe, where, real)
                    said, sys.stderr = sys.stderr.getvalue(), stderr
                self.assertEqual(code, 130)
                self.assertNotIn("Traceback", said)
                self.assertLessEqual(len(said.splitlines()), 1, said)

    @unittest.skipUnless(IS_LINUX, "a fake procfs")
    def test_a_fifo_or_a_device_in_procfs_is_one_line_and_exit_1(self):
        procfs = FakeProcfs()
        self.addCleanup(procfs.cleanup)
        os.remove(os.path.join(procfs.root, "uptime"))
        os.mkfifo(os.path.join(procfs.root, "uptime"))
        os.remove(os.path.join(procfs.root, "stat"))
        os.symlink("/dev/zero", os.path.join(procfs.root, "stat"))
        done = run_bounded("--once", "--path.procfs=" + procfs.root)
        self.assertEqual(done.returncode, 1)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)

    @unittest.skipUnless(IS_LINUX and os.path.exists("/dev/full"), "needs /dev/full")
    def test_a_log_that_cannot_be_written_does_not_stop_the_exporter(self):
        port = free_port()
        with open("/dev/full", "wb") as full:
            proc = subprocess.Popen([sys.executable, SCRIPT,
                                     "--web.listen-address=127.0.0.1:%d" % port],
                                    stdout=subprocess.DEVNULL, stderr=full)
        self.addCleanup(lambda: (proc.kill(), proc.wait()))
        deadline = time.monotonic() + 20
        while True:
            try:
                status = scrape_port(port)[0]
                break
            except OSError:
                self.assertIsNone(proc.poll(), "the exporter died at its first log line")
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.1)
        self.assertEqual(status, 200)


@in_fast_tier
class ConfigFileTest(unittest.TestCase, ExpositionChecks):
    """--config.file: flags in a file, the command line's winning, read again on SIGHUP."""

    def setUp(self):
        folder = tempfile.mkdtemp(prefix="process-exporter-config-")
        self.addCleanup(shutil.rmtree, folder, True)
        self.path = os.path.join(folder, "flags")

    def write(self, *lines):
        with open(self.path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def reload(self, exporter, argv, args):
        """What the exporter logs as it reloads (one line)."""
        import contextlib
        import io
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            pe.reload_config(exporter, argv, args)
        self.assertEqual(len(said.getvalue().splitlines()), 1, said.getvalue())
        return said.getvalue()

    def test_flags_comments_and_the_command_line_winning(self):
        self.write("# groups for the build machine", "", "--group-by=name",
                   "--group-expiry 10m", "--group=builds=^xcodebuild$",
                   "--web.read-timeout=3", "--no-children")
        args = pe.parse_args(["--config.file", self.path, "--web.read-timeout=7",
                              "--group", "web=nginx"])
        self.assertEqual((args.group_by, args.group_expiry, args.children), ("name", 600.0, False))
        self.assertEqual(args.read_timeout, 7.0)                  # the command line wins
        self.assertEqual(args.declared, [("builds", "^xcodebuild$"), ("web", "nginx")])

    @not_in_fast_tier
    def test_a_bad_file_is_one_line_naming_it(self):
        for lines, says in ((["--group-by=name", "nonsense"], "line 2"),
                            (["--no-such-flag=1"], "unrecognized"),
                            (["--config.file=/etc/other"], "line 1")):
            with self.subTest(lines=lines):
                self.write(*lines)
                result = run_script("--once", "--config.file", self.path)
                self.assertEqual(result.returncode, 2)
                message = result.stderr.decode().strip().splitlines()
                self.assertEqual(len(message), 1, message)
                self.assertIn(self.path, message[0])
                self.assertIn(says, message[0])
        result = run_script("--once", "--config.file", self.path + ".missing")
        self.assertEqual((result.returncode, len(result.stderr.splitlines())), (2, 1))

    def test_a_reload_applies_what_to_export_and_keeps_the_counters(self):
        records = [proc(10, "sleep", cpu=5.0, rss=100), proc(11, "python3", cpu=1.0, rss=50)]
        self.write("--group=sleepers=^sleep$")
        argv = ["--config.file", self.path]
        args = pe.parse_args(argv)
        exporter = pe.build_exporter(args)
        exporter.reader = StaticReader(records)
        families = parse_exposition(exporter.scrape())
        cpu = "namedprocess_namegroup_cpu_seconds_total"
        self.assertEqual(samples_of(families, cpu, groupname="sleepers", mode="user"), [5.0])
        records[:] = [proc(11, "python3", cpu=1.0, rss=50)]       # the sleeper exits
        self.write("--group=sleepers=^sleep$", "--group=py=python", "--web.read-timeout=3")
        said = self.reload(exporter, argv, args)
        self.assertIn("a restart applies --web.read-timeout", said)
        exporter.reader = StaticReader(records)
        families = parse_exposition(exporter.scrape())
        self.assertEqual(samples_of(families, cpu, groupname="sleepers", mode="user"), [5.0])
        # a group the reload made counts what its processes use from then on
        self.assertEqual(samples_of(families, cpu, groupname="py", mode="user"), [0.0])
        records[:] = [proc(11, "python3", cpu=1.5, rss=50)]
        families = parse_exposition(exporter.scrape())
        self.assertEqual(samples_of(families, cpu, groupname="py", mode="user"), [0.5])
        self.write("--group=broken=(")
        said = self.reload(exporter, argv, args)
        self.assertIn("keeping the old settings", said)
        families = parse_exposition(exporter.scrape())
        self.assertEqual(samples_of(families, "namedprocess_namegroup_num_procs",
                                    groupname="py"), [1])

    def test_a_file_never_ends_the_exporter_nor_moves_what_needs_a_restart(self):
        self.write("--group=web=^nginx$")
        argv = ["--config.file", self.path]
        args = pe.parse_args(argv)
        reader = StaticReader([proc(7, "nginx")])
        exporter = pe.build_exporter(args, reader=reader)
        for line in ("--version", "--help", "--once", "--hash-password=x"):
            with self.subTest(line=line):
                self.write("--group=web=^nginx$", line)
                said = self.reload(exporter, argv, args)     # no SystemExit
                self.assertIn("keeping the old settings", said)
                self.assertIn(line.split("=")[0] + " belongs on the command line", said)
        self.write("--group=web=^nginx$", "--path.procfs=/nonexistent")
        said = self.reload(exporter, argv, args)
        self.assertIn("a restart applies --path.procfs", said)
        self.assertIs(exporter.reader, reader)          # the same reader, the same procfs
        self.assertIn('groupname="web"', exporter.scrape())

    def test_sighup_only_notes_a_reload_which_runs_once_in_the_serving_loop(self):
        import signal as signals
        installed = []
        original = pe.run
        pe.run = lambda argv: installed.append(signals.getsignal(signals.SIGHUP)) or 0
        try:
            pe.main(["--once"])
        finally:
            pe.run = original
        self.assertIs(installed[0], pe.HANGUPS)      # before the flags are even parsed
        server = socketless_server()
        reloads = []
        server.reload = lambda: reloads.append(1)
        for _ in range(1000):                        # a storm, handled as one
            pe.HANGUPS(signals.SIGHUP, None)
        _, server_class = pe.http_classes()
        server_class.service_actions(server)
        server_class.service_actions(server)
        self.assertEqual(reloads, [1])

    def test_a_reload_changes_labels_and_metrics(self):
        self.write("--metrics=process_threads")
        argv = ["--config.file", self.path]
        args = pe.parse_args(argv)
        exporter = pe.build_exporter(args)
        exporter.reader = StaticReader([proc(7, "x", rss=5, threads=2)])
        self.assertIn("process_threads", parse_exposition(exporter.scrape()))
        self.write("--metrics=process_resident_memory_bytes", "--labels=pid")
        self.assertIn("reloaded", self.reload(exporter, argv, args))
        exporter.reader = StaticReader([proc(7, "x", rss=5, threads=2)])
        families = parse_exposition(exporter.scrape())
        self.assertNotIn("process_threads", families)
        (labels, _), = families["process_resident_memory_bytes"]["samples"]
        self.assertEqual(labels, {"pid": "7"})

    @not_in_fast_tier
    @unittest.skipUnless(IS_LINUX, "runs the exporter on real processes")
    def test_sighup_reloads_a_running_exporter(self):
        self.write("--group=nothing=^zz-none$")
        exporter, port = start_script("--config.file", self.path)
        self.addCleanup(stop_process, exporter)
        self.write("--group=nothing=^zz-none$", "--group=also=^zz-other$")
        exporter.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while True:
            _, text = scrape_port(port)
            groups = {labels["groupname"] for labels, _ in
                      parse_exposition(text)["namedprocess_namegroup_num_procs"]["samples"]}
            if groups == {"nothing", "also"} or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(groups, {"nothing", "also"})
        _, page = scrape_port(port, path="/")
        self.assertIn("--group=also=^zz-other$", page)       # the flags now in effect
        for _ in range(300):                 # a storm: each is noted, reloads run after
            exporter.send_signal(signal.SIGHUP)
        time.sleep(0.6)
        status, text = scrape_port(port)
        self.assertEqual(status, 200)
        self.assertIsNone(exporter.poll())
        exporter.terminate()
        log = exporter.communicate(timeout=10)[1].decode()
        self.assertNotIn("Traceback", log)
        self.assertIn("reloaded " + self.path, log)
        self.assertLess(log.count("reloaded"), 30)      # not one per signal


@unittest.skipUnless(IS_LINUX, "runs the exporter on real processes")
class ServerProcessTest(unittest.TestCase):

    def test_it_serves_from_a_module_in_the_same_process(self):
        # A script's syntax tree lives as long as the script runs; a module's does not.
        proc, port = start_script()
        self.addCleanup(stop_process, proc)
        with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
            argv = f.read().split(b"\0")
        self.assertIn(b"-c", argv)                       # exec'd, the same pid
        self.assertIn(os.path.abspath(SCRIPT).encode(), argv)
        self.assertEqual(scrape_port(port)[0], 200)
        once = run_script("--once")                      # --once stays the script
        self.assertEqual(once.returncode, 0)

    def test_sigterm_while_scrapes_are_in_flight(self):
        proc, port = start_script()
        self.addCleanup(stop_process, proc)
        stop = threading.Event()
        counts = {"in flight": 0, "done": 0}
        lock = threading.Lock()

        def hammer():
            while not stop.is_set():
                with lock:
                    counts["in flight"] += 1
                try:
                    scrape_port(port)
                except (OSError, http.client.HTTPException):
                    return
                finally:
                    with lock:
                        counts["in flight"] -= 1
                with lock:
                    counts["done"] += 1
        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while counts["done"] < 16 and time.monotonic() < deadline:
            time.sleep(0.01)
        with lock:      # scrapes are under way as the signal goes
            in_flight = counts["in flight"]
            proc.send_signal(signal.SIGTERM)
        self.assertGreater(in_flight, 0)
        self.assertGreaterEqual(counts["done"], 16)
        try:
            self.assertEqual(proc.wait(timeout=3), 0)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertNotIn(b"Traceback", proc.stderr.read())


# ---------------------------------------------------------------------------
# End to end: a real Prometheus server, processes coming and going, odd executables
# ---------------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url, timeout=10):
    """GET a JSON document from a loopback URL with http.client."""
    match = re.match(r"http://([^/:]+):(\d+)(/.*)", url)
    conn = http.client.HTTPConnection(match.group(1), int(match.group(2)), timeout=timeout)
    try:
        conn.request("GET", match.group(3))
        return json.loads(conn.getresponse().read().decode())
    finally:
        conn.close()


def stop_process(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def scrape_port(port, gzip_ok=False, path="/metrics"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
        response = conn.getresponse()
        body = response.read()
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return response.status, body.decode("utf-8")
    finally:
        conn.close()


BUSY_CHILD = [sys.executable, "-c", "while True: pass"]
DASHBOARD = os.path.join(HERE, "dashboards", "process_exporter.json")
# What Grafana puts in place of the dashboard's variables, for a Prometheus that
# scrapes every second.
GRAFANA_VARIABLES = (("$__rate_interval", "5s"), ("$__interval", "5s"), ("$__range", "1m"),
                     ("$job", ".*"), ("$instance", ".*"), ("$name", ".*"), ("$pid", ".*"),
                     ("$groupname", ".*"))


def dashboard_queries():
    """(what, PromQL, macOS only) for every panel target and variable query of the
    dashboard, with the variables as Grafana fills them in."""
    with open(DASHBOARD, encoding="utf-8") as f:
        dashboard = json.load(f)

    def filled(expr):
        for variable, value in GRAFANA_VARIABLES:
            expr = expr.replace(variable, value)
        return expr

    def panels(items):
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))
    for panel in panels(dashboard["panels"]):
        macos_only = "macOS only" in panel.get("description", "")
        for target in panel.get("targets", []):
            yield "panel %r" % panel["title"], filled(target["expr"]), macos_only
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            query = query["query"] if isinstance(query, dict) else query
            selector = re.match(r"label_values\((.*),\s*\w+\)$", query).group(1)
            yield "variable %s" % variable["name"], filled(selector), False


class PrometheusServer:
    """A real Prometheus server, started by a test, scraping twice a second on loopback."""

    def start_prometheus(self, target_port, extra="", job="process"):
        prometheus = shutil.which("prometheus")
        need(prometheus, "the prometheus server is not installed (Debian package prometheus)")
        folder = tempfile.mkdtemp(prefix="prometheus-e2e-")
        self.addCleanup(shutil.rmtree, folder, True)
        config = os.path.join(folder, "prometheus.yml")
        with open(config, "w") as f:
            f.write(textwrap.dedent("""\
                global:
                  scrape_interval: 500ms
                  scrape_timeout: 500ms
                  evaluation_interval: 500ms
                scrape_configs:
                  - job_name: %s
                    static_configs:
                      - targets: ["127.0.0.1:%d"]
                """ % (job, target_port)) + extra)
        port = free_port()
        log = open(os.path.join(folder, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [prometheus, "--config.file=" + config, "--storage.tsdb.path=" + folder + "/data",
             "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn",
             # Targets are applied every 5 s by default: the first scrape waited that long.
             "--scrape.discovery-reload-interval=100ms"],
            stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(stop_process, proc)     # runs before the folder is removed
        return "http://127.0.0.1:%d" % port, proc

    def query(self, api, expr):
        from urllib.parse import quote
        answer = get_json(api + "/api/v1/query?query=" + quote(expr))
        self.assertEqual(answer["status"], "success", answer)
        return [(item["metric"], float(item["value"][1])) for item in answer["data"]["result"]]

    def wait_for(self, what, check, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(0.1)
        self.fail("timed out waiting for " + what)

    def wait_until_up(self, api, job="process"):
        """Wait for Prometheus to call the target up, then check up == 1 by query."""
        def target_up():
            try:
                targets = get_json(api + "/api/v1/targets")["data"]["activeTargets"]
            except (OSError, ValueError, KeyError):
                return None
            return targets and all(t["health"] == "up" for t in targets)
        self.wait_for("every target to be up", target_up)
        self.assertEqual(self.query(api, 'up{job="%s"}' % job)[0][1], 1.0)


@unittest.skipUnless(IS_LINUX, "the end-to-end path is tested on real Linux processes")
class PrometheusEndToEndTest(unittest.TestCase, PrometheusServer, ExpositionChecks):
    """Real Prometheus servers scrape the exporters twice a second on loopback."""

    def test_prometheus_scrapes_and_queries_and_the_reference_side_by_side(self):
        """One Prometheus scrapes this exporter per process (every family), in group
        mode as the reference's dashboards want it (--group-by name, --threads,
        --gather-smaps; job process-exporter) and behind mutual TLS with a password;
        another, started at the same moment (a Prometheus applies its targets after
        five seconds), scrapes the reference exporter (Debian's
        prometheus-process-exporter, {{.Comm}} groups, its defaults).  What was
        stored is checked; every query the README and the dashboard show runs; every
        panel of the reference's dashboards with data for the reference has data
        here, and a busy program's numbers agree."""
        exporter, port = start_script("--metrics=all")
        self.addCleanup(stop_process, exporter)
        grouped, grouped_port = start_script("--group-by=name", "--threads", "--gather-smaps")
        self.addCleanup(stop_process, grouped)
        reference_port = self.start_reference()
        secure_port, secure_job = self.start_secure_exporter()
        child_started = time.time()
        child = self.start_busy_child()
        job = "process-exporter"        # what the author's dashboards select
        api, prometheus = self.start_prometheus(port, extra=(
            '  - job_name: %s\n'
            '    static_configs:\n'
            '      - targets: ["127.0.0.1:%d"]\n' % (job, grouped_port)) + secure_job)
        reference_api, _ = self.start_prometheus(reference_port, job=job)
        self.wait_until_up(api)         # every target: plain, groups, and TLS with a user
        self.wait_until_up(reference_api, job)
        self.assertTrue(self.query(api, 'process_exporter_processes{job="secure"}'))

        # The exporter's own RSS, as Prometheus stored it and as the exporter reports it.
        stored = self.wait_for("the exporter's RSS", lambda: self.query(
            api, 'process_resident_memory_bytes{job="process",pid="%d"}' % exporter.pid))
        status, text = scrape_port(port)
        own = samples_of(parse_exposition(text), "process_resident_memory_bytes",
                         pid=exporter.pid)
        self.assertEqual(len(own), 1)
        self.assertAlmostEqual(stored[0][1], own[0], delta=0.2 * own[0])

        # A busy child burns CPU: its rate is above zero.
        rate = self.wait_for("a CPU rate for the busy child", lambda: [
            value for _, value in self.query(
                api, 'sum(rate(process_cpu_seconds_total{job="process",pid="%d"}[5s]))'
                % child.pid)
            if value > 0])
        self.assertGreater(rate[0], 0.0)
        start = self.query(api, 'process_start_time_seconds{job="process",pid="%d"}'
                           % child.pid)
        self.assertEqual(len(start), 1)
        self.assertAlmostEqual(start[0][1], child_started, delta=2.0)
        for name, each in (("this exporter", api), ("the reference", reference_api)):
            self.wait_for("four scrapes of the busy program by " + name, lambda each=each:
                          self.query(each, 'count_over_time(namedprocess_namegroup_num_procs'
                                           '{groupname="pe-busy"}[1m]) >= 4'))
        self.check_readme_queries(api)
        self.check_dashboard(api)
        self.check_the_reference_dashboards(reference_api, api)
        self.check_the_busy_program_agrees(reference_api, api)
        self.assertIsNone(prometheus.poll(), "prometheus exited early")

    def start_secure_exporter(self):
        """An exporter behind mutual TLS and basic auth, and the Prometheus job that
        scrapes it with a client certificate and a password."""
        certs = Certificates()
        self.addCleanup(certs.cleanup)
        users = certs.path("users")
        with open(users, "w") as f:
            f.write("prom:%s\n" % pe.hash_password("scrape-pw", iterations=1000))
        os.chmod(users, 0o600)
        exporter, port = start_script(
            "--web.tls-cert-file", certs.server_cert, "--web.tls-key-file", certs.server_key,
            "--web.tls-client-ca-file", certs.ca, "--web.basic-auth-file", users)
        self.addCleanup(stop_process, exporter)
        job = textwrap.indent(textwrap.dedent("""\
            - job_name: secure
              scheme: https
              basic_auth:
                username: prom
                password: scrape-pw
              tls_config:
                ca_file: %s
                cert_file: %s
                key_file: %s
              static_configs:
                - targets: ["127.0.0.1:%d"]
            """ % (certs.ca, certs.client_cert, certs.client_key, port)), "  ")
        return port, job

    def start_reference(self):
        reference = shutil.which("prometheus-process-exporter")
        need(reference, "the reference exporter is not installed (Debian package "
                        "prometheus-process-exporter)")
        folder = tempfile.mkdtemp(prefix="reference-")
        self.addCleanup(shutil.rmtree, folder, True)
        config = os.path.join(folder, "reference.yml")
        with open(config, "w") as f:
            f.write('process_names:\n  - name: "{{.Comm}}"\n    cmdline:\n    - ".+"\n')
        port = free_port()
        log = open(os.path.join(folder, "reference.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen([reference, "-config.path", config,
                                 "-web.listen-address", "127.0.0.1:%d" % port],
                                stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(stop_process, proc)
        return port

    def start_busy_child(self):
        folder = tempfile.mkdtemp(prefix="pe-busy-")
        self.addCleanup(shutil.rmtree, folder, True)
        link = os.path.join(folder, "pe-busy")
        os.symlink(sys.executable, link)
        child = subprocess.Popen([link, "-c", NAMED_BUSY_CHILD])
        self.addCleanup(stop_process, child)
        return child

    def check_the_reference_dashboards(self, reference_api, our_api):
        with_data = 0
        for dashboard, repo, path, commit, exprs in reference_dashboards.REFERENCE_DASHBOARDS:
            for expr in exprs:
                query = panel_query(expr)
                with self.subTest(dashboard=dashboard, expr=query):
                    if self.query(reference_api, query):
                        with_data += 1
                        self.assertTrue(self.query(our_api, query),
                                        "no data here; %s %s@%s" % (repo, path, commit))
        self.assertGreaterEqual(with_data, 40)      # the comparison compared something

    def check_the_busy_program_agrees(self, reference_api, our_api):
        def value(api, expr):
            answer = self.query(api, expr.replace("GROUP", 'groupname="pe-busy"'))
            self.assertEqual(len(answer), 1, expr)
            return answer[0][1]
        # It burns CPU, so the figure means something; on a loaded machine its first
        # seconds may not show it yet.
        self.wait_for("the busy program's CPU in its rate", lambda: value(
            our_api, "sum(rate(namedprocess_namegroup_cpu_seconds_total{GROUP}[20s]))") > 0.1)
        for expr, tolerance in (
                ("sum(rate(namedprocess_namegroup_cpu_seconds_total{GROUP}[20s]))", 0.15),
                ('namedprocess_namegroup_memory_bytes{GROUP,memtype="resident"}', 4 << 20),
                ('namedprocess_namegroup_memory_bytes{GROUP,memtype="proportionalResident"}',
                 8 << 20),
                ("namedprocess_namegroup_open_filedesc{GROUP}", 0),
                ("namedprocess_namegroup_num_threads{GROUP}", 0),
                ("namedprocess_namegroup_num_procs{GROUP}", 0),
                ('sum(namedprocess_namegroup_thread_count{GROUP})', 0),
                ("namedprocess_namegroup_worst_fd_ratio{GROUP}", 0.001)):
            with self.subTest(expr=expr):
                theirs, mine = value(reference_api, expr), value(our_api, expr)
                self.assertAlmostEqual(mine, theirs, delta=tolerance)
        # States count processes here; the reference with threads (its default) adds
        # each thread's state to its process's, so its sum is not num_procs.
        self.assertEqual(value(our_api, "sum(namedprocess_namegroup_states{GROUP})"),
                         value(our_api, "namedprocess_namegroup_num_procs{GROUP}"))

    def check_readme_queries(self, api):
        with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
            blocks = re.findall(r"```promql\n(.*?)```", f.read(), re.S)
        queries = [line for block in blocks for line in block.splitlines()
                   if line.strip() and not line.startswith("#")]
        self.assertGreater(len(queries), 10)
        for query in queries:
            with self.subTest(readme_query=query):
                self.query(api, query)          # asserts status "success"

    def check_dashboard(self, api):
        """Every panel of dashboards/process_exporter.json is valid PromQL, and every
        one that is not macOS-only has data; so does every variable's query."""
        for what, expr, macos_only in dashboard_queries():
            with self.subTest(dashboard=what, expr=expr):
                result = self.query(api, expr)
                if not macos_only:
                    self.assertTrue(result, "no data")

    def test_promtool_accepts_served_output_plain_and_gzip(self):
        exporter, port = start_script()
        self.addCleanup(stop_process, exporter)
        for gzip_ok in (False, True):
            with self.subTest(gzip=gzip_ok):
                status, text = scrape_port(port, gzip_ok)
                self.assertEqual(status, 200)
                self.assertValidExposition(text)




# A busy program of its own name (Linux names a process after the link it was run
# by): one thread burning CPU, two waiting, 64 MiB touched, 20 descriptors open.
NAMED_BUSY_CHILD = """
import os, threading
memory = bytearray(64 << 20)
for i in range(0, len(memory), 4096):
    memory[i] = 1
files = [open(os.devnull) for _ in range(20)]
stop = threading.Event()
for _ in range(2):
    threading.Thread(target=stop.wait, daemon=True).start()
while True:
    pass
"""
PANEL_VARIABLES = (("$processes", "pe-busy"), ("$groupname", "pe-busy"), ("$group", "pe-busy"),
                   ("$instance", ".+"), ("$interval", "1m"))


def panel_query(expr):
    """A panel expression as Grafana sends it; a variable's label_values(SELECTOR,
    LABEL) as the series query it stands for."""
    for variable, value in PANEL_VARIABLES:
        expr = expr.replace(variable, value)
    match = re.match(r"label_values\((.*),\s*\w+\)$", expr)
    return match.group(1) if match else expr


# One file for both exporters, every selector and template field in it, each item
# matching only processes this test starts (their names begin pe-sbs-).
REFERENCE_CONFIG = r"""
process_names:
  # by the kernel's name, and its short form
  - name: "alpha-{{.Comm}}"
    comm: [pe-sbs-alpha, pe-sbs-long-name-]
  # by argv[0]'s file name, and argv[0] whole
  - name: "beta:{{.ExeBase}}:{{.ExeFull}}"
    exe: [pe-sbs-beta, FOLDER/pe-sbs-whole]
  # by the arguments, with captures, ANDed
  - name: "gamma-{{.Matches.app}}-{{.Matches.missing}}-{{.Username}}"
    cmdline:
      - '--pe-sbs-app=(?P<app>\w+)'
      - 'sleep\(30[0-9]\)'
  # all three at once, and the default name
  - comm: [sleep]
    exe: [pe-sbs-delta]
    cmdline: ['pe-sbs-delta 30[0-9]$']
  # a parent whose children join it
  - name: "parent"
    exe: [pe-sbs-parent]
"""


@unittest.skipUnless(IS_LINUX, "the reference exporter runs on Linux")
class ReferenceConfigSideBySideTest(unittest.TestCase):
    """--config.path with the reference's own file: the same groups, with the same
    members, as the reference exporter gives (Debian's prometheus-process-exporter)."""

    def start(self, argv, folder):
        child = subprocess.Popen(argv, cwd=folder, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        self.addCleanup(stop_process, child)

    def test_the_same_groups_and_members_as_the_reference(self):
        reference = shutil.which("prometheus-process-exporter")
        need(reference, "the reference exporter is not installed (Debian package "
                        "prometheus-process-exporter)")
        folder = tempfile.mkdtemp(prefix="pe-sbs-")
        self.addCleanup(shutil.rmtree, folder, True)
        for name in ("pe-sbs-alpha", "pe-sbs-long-name-for-comm", "pe-sbs-whole"):
            os.symlink(shutil.which("sleep"), os.path.join(folder, name))
        sleep_py = "import time; time.sleep(300)"
        self.start([os.path.join(folder, "pe-sbs-alpha"), "300"], folder)
        self.start([os.path.join(folder, "pe-sbs-long-name-for-comm"), "301"], folder)
        self.start(["bash", "-c", "exec -a pe-sbs-beta sleep 302"], folder)
        self.start(["bash", "-c", "exec -a %s/pe-sbs-whole sleep 303" % folder], folder)
        self.start([os.path.join(folder, "pe-sbs-whole"), "304"], folder)   # whole, too
        self.start([sys.executable, "-c", sleep_py.replace("300", "305"), "--pe-sbs-app=web"],
                   folder)
        self.start([sys.executable, "-c", sleep_py, "--pe-sbs-app=db"], folder)
        self.start(["bash", "-c", "exec -a pe-sbs-delta sleep 306"], folder)
        self.start(["bash", "-c", "exec -a pe-sbs-delta sleep 400"], folder)       # not 30x
        self.start(["bash", "-c", "exec -a pe-sbs-parent bash -c 'sleep 307; :'"], folder)
        config = os.path.join(folder, "reference.yml")
        with open(config, "w") as f:
            f.write(REFERENCE_CONFIG.replace("FOLDER", folder))
        time.sleep(0.3)                    # every exec done
        port = free_port()
        proc = subprocess.Popen([reference, "-config.path", config, "-threads=false",
                                 "-gather-smaps=false", "-web.listen-address",
                                 "127.0.0.1:%d" % port],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(stop_process, proc)
        deadline = time.monotonic() + 10
        while True:
            try:
                theirs = self.groups(scrape_port(port)[1])
                break
            except (OSError, http.client.HTTPException):
                self.assertLess(time.monotonic(), deadline, "the reference did not answer")
                time.sleep(0.05)
        result = run_script("--once", "--config.path", config)
        self.assertEqual(result.returncode, 0, result.stderr)
        ours = self.groups(result.stdout.decode())
        self.assertEqual(ours, theirs)
        user = pe.UserNames()(os.geteuid())
        self.assertEqual(ours, {          # comm holds 15 bytes: the long name never matches
            "alpha-pe-sbs-alpha": 1, "beta:pe-sbs-beta:pe-sbs-beta": 1,
            "beta:pe-sbs-whole:%s/pe-sbs-whole" % folder: 2,
            "gamma-web-<no value>-%s" % user: 1, "gamma-db-<no value>-%s" % user: 1,
            "pe-sbs-delta": 1, "parent": 2})

    @staticmethod
    def groups(text):
        return {labels["groupname"]: value for labels, value in
                parse_exposition(text)["namedprocess_namegroup_num_procs"]["samples"]
                if value}


@unittest.skipUnless(IS_LINUX, "starts and reads real processes")
class ChurnTest(unittest.TestCase, ServerFixture, ExpositionChecks):

    def test_processes_coming_and_going_during_scrapes(self):
        self.start_server(pe.LinuxReader())
        stop = threading.Event()
        spawned = []

        def churn():
            for _ in range(200):
                if stop.is_set():
                    break
                child = subprocess.Popen(["sleep", "5"])
                spawned.append(child)
                if len(spawned) % 2 == 0:
                    spawned[-2].kill()
                    spawned[-2].wait()
        thread = threading.Thread(target=churn)
        thread.start()
        scrapes = 0
        try:
            while thread.is_alive() or scrapes < 5:
                status, _, body = self.request()
                self.assertEqual(status, 200)
                parse_exposition(body.decode())       # valid, no duplicate series
                scrapes += 1
        finally:
            stop.set()
            thread.join(60)
            for child in spawned:
                child.kill()
                child.wait()
        self.assertEqual(len(spawned), 200)
        self.assertGreaterEqual(scrapes, 5)


@unittest.skipUnless(IS_LINUX, "runs executables with odd names")
class OddProcessTest(unittest.TestCase, ExpositionChecks):

    def test_odd_executable_paths_and_names_stay_valid(self):
        folder = tempfile.mkdtemp(prefix="odd exe \u00e9 ")
        self.addCleanup(shutil.rmtree, folder, True)
        sleep = os.path.realpath(shutil.which("sleep"))
        names = [b'quote " back \\ slash', b"new\nline", b"(paren) (x) y",
                 "caf\u00e9 \u2603".encode(), b"bad \xff\xfe utf8"]
        children = []
        self.addCleanup(lambda: [(c.kill(), c.wait()) for c in children])
        expected = {}
        for name in names:
            path = os.path.join(os.fsencode(folder), name)
            shutil.copy(sleep, path)
            child = subprocess.Popen([path, "30"])
            children.append(child)
            expected[child.pid] = (os.fsdecode(path).encode("utf-8", "surrogateescape")
                                   .decode("utf-8", "replace"),
                                   name[:15].decode("utf-8", "replace"))
        time.sleep(0.2)                      # let each exec finish before reading
        text = pe.Exporter(pe.LinuxReader()).scrape()
        families = self.assertValidExposition(text)
        found = {int(labels["pid"]): (labels["path"], labels["name"])
                 for labels, _ in families["process_resident_memory_bytes"]["samples"]}
        for pid, (path, name) in expected.items():
            self.assertEqual(found[pid][0], path)
            self.assertEqual(found[pid][1], name)
        # A second opinion, reported on its own: a missing prometheus_client skips
        # this part only, not the checks above.
        with self.subTest("prometheus_client reads the same paths"):
            client = client_parse(text)["process_resident_memory_bytes"]
            client_found = {int(s.labels["pid"]): s.labels["path"] for s in client.samples}
            for pid, (path, _) in expected.items():
                self.assertEqual(client_found[pid], path)


# ---------------------------------------------------------------------------
# What ships beside the script: the launchd job and the README
# ---------------------------------------------------------------------------

@in_fast_tier
class ShippedFilesTest(unittest.TestCase):


    def test_the_dashboard_is_portable_and_says_what_is_macos_only(self):
        with open(DASHBOARD, encoding="utf-8") as f:
            dashboard = json.load(f)
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertTrue({"job", "instance"} <= set(variables))
        self.assertNotIn("__inputs", dashboard)
        text = json.dumps(dashboard)
        uids = set(re.findall(r'"uid": "([^"]*)"', text)) - {dashboard["uid"]}
        # no data source uid of anyone's: the variable, or Grafana's own annotations
        self.assertEqual(uids, {"${datasource}", "-- Grafana --"})
        macos_only = {"process_memory_footprint_bytes", "process_energy_joules_total",
                      "process_idle_wakeups_total", "process_interrupt_wakeups_total",
                      "process_instructions_total", "process_cycles_total",
                      "process_cpu_performance_seconds_total", "process_wired_memory_bytes",
                      "process_memory_footprint_peak_bytes"}
        families = {f.name for f in pe.PROCESS_FAMILIES + pe.GROUP_FAMILIES + pe.SELF_FAMILIES
                    + pe.HEALTH_FAMILIES}
        for what, expr, says_macos_only in dashboard_queries():
            with self.subTest(what=what):
                names = set(re.findall(r"\b(process_[a-z_]+|namedprocess_[a-z_]+)", expr))
                self.assertTrue(names <= families, names - families)
                if names & macos_only and not names - macos_only:
                    self.assertTrue(says_macos_only, "its description must say macOS only")

    def test_launchd_plist(self):
        path = os.path.join(HERE, "com.example.process_exporter.plist")
        with open(path, "rb") as f:
            job = plistlib.load(f)
        self.assertEqual(job["Label"], "com.example.process_exporter")
        self.assertEqual(job["ProgramArguments"][0], "/usr/bin/python3")
        self.assertTrue(job["ProgramArguments"][1].endswith("/process_exporter.py"))
        self.assertTrue(os.path.isabs(job["ProgramArguments"][1]))
        self.assertIs(job["RunAtLoad"], True)
        self.assertTrue(job["KeepAlive"])
        self.assertEqual(job["ProcessType"], "Background")
        # launchd's default of 256 descriptors would cap connections well below 1,000.
        self.assertGreaterEqual(job["SoftResourceLimits"]["NumberOfFiles"],
                                pe.MAX_CONNECTIONS + pe.DESCRIPTORS_KEPT)
        self.assertTrue(os.path.isabs(job["StandardErrorPath"]))
        flags, = job["ProgramArguments"][2:]
        self.assertEqual(flags, "--config.file=/usr/local/etc/process_exporter.flags")
        # the flags file the README and the plist's comment have you write
        with tempfile.NamedTemporaryFile("w", suffix=".flags") as f:
            f.write("--web.listen-address=127.0.0.1:9256\n")
            f.flush()
            args = pe.parse_args(["--config.file=" + f.name])
        self.assertEqual(args.listen_address, "127.0.0.1:9256")

    def test_systemd_unit(self):
        path = os.path.join(HERE, "packaging", "process_exporter.service")
        with open(path) as f:
            unit = f.read()
        lines = dict(line.split("=", 1) for line in unit.splitlines()
                     if "=" in line and not line.startswith("#"))
        python, script, flags = lines["ExecStart"].split()
        self.assertEqual((python, flags), ("/usr/bin/python3",
                                           "--config.file=/etc/process_exporter/flags"))
        self.assertEqual(lines["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(lines["Restart"], "on-failure")
        self.assertEqual(lines["RestartForceExitStatus"], "SIGHUP")
        self.assertEqual(lines["NoNewPrivileges"], "yes")
        self.assertEqual(set(lines["CapabilityBoundingSet"].split()),
                         {"CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"})
        self.assertEqual(lines["ProtectProc"], "default")     # it must see every process

    def test_homebrew_formula(self):
        with open(os.path.join(HERE, "packaging", "homebrew", "process_exporter.rb")) as f:
            formula = f.read()
        self.assertIn('uses_from_macos "python"', formula)      # the Mac's own python3
        self.assertIn('"/usr/bin/python3"', formula)
        self.assertIn('libexec.install "process_exporter.py"', formula)
        self.assertIn("--config.file=#{etc}/process_exporter.flags", formula)
        self.assertIn('etc.install "process_exporter.flags"', formula)     # never overwritten
        service = formula[formula.index("service do"):formula.index("test do")]
        for line in ("keep_alive true", "run [opt_bin/\"process_exporter\"]", "log_path",
                     "error_log_path"):
            self.assertIn(line, service)
        self.assertIn("--once", formula[formula.index("test do"):])
        self.assertIn(pe.__version__, formula)

    def test_readme_documents_every_flag_and_metric(self):
        with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        for family in pe.PROCESS_FAMILIES + pe.GROUP_FAMILIES + pe.SELF_FAMILIES + \
                pe.HEALTH_FAMILIES:
            self.assertTrue("`%s`" % family.name in readme, family.name)
        for label in pe.PROCESS_LABELS:
            self.assertTrue("`%s`" % label in readme, label)
        with open(SCRIPT, encoding="utf-8") as f:
            parser_flags = re.findall(r'add_argument\(\s*"(--[a-z.-]+)"', f.read())
        self.assertGreater(len(parser_flags), 5)
        for flag in parser_flags:
            self.assertTrue("`%s" % flag in readme, flag)

    def test_license_is_mit(self):
        with open(os.path.join(HERE, "LICENSE")) as f:
            self.assertIn("MIT License", f.read())


# ---------------------------------------------------------------------------
# The benchmark (tests/benchmark.py): figures, not assertions.
#   python3 test_process_exporter.py bench [N ...]        (and bench-cmdline [N ...])
#   PROCESS_EXPORTER_BENCH=1 python3 -m unittest test_process_exporter.Benchmark
# ---------------------------------------------------------------------------

@unittest.skipUnless(os.environ.get("PROCESS_EXPORTER_BENCH") == "1",
                     "the benchmark runs only with PROCESS_EXPORTER_BENCH=1")
class Benchmark(unittest.TestCase):

    def test_benchmark(self):
        import benchmark
        counts = [int(n) for n in os.environ.get("PROCESS_EXPORTER_BENCH_COUNTS",
                                                 "0,1000,3000").split(",")]
        sys.stdout.write("\n")
        benchmark.main(["bench"] + [str(n) for n in counts])


if __name__ == "__main__":
    if sys.argv[1:2] and sys.argv[1].startswith("bench"):
        import benchmark
        benchmark.main(sys.argv[1:])
        tearDownModule()
    else:
        unittest.main()
