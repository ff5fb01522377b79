#!/usr/bin/env python3
"""The paper's claim, side by side in one run (issue 16): CPU per message of a sending and
a receiving Postfix instance for

  plain     the patched build with the XCRYPT parameters at their defaults (stock),
  xcrypt    smtpd_xcrypt_level = may and smtp_xcrypt_level = may, key cache files, warm,
  starttls  opportunistic STARTTLS both ways (TLS 1.3, session caches as Debian has them),
  gateways  stock Postfix behind our gateway pair:
            sender -> ssmail gateway outbound -> ssmail gateway inbound -> receiver,

with smtp-source (Postfix's own loader, from the build tree) injecting into the sender,
for each message size and messages-per-session count. Run by mta/postfix/cost.sh (which
says what it needs); see mta/postfix/README.md, "The paper's claim".

CPU accounting: every instance (master, its daemons, and whatever they fork) and every
gateway runs in a cgroup of its own, created before its first process starts, so a
process cannot escape the count however short it lives; the loader is in none of them.
Without a writable cgroup hierarchy it falls back to /proc (master's own and reaped
children's time plus its live children's time), which is complete for Postfix's
one-level process tree but counts in clock ticks.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TREE = os.environ.get("POSTFIX_TREE", os.path.join(REPO, "target/postfix/build/postfix-3.7.11"))
INSTANCE = os.path.join(HERE, "instance.sh")
CONFIGS = ("plain", "xcrypt", "starttls", "gateways")
# Not run unless named in --configs: XCRYPT with keys in each process's memory (no cache
# file), to tell the cost of libssmail's locked cache file from the rest of XCRYPT.
EXTRA_CONFIGS = ("xcrypt-mem",)
TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")
# Other builds to compare in the same run (--tree NAME=PATH): a configuration written
# CONFIG@NAME runs both its instances from that build tree, e.g. xcrypt@before for the
# patch before a change, interleaved with xcrypt from the current build.
TREES = {}


def base_config(config):
    """The configuration's settings, without the build it runs from (CONFIG@NAME)."""
    return config.split("@", 1)[0]


def config_tree(config):
    """The build tree CONFIG's instances run from."""
    _, _, name = config.partition("@")
    return TREES[name] if name else TREE


def die(msg, code=2):
    print(f"cost.py: {msg}", file=sys.stderr)
    sys.exit(code)


def read(path):
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read()


# ---------------------------------------------------------------------------------------
# CPU accounting


class Cgroups:
    """One cgroup per measured group under a parent of our own, v2 (cpu.stat usage_usec)
    or v1 cpuacct (cpuacct.usage, ns). Both count every task that ever ran in the group,
    including exited ones, which is what makes the count complete."""

    def __init__(self, kind, parent):
        self.kind = kind
        self.parent = parent
        self.groups = {}

    def create(self, name):
        path = os.path.join(self.parent, name)
        os.mkdir(path)
        self.groups[name] = path
        return name

    def join_fn(self, name):
        procs = os.path.join(self.groups[name], "cgroup.procs")

        def join():
            with open(procs, "w", encoding="ascii") as f:
                f.write(str(os.getpid()))

        return join

    def register(self, name, pid):
        """Nothing to do: the process joined before it started (join_fn)."""
        del name, pid

    def usage_ns(self, name):
        path = self.groups[name]
        if self.kind == "cgroup-v2":
            for line in read(os.path.join(path, "cpu.stat")).splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) * 1000
            raise RuntimeError(f"no usage_usec in {path}/cpu.stat")
        return int(read(os.path.join(path, "cpuacct.usage")))

    def pids(self, name):
        return [int(p) for p in read(os.path.join(self.groups[name], "cgroup.procs")).split()]

    def remove_all(self):
        for path in list(self.groups.values()) + [self.parent]:
            for _ in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


class ProcTree:
    """Fallback: the CPU time of a process tree of depth one (master and its daemons):
    the root's own and reaped children's time, and its live children's own time, from
    /proc/PID/stat in clock ticks. Complete for Postfix (its daemons do not fork here)."""

    kind = "proc"

    def __init__(self):
        self.roots = {}

    def create(self, name):
        self.roots[name] = []
        return name

    def join_fn(self, name):
        del name
        return None

    def register(self, name, pid):
        self.roots[name].append(pid)

    def usage_ns(self, name):
        roots = set(self.roots[name])
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = read(f"/proc/{entry}/stat")
            except OSError:
                continue
            f = stat[stat.rindex(")") + 2 :].split()
            pid, ppid = int(entry), int(f[1])
            if pid in roots:
                total += sum(int(x) for x in f[11:15])
            elif ppid in roots:
                total += int(f[11]) + int(f[12])
        return total * TICK_NS

    def pids(self, name):
        roots = set(self.roots[name])
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = read(f"/proc/{entry}/stat")
                except OSError:
                    continue
                ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
                if int(entry) in roots or ppid in roots:
                    out.append(int(entry))
        return out

    def remove_all(self):
        """Nothing was created."""


def busy_child_ns(acct, name):
    """A 0.1 s busy loop run inside group NAME, and the CPU the group saw: proves that the
    hierarchy accepts our processes and counts them."""
    before = acct.usage_ns(name)
    subprocess.run(
        [sys.executable, "-c", "import time\nt=time.process_time()\nwhile time.process_time()-t<0.1: pass"],
        preexec_fn=acct.join_fn(name),
        check=True,
    )
    return acct.usage_ns(name) - before


def cgroup_mounts():
    """(kind, mount point) of the cgroup hierarchies that can count CPU, v2 first."""
    v2, v1 = [], []
    for line in read("/proc/mounts").splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        if f[2] == "cgroup2":
            v2.append(("cgroup-v2", f[1]))
        elif f[2] == "cgroup" and "cpuacct" in f[3].split(","):
            v1.append(("cgroup-v1", f[1]))
    return v2 + v1


def choose_accounting(forced):
    if forced != "proc":
        for kind, mount in cgroup_mounts():
            if forced not in ("auto", kind):
                continue
            parent = os.path.join(mount, f"ssmail-cost-{os.getpid()}")
            try:
                os.mkdir(parent)
            except OSError:
                continue
            acct = Cgroups(kind, parent)
            try:
                acct.create("probe")
                seen = busy_child_ns(acct, "probe")
            except (OSError, RuntimeError, subprocess.CalledProcessError):
                seen = 0
            os.rmdir(acct.groups.pop("probe"))
            if seen >= 50e6:
                return acct
            acct.remove_all()
    if forced not in ("auto", "proc"):
        die(f"accounting {forced} is not available here")
    return ProcTree()


def proc_cpu_by_name(pids):
    """{comm: ns} of the live processes PIDS, from /proc/PID/schedstat (ns, the run time of
    the process's main thread: Postfix daemons have one). Used for the split by process
    type; processes that ended between two readings show up as 'exited'."""
    out = {}
    for pid in pids:
        try:
            comm = read(f"/proc/{pid}/comm").strip()
            ns = int(read(f"/proc/{pid}/schedstat").split()[0])
        except (OSError, ValueError, IndexError):
            continue
        out[(pid, comm)] = ns
    return out


# ---------------------------------------------------------------------------------------
# Instances and gateways


def free_port(used):
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in used:
            used.add(port)
            return port


def wait_port(port, secs=20):
    end = time.time() + secs
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    die(f"nothing listens on 127.0.0.1:{port}")


def make_certificate(work):
    """A throwaway self-signed RSA-2048 certificate, as Debian's ssl-cert snakeoil is."""
    key, cert = os.path.join(work, "tls.key"), os.path.join(work, "tls.crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=mx.e2e.test", "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.chmod(key, 0o600)
    return cert, key


def config_params(config, side_dir, tls):
    """main.cf lines for CONFIG, the same on both instances of a pair."""
    config = base_config(config)
    if config == "xcrypt-mem":
        return ["smtpd_xcrypt_level = may", "smtp_xcrypt_level = may"]
    if config == "xcrypt":
        data = os.path.join(side_dir, "data")
        return [
            "smtpd_xcrypt_level = may",
            f"smtpd_xcrypt_cache_file = {data}/xcrypt-smtpd.cache",
            "smtp_xcrypt_level = may",
            f"smtp_xcrypt_cache_file = {data}/xcrypt-smtp.cache",
        ]
    if config == "starttls":
        cert, key = tls
        # Debian bookworm's main.cf: snakeoil certificate, level may both ways, and the
        # two btree session caches; CApath as Debian sets it. Log level 1 (one line per
        # handshake, as XCRYPT logs one per exchange) so that every session can be checked.
        return [
            "smtpd_tls_loglevel = 1",
            "smtp_tls_loglevel = 1",
            "smtpd_tls_security_level = may",
            f"smtpd_tls_cert_file = {cert}",
            f"smtpd_tls_key_file = {key}",
            "smtpd_tls_session_cache_database = btree:${data_directory}/smtpd_scache",
            "smtp_tls_security_level = may",
            "smtp_tls_CApath = /etc/ssl/certs",
            "smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache",
        ]
    return []


def session_params(mps):
    """The sender's connection cache: none for one message per session; for 20, always
    cache connections to the receiver and close each after 20 deliveries."""
    # At most 4 parallel deliveries to the receiver, so that 20 messages per session is
    # reachable with a few hundred messages per run (the default, 20, spreads them thin).
    common = ["smtp_destination_concurrency_limit = 4"]
    if mps == 1:
        return common + ["smtp_connection_cache_on_demand = no"]
    # smtp_connection_cache_destinations matches the bare next-hop host (smtp_connect.c).
    return common + [
        "smtp_connection_cache_destinations = 127.0.0.1",
        f"smtp_connection_reuse_count_limit = {mps}",
    ]


class Pair:
    """A sending and a receiving instance (and a gateway pair for 'gateways') for one
    configuration and one messages-per-session count, each in its own CPU group."""

    def __init__(self, config, mps, work, acct, ports, tls, ssmail, extra):
        self.config, self.mps = config, mps
        self.name = f"{config}-{mps}"
        self.dir = os.path.join(work, self.name)
        self.rdir = os.path.join(self.dir, "receiver")
        self.sdir = os.path.join(self.dir, "sender")
        self.acct = acct
        self.procs = []
        self.rport, self.sport = free_port(ports), free_port(ports)
        self.groups = {"receiver": acct.create(f"{self.name}-receiver"),
                       "sender": acct.create(f"{self.name}-sender")}
        self.start_instance("receiver", self.rdir, self.rport, None,
                            config_params(config, self.rdir, tls) + extra["receiver"])
        relay = self.rport
        if base_config(config) == "gateways":
            self.groups["gateways"] = acct.create(f"{self.name}-gateways")
            gin, gout = free_port(ports), free_port(ports)
            self.gin_log = os.path.join(self.dir, "inbound.log")
            self.gout_log = os.path.join(self.dir, "outbound.log")
            self.start_gateway(ssmail, "inbound", gin, self.rport, self.gin_log)
            self.start_gateway(ssmail, "outbound", gout, gin, self.gout_log)
            relay = gout
        self.start_instance("sender", self.sdir, self.sport, relay,
                            config_params(config, self.sdir, tls)
                            + session_params(mps) + extra["sender"])

    def start_instance(self, side, d, port, relay, params):
        cmd = ["bash", INSTANCE, "start", d, "--port", str(port)]
        if relay:
            cmd += ["--relayhost", f"127.0.0.1:{relay}"]
        for p in params:
            cmd += ["--param", p]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, POSTFIX_TREE=config_tree(self.config)),
                       preexec_fn=self.acct.join_fn(self.groups[side]))
        master = int(read(os.path.join(d, "queue/pid/master.pid")).strip())
        self.acct.register(self.groups[side], master)
        wait_port(port)

    def start_gateway(self, ssmail, direction, listen, upstream, log):
        with open(log, "w", encoding="ascii") as err:
            p = subprocess.Popen(
                [ssmail, "gateway", direction, "--listen", f"127.0.0.1:{listen}",
                 "--upstream", f"127.0.0.1:{upstream}", "--log-format", "json"],
                stdout=subprocess.DEVNULL, stderr=err,
                preexec_fn=self.acct.join_fn(self.groups["gateways"]),
            )
        self.procs.append(p)
        self.acct.register(self.groups["gateways"], p.pid)
        wait_port(listen)

    def stop(self):
        for d in (self.sdir, self.rdir):
            subprocess.run(["bash", INSTANCE, "stop", d], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def maildir(self):
        return os.path.join(self.rdir, "mail/Maildir/new")

    def delivered(self):
        try:
            return len(os.listdir(self.maildir()))
        except FileNotFoundError:
            return 0

    def clear_maildir(self):
        d = self.maildir()
        if os.path.isdir(d):
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))

    def queues_empty(self):
        for d in (self.sdir, self.rdir):
            for q in ("incoming", "active", "deferred", "maildrop"):
                for _, _, files in os.walk(os.path.join(d, "queue", q)):
                    if files:
                        return False
        return True

    def usage(self):
        return {side: self.acct.usage_ns(g) for side, g in self.groups.items()}

    def by_process(self):
        out = {}
        # Not the gateways: schedstat covers a process's main thread, and they are tokio's.
        for side in ("sender", "receiver"):
            out[side] = proc_cpu_by_name(self.acct.pids(self.groups[side]))
        return out

    def log_sizes(self):
        logs = {"receiver": os.path.join(self.rdir, "maillog"),
                "sender": os.path.join(self.sdir, "maillog")}
        if base_config(self.config) == "gateways":
            logs["inbound"] = self.gin_log
            logs["outbound"] = self.gout_log
        return {k: (v, os.path.getsize(v) if os.path.exists(v) else 0) for k, v in logs.items()}


def log_since(marks, key):
    path, offset = marks[key]
    with open(path, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        return f.read()


def gateway_session_lines(marks, side):
    out = []
    for line in log_since(marks, side).splitlines():
        if line.startswith("{") and '"session"' in line:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") == "session":
                out.append(rec)
    return out


def gateway_sessions(marks, side):
    return len(gateway_session_lines(marks, side))


def count(pattern, text):
    return len(re.findall(pattern, text, re.M))


def split_delta(before, after, total_ns):
    """Per process type ns between two by_process() readings of one side; what the live
    processes do not explain went to processes that exited (or, in /proc mode, rounding)."""
    names = {}
    for key, ns in after.items():
        names[key[1]] = names.get(key[1], 0) + ns - before.get(key, 0)
    live = sum(names.values())
    names["exited"] = total_ns - live
    return names


# ---------------------------------------------------------------------------------------
# One measured run


def run_cell(pair, size, messages, args, measure=True):
    pair.clear_maildir()
    marks = pair.log_sizes()
    split0 = pair.by_process() if measure else None
    use0 = pair.usage()
    cmd = [args.smtp_source, "-l", str(size), "-m", str(messages),
           "-f", "loader@load.test", "-t", "rcpt@dest.test", "-M", "loader.test"]
    if pair.mps == 1:
        cmd += ["-s", str(min(args.concurrency, messages))]
    else:
        cmd += ["-d", "-s", str(max(1, messages // pair.mps))]
    cmd.append(f"127.0.0.1:{pair.sport}")
    t0 = time.time()
    src = subprocess.run(cmd, capture_output=True, text=True, check=False)
    t_inject = time.time() - t0
    end = time.time() + args.timeout
    while time.time() < end and (pair.delivered() < messages or not pair.queues_empty()):
        time.sleep(0.05)
    wall = time.time() - t0
    # Every session closed (the sender's cached connections idle out after 2 s), the
    # gateways' session lines written: the run's whole cost falls inside its window.
    end = time.time() + 15
    while time.time() < end:
        rlog = log_since(marks, "receiver")
        if count(r"postfix/smtpd\[\d+\]: disconnect from", rlog) >= count(
                r"postfix/smtpd\[\d+\]: connect from", rlog):
            if base_config(pair.config) != "gateways" or gateway_sessions(marks, "inbound") >= count(
                    r"postfix/smtpd\[\d+\]: connect from", rlog):
                break
        time.sleep(0.1)
    time.sleep(args.settle)
    use1 = pair.usage()
    split1 = pair.by_process() if measure else None
    got = pair.delivered()
    cpu = {side: use1[side] - use0[side] for side in use0}
    rlog, slog = log_since(marks, "receiver"), log_since(marks, "sender")
    cell = {
        "config": pair.config, "mps": pair.mps, "size": size, "messages": messages,
        "delivered": got, "loader_exit": src.returncode,
        "loader_stderr": src.stderr.strip()[-500:],
        "inject_secs": round(t_inject, 3), "wall_secs": round(wall, 3),
        "cpu_ns": cpu, "cpu_us_per_message": sum(cpu.values()) / 1e3 / max(messages, 1),
        "receiver_sessions": count(r"postfix/smtpd\[\d+\]: connect from", rlog),
        "receiver_xcrypt": count(r"XCRYPT connection established from", rlog),
        "receiver_tls": count(r"TLS connection established from", rlog),
        "receiver_tls13": count(r"TLS connection established from .*TLSv1\.3", rlog),
        "sender_sessions": count(r"postfix/smtpd\[\d+\]: connect from", slog),
        "sender_sent": count(r"postfix/smtp\[\d+\]: .* status=sent", slog),
        "sender_xcrypt": count(r"XCRYPT connection established to", slog),
        "sender_tls_reused": count(r"postfix/smtp\[\d+\]: .*Untrusted TLS connection (reused|established)", slog),
        "errors": count(r"(warning|fatal|panic):", rlog + slog),
        "error_lines": re.findall(r"^.*(?:warning|fatal|panic):.*$", rlog + slog, re.M)[:5],
    }
    if base_config(pair.config) == "gateways":
        for side in ("inbound", "outbound"):
            sessions = gateway_session_lines(marks, side)
            cell[f"gw_{side}_sessions"] = len(sessions)
            cell[f"gw_{side}_xcrypt"] = sum(1 for s in sessions if s.get("xcrypt") is True)
    if measure:
        cell["split_ns"] = {side: split_delta(split0[side], split1[side], cpu[side])
                            for side in split0}
    return cell


def check_cell(cell):
    """Problems with CELL that make its figure meaningless or mean lost mail."""
    bad = []
    n = cell["messages"]
    if cell["loader_exit"] != 0:
        bad.append(f"smtp-source exited {cell['loader_exit']}: {cell['loader_stderr']}")
    if cell["delivered"] != n:
        bad.append(f"{cell['delivered']} of {n} messages in the receiver's Maildir")
    sessions = cell["receiver_sessions"]
    if cell["config"].startswith("xcrypt") and (cell["receiver_xcrypt"] != sessions or sessions == 0):
        bad.append(f"XCRYPT on {cell['receiver_xcrypt']} of {sessions} receiver sessions")
    if base_config(cell["config"]) == "starttls" and (cell["receiver_tls13"] != sessions or sessions == 0):
        bad.append(f"TLS 1.3 on {cell['receiver_tls13']} of {sessions} receiver sessions")
    if base_config(cell["config"]) == "gateways":
        for side in ("inbound", "outbound"):
            s, x = cell[f"gw_{side}_sessions"], cell[f"gw_{side}_xcrypt"]
            if x != s or s == 0:
                bad.append(f"gateway {side}: XCRYPT on {x} of {s} sessions")
    return bad


# ---------------------------------------------------------------------------------------
# Report


def cpu_line():
    model, flags = "?", set()
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name") and model == "?":
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    want = ("adx", "bmi2", "avx2", "avx512ifma")
    return model, {f: f in flags for f in want}


# Student's t, two-sided 95%, by degrees of freedom (standard table values). Between
# listed values the smaller df's is used (a wider interval); beyond 120, the normal 1.960.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
       9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
       16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074,
       23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045,
       30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t95(df):
    if df > 120:
        return 1.960
    return T95[max(d for d in T95 if d <= df)]


def with_plain(sel, plain):
    """(cell, plain cell of the same repetition) for each cell of SEL that has one. The
    cells are interleaved, so the two met the same machine: it drifts between
    repetitions by more than XCRYPT's cost, and within one moves both alike."""
    by_rep = {c["rep"]: c for c in plain if "rep" in c}
    return [(c, by_rep[c["rep"]]) for c in sel if c.get("rep") in by_rep]


def mean_se(values):
    return {"mean": statistics.mean(values),
            "se": statistics.stdev(values) / len(values) ** 0.5}


def paired(sel, plain):
    """Each run's ratio to the plain run of the same repetition: mean, standard error,
    95% interval."""
    r = [c["cpu_us_per_message"] / b["cpu_us_per_message"] for c, b in with_plain(sel, plain)]
    if len(r) < 2:
        return None
    out = mean_se(r)
    half = t95(len(r) - 1) * out["se"]
    return {"n": len(r), **out, "ci95": [out["mean"] - half, out["mean"] + half]}


def summarize(cells, sizes, mpss, configs):
    """The table's rows, and what each configuration adds in the processes XCRYPT
    touches (touched_shares, for each row that has a split), from one selection of cells
    per (size, messages per session, configuration)."""
    rows, split = [], []
    for size in sizes:
        for mps in mpss:
            plain_cells = [c for c in cells
                           if c["config"] == "plain" and c["size"] == size and c["mps"] == mps]
            plain_med = (statistics.median(c["cpu_us_per_message"] for c in plain_cells)
                         if plain_cells else None)
            for config in configs:
                sel = [c for c in cells if c["config"] == config and c["size"] == size
                       and c["mps"] == mps]
                if not sel:
                    continue
                us = [c["cpu_us_per_message"] for c in sel]
                med = statistics.median(us)
                sessions = sum(c["receiver_sessions"] for c in sel)
                parts = {}
                for side in sel[0]["cpu_ns"]:
                    parts[side] = statistics.median(
                        c["cpu_ns"][side] / 1e3 / c["messages"] for c in sel)
                rows.append({
                    "config": config, "size": size, "mps": mps, "runs": len(us),
                    "us_per_message": med, "min": min(us), "max": max(us),
                    "spread_pct": (max(us) - min(us)) / med * 100 if med else None,
                    "ratio_to_plain": med / plain_med if plain_med else None,
                    "paired_ratio": paired(sel, plain_cells) if config != "plain" else None,
                    "by_side_us": parts,
                    "messages_per_receiver_session":
                        sum(c["messages"] for c in sel) / sessions if sessions else None,
                })
                shares = touched_shares(sel, plain_cells) if config != "plain" else None
                if shares:
                    split.append({"config": config, "size": size, "mps": mps, **shares})
    return rows, split


def print_table(rows, out):
    print("| configuration | size | msgs/session (loader) | msgs/receiver session | CPU µs/message (median) | ratio to plain | paired ratio: mean ± s.e. [95% interval] | spread (min–max) | sender / receiver / gateways µs |", file=out)
    print("|---|---:|---:|---:|---:|---:|---|---|---|", file=out)
    for r in rows:
        sides = r["by_side_us"]
        parts = f"{sides['sender']:.0f} / {sides['receiver']:.0f}"
        if "gateways" in sides:
            parts += f" / {sides['gateways']:.0f}"
        spread = f"{r['min']:.0f}–{r['max']:.0f} ({r['spread_pct']:.0f}%)" if r["runs"] > 1 else "1 run"
        ratio = f"{r['ratio_to_plain']:.3f}" if r["ratio_to_plain"] else "n/a"
        mpr = f"{r['messages_per_receiver_session']:.1f}" if r["messages_per_receiver_session"] else "n/a"
        size = f"{r['size'] // 1024} KB"
        p = r.get("paired_ratio")
        pr = (f"{p['mean']:.3f} ± {p['se']:.3f} [{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}]"
              if p else "n/a")
        print(f"| {r['config']} | {size} | {r['mps']} | {mpr} | {r['us_per_message']:.0f} | {ratio} | {pr} | {spread} | {parts} |", file=out)


# The processes XCRYPT runs in, and those that carry its log lines or its saved state:
# the sender's smtp, scache and postlogd, the receiver's smtpd and postlogd. The sender's
# smtpd (the loader's side), cleanup, qmgr, virtual, master and the rest do the same work
# in every configuration, apart from the one Received: line.
TOUCHED = {("sender", "smtp"), ("sender", "scache"), ("sender", "postlogd"),
           ("receiver", "smtpd"), ("receiver", "postlogd")}


def part_us(cell, touched):
    """µs per message of CELL in the processes XCRYPT touches (or in the others)."""
    return sum(v for side, d in cell["split_ns"].items() for n, v in d.items()
               if ((side, n) in TOUCHED) == touched) / 1e3 / cell["messages"]


def touched_shares(sel, plain):
    """What the cells SEL add over their repetitions' PLAIN cells, split into the processes
    XCRYPT touches and the rest, each as a share of plain's whole CPU in the same
    repetition: paired mean and standard error. The touched share varies far less between
    runs than the whole (cleanup and virtual, which write and fsync the queue and the
    Maildir, vary most), so it shows XCRYPT's own cost; the untouched share should be
    noise around zero, and the plain@ control (the same build in a second pair) shows how
    large that noise and any bias of one pair against another are. Needs the per-process
    split (exited processes count as untouched: with Postfix's default max_use they
    include smtp and smtpd processes, so the split is clean only when none exit). None
    with fewer than two pairs."""
    both = with_plain([c for c in sel if "split_ns" in c], [b for b in plain if "split_ns" in b])
    if len(both) < 2:
        return None
    t = [(part_us(c, True) - part_us(b, True)) / b["cpu_us_per_message"] for c, b in both]
    u = [(part_us(c, False) - part_us(b, False)) / b["cpu_us_per_message"] for c, b in both]
    # (cgroup and schedstat disagree by a few µs a run even when nothing exits)
    exited = sum(max(d.get("exited", 0), 0)
                 for pair in both for x in pair for d in x["split_ns"].values())
    total = sum(v for pair in both for x in pair for v in x["cpu_ns"].values())
    return {"n": len(t), "touched": mean_se(t), "untouched": mean_se(u),
            "exited_share": exited / total if total else 0}


def print_touched(split, out):
    if not split:
        return
    print("\nAdded over plain, as a share of plain's whole CPU in the same repetition (paired mean ± s.e.):", file=out)
    for r in split:
        t, u = r["touched"], r["untouched"]
        note = (f" (processes that exited during the runs used {r['exited_share'] * 100:.1f}% of"
                " the CPU: the split is not clean)" if r["exited_share"] > 0.005 else "")
        print(f"  {r['config']} {r['size'] // 1024} KB {r['mps']}/session, n={r['n']}: "
              f"in the processes XCRYPT touches {t['mean'] * 100:+.2f}% ± {t['se'] * 100:.2f}, "
              f"in the others {u['mean'] * 100:+.2f}% ± {u['se'] * 100:.2f}{note}", file=out)


def print_split(cells, configs, out):
    """Median µs/message per process type and side, per configuration and cell shape."""
    keys = sorted({(c["config"], c["size"], c["mps"]) for c in cells if "split_ns" in c},
                  key=lambda k: (k[1], k[2], configs.index(k[0])))
    print("\nCPU µs/message by process type (median over runs; 'exited' = processes that ended during the run):", file=out)
    for config, size, mps in keys:
        sel = [c for c in cells if (c["config"], c["size"], c["mps"]) == (config, size, mps)]
        parts = []
        for side in sel[0]["split_ns"]:
            names = sorted({n for c in sel for n in c["split_ns"][side]})
            items = []
            for n in names:
                v = statistics.median(c["split_ns"][side].get(n, 0) / 1e3 / c["messages"] for c in sel)
                if abs(v) >= 0.5:
                    items.append(f"{n} {v:.0f}")
            parts.append(f"{side}: " + ", ".join(items))
        print(f"  {config} {size // 1024} KB {mps}/session: " + "; ".join(parts), file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="CI: few messages, one repetition; checks delivery, not ratios")
    ap.add_argument("--messages", type=int, help="messages per run (default 400; quick 40)")
    ap.add_argument("--reps", type=int, help="repetitions of every cell (default 5; quick 1)")
    ap.add_argument("--sizes", default="2048,65536", help="message body sizes in bytes")
    ap.add_argument("--mps", default="1,20", help="messages per session")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--concurrency", type=int, default=10,
                    help="concurrent loader sessions at one message per session")
    ap.add_argument("--settle", type=float, help="seconds after delivery before reading CPU (default 2.5; quick 0.5)")
    ap.add_argument("--timeout", type=float, default=180, help="seconds to wait for delivery")
    ap.add_argument("--accounting", default="auto", choices=("auto", "cgroup-v2", "cgroup-v1", "proc"))
    ap.add_argument("--smtp-source", default=os.path.join(TREE, "bin/smtp-source"))
    ap.add_argument("--ssmail", default=os.path.join(REPO, "target/release/ssmail"))
    ap.add_argument("--json", help="write every run and the summary there")
    ap.add_argument("--receiver-param", action="append", default=[], metavar="'NAME = VALUE'",
                    help="an extra main.cf line for every receiver (repeatable; e.g. to test "
                    "that lost mail fails the run: 'defer_transports = virtual')")
    ap.add_argument("--sender-param", action="append", default=[], metavar="'NAME = VALUE'",
                    help="an extra main.cf line for every sender (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--tree", action="append", default=[], metavar="NAME=PATH",
                    help="another Postfix build tree; CONFIG@NAME in --configs runs from it "
                    "(repeatable; e.g. --tree before=target/postfix/before/postfix-3.7.11 "
                    "--configs plain,xcrypt,xcrypt@before)")
    args = ap.parse_args()
    args.messages = args.messages or (40 if args.quick else 400)
    args.reps = args.reps or (1 if args.quick else 5)
    if args.settle is None:
        args.settle = 0.5 if args.quick else 2.5
    sizes = [int(x) for x in args.sizes.split(",")]
    mpss = [int(x) for x in args.mps.split(",")]
    for t in args.tree:
        name, eq, path = t.partition("=")
        if not eq or not name or "@" in name:
            die(f"--tree wants NAME=PATH, not {t}")
        TREES[name] = os.path.abspath(path)
    configs = [c for c in args.configs.split(",") if c]
    for c in configs:
        if base_config(c) not in CONFIGS + EXTRA_CONFIGS:
            die(f"unknown configuration {c}")
        if "@" in c and c.partition("@")[2] not in TREES:
            die(f"{c}: no --tree {c.partition('@')[2]}=PATH")
        if not os.access(os.path.join(config_tree(c), "libexec/master"), os.X_OK):
            die(f"{c}: no libexec/master in {config_tree(c)}")
    if os.geteuid() != 0:
        die("needs root (Postfix's master runs as root)")
    for path in (args.smtp_source, os.path.join(TREE, "libexec/master")):
        if not os.access(path, os.X_OK):
            die(f"no {path}: run mta/postfix/build.sh first")
    if any(base_config(c) == "gateways" for c in configs) and not os.access(args.ssmail, os.X_OK):
        die(f"no {args.ssmail}: cargo build --release --locked -p ssmail")

    acct = choose_accounting(args.accounting)
    work = tempfile.mkdtemp(prefix="ssmail-cost-")
    os.chmod(work, 0o755)
    tls = make_certificate(work) if any(base_config(c) == "starttls" for c in configs) else None
    model, flags = cpu_line()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    uptime0 = read("/proc/loadavg").split()[:3]
    print(f"cost.py: CPU {model}; flags {' '.join(f + ('+' if v else '-') for f, v in flags.items())}; "
          f"{os.cpu_count()} CPUs; accounting {acct.kind}; load {' '.join(uptime0)}", file=sys.stderr)

    pairs, ports, cells, problems = {}, set(), [], []
    try:
        for config in configs:
            for mps in mpss:
                pairs[(config, mps)] = Pair(config, mps, work, acct, ports, tls, args.ssmail,
                                            {"receiver": args.receiver_param,
                                             "sender": args.sender_param})
        # Warm-up: every pair once, unmeasured (XCRYPT's key caches, TLS session caches,
        # daemons started).
        for key, pair in pairs.items():
            cell = run_cell(pair, sizes[0], max(pair.mps, 20), args, measure=False)
            for p in check_cell(cell):
                problems.append(f"warm-up {pair.name}: {p}")
        order = list(pairs)
        for rep in range(args.reps):
            for size in sizes:
                for mps in mpss:
                    # Interleaved, in a different order each repetition.
                    keys = [k for k in order if k[1] == mps]
                    random.Random(rep * 1000 + size + mps).shuffle(keys)
                    for key in keys:
                        cell = run_cell(pairs[key], size, args.messages, args)
                        cell["rep"] = rep
                        cells.append(cell)
                        bad = check_cell(cell)
                        problems += [f"{key[0]} {size} B {mps}/session rep {rep}: {p}" for p in bad]
                        print(f"  rep {rep} {key[0]:9} {size:6} B {mps:2}/session: "
                              f"{cell['cpu_us_per_message']:7.0f} µs/msg, {cell['delivered']}/{cell['messages']} delivered, "
                              f"{cell['receiver_sessions']} receiver sessions, {cell['wall_secs']:.1f} s"
                              + (" PROBLEM" if bad else ""), file=sys.stderr)
    finally:
        for pair in pairs.values():
            pair.stop()
        acct.remove_all()
        if args.keep or problems:
            print(f"cost.py: work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    rows, split = summarize(cells, sizes, mpss, configs)
    uptime1 = read("/proc/loadavg").split()[:3]
    print(f"\nThe paper's claim, side by side: {started}, {model} "
          f"({', '.join(f + ('' if v else ' no') for f, v in flags.items())}), {os.cpu_count()} CPUs, "
          f"load average {' '.join(uptime0)} at start, {' '.join(uptime1)} at end; "
          f"{args.messages} messages per run, {args.reps} run(s) per cell, interleaved; "
          f"CPU of both instances (+ gateways) from {acct.kind}\n")
    print_table(rows, sys.stdout)
    print_split(cells, configs, sys.stdout)
    print_touched(split, sys.stdout)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"started": started, "cpu": model, "flags": flags, "accounting": acct.kind,
                       "load_start": uptime0, "load_end": uptime1, "messages": args.messages,
                       "reps": args.reps, "rows": rows, "touched_split": split, "cells": cells,
                       "problems": problems},
                      f, indent=1, default=str)
    if problems:
        print("\ncost.py: FAILED:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print("\ncost.py: every message arrived in every configuration", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
