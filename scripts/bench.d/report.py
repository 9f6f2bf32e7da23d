#!/usr/bin/env python3
"""Turn scripts/bench's raw results into markdown tables and PASS/MISS lines.

  report.py META RESULTS [--write-md docs/BENCHMARKS.md]

RESULTS rows: corpus section label phase seconds rss_kib size_bytes rc
The markdown goes to stdout; with --write-md it also replaces the text between
<!-- BENCH-RESULTS:BEGIN --> and <!-- BENCH-RESULTS:END --> in the given file.
"""
import sys

BEGIN, END = "<!-- BENCH-RESULTS:BEGIN -->", "<!-- BENCH-RESULTS:END -->"
MB = 1e6  # throughputs and sizes in decimal MB

meta, corpora = {}, {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if f[0] == "corpus":
        corpora[f[1]] = {"bytes": int(f[2]), "files": int(f[3]), "du": int(f[4] or 0)}
    elif len(f) >= 2:
        meta[f[0]] = f[1]

rows = {}
order = []
for line in open(sys.argv[2]):
    f = line.rstrip("\n").split("\t")
    if len(f) < 8:
        continue
    c, sec, label, phase, secs, rss, size, rc = f[:8]
    cpu = f[8] if len(f) > 8 else ""
    key = (c, sec, label, phase)
    rows[key] = {
        "s": float(secs) if secs else None,
        "rss": int(rss) if rss else None,
        "size": int(size) if size else None,
        "rc": int(rc),
        "cpu": float(cpu) if cpu else None,
    }
    order.append(key)

out = []
p = out.append


def get(c, sec, label, phase):
    return rows.get((c, sec, label, phase))


def ok(r):
    return r is not None and r["rc"] == 0 and r["s"] is not None


def status(r):
    if r is None:
        return "—"
    if r["rc"] == 5:
        return "n/a (not supported yet)"
    if r["rc"] != 0:
        return "failed (exit %d)" % r["rc"]
    return None


def thr(c, r):
    return corpora[c]["bytes"] / MB / max(r["s"], 1e-3)


def cpus(r):
    return "%.1f" % r["cpu"] if r.get("cpu") is not None else ""


def fmt_ratio(x):
    return "%.2f×" % x


MAIN = ["wimpack none", "wimpack zstd", "wimpack lzma solid", "wimpack XPRESS", "wimpack LZX",
        "wimlib none", "wimlib XPRESS", "wimlib LZX", "wimlib LZMS solid", "tar+zstd -3", "squashfs zstd"]
OURS = [l for l in MAIN if l.startswith("wimpack")]
PEERS = [l for l in MAIN if not l.startswith("wimpack")]
CORPUS_DESC = {
    "linux": "Linux 6.1 source (Debian linux-source-6.1)",
    "usrlib": "sample of /usr/lib",
    "dups": "one source tree three times, copies 2 and 3 with ~1% of files changed",
    "large": "two large files (a tar of the linux tree, a concatenation of shared libraries)",
}

p("## Results: %s mode, %s" % (meta.get("mode"), meta.get("date")))
p("")
p("- Command: `%s`" % meta.get("command"))
p("- Machine: %s cores (`nproc`), %s, %s RAM, %s, kernel %s" % (
    meta.get("nproc"), meta.get("cpu"), meta.get("mem"), meta.get("fs"), meta.get("kernel")))
p("- Tools: %s; %s; %s; %s; %s" % (meta.get("wimpack"), meta.get("wimlib"), meta.get("zstd"),
                                  meta.get("tar"), meta.get("squashfs")))
p("- Page cache: %s" % meta.get("cache"))
p("- Timing: best of %s runs, wall clock; all compressors with 2 threads (`--threads=2`, `-T0`, "
  "`-processors 2`); wimlib-imagex apply has no thread option. MB = 10^6 bytes; throughput = "
  "input bytes / seconds, for capture and apply alike. Peak RSS from `/usr/bin/time -f %%M` "
  "(largest process of a pipeline)." % meta.get("repeats"))
p("- Load average at start / end: %s / %s (other engineers compile on this 2-core machine; "
  "timings are noisy while they do)" % (meta.get("load"), meta.get("load_end")))
p("")

for c in corpora:
    info = corpora[c]
    if not any(get(c, "main", l, "capture") for l in MAIN):
        continue
    p("### Corpus `%s`: %s — %d files, %.1f MB" % (c, CORPUS_DESC.get(c, c), info["files"], info["bytes"] / MB))
    p("")
    p("| tool / setting | capture MB/s | size MB | size % of input | capture RSS MB | capture CPU s | apply MB/s | apply RSS MB | apply CPU s |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for l in MAIN:
        cap, app = get(c, "main", l, "capture"), get(c, "main", l, "apply")
        if cap is None:
            continue
        st = status(cap)
        if st:
            p("| %s | %s | | | | | | | |" % (l, st))
            continue
        a = "%.1f" % thr(c, app) if ok(app) else (status(app) or "—")
        ar = "%.0f" % (app["rss"] / 1024) if ok(app) else ""
        ac = cpus(app) if ok(app) else ""
        p("| %s | %.1f | %.2f | %.1f%% | %.0f | %s | %s | %s | %s |" % (
            l, thr(c, cap), cap["size"] / MB, 100.0 * cap["size"] / info["bytes"], cap["rss"] / 1024, cpus(cap), a, ar, ac))
    for l in ["wimlib XPRESS", "wimlib LZX", "wimlib LZMS solid"]:
        r = get(c, "cross", "wimpack apply of " + l, "apply")
        if r is None:
            continue
        wl = get(c, "main", l, "apply")
        s = status(r)
        if s:
            p("| wimpack apply of the %s archive | | | | | | %s | | |" % (l, s))
        else:
            p("| wimpack apply of the %s archive | | | | | | %.1f | %.0f | %s |" % (l, thr(c, r), r["rss"] / 1024, cpus(r)))
    p("")
    p("Ratios of wimpack to each peer on `%s`: capture throughput × / output size × / apply throughput × "
      "(higher is better for throughput, lower for size)." % c)
    p("")
    peers = [l for l in PEERS if ok(get(c, "main", l, "capture"))]
    p("| wimpack \\ peer | " + " | ".join(peers) + " |")
    p("|---|" + "---|" * len(peers))
    for o in OURS:
        oc, oa = get(c, "main", o, "capture"), get(c, "main", o, "apply")
        if not ok(oc):
            if oc is not None:
                p("| %s | %s |" % (o, " | ".join([status(oc)] * len(peers))))
            continue
        cells = []
        for q in peers:
            qc, qa = get(c, "main", q, "capture"), get(c, "main", q, "apply")
            tr = qc["s"] / oc["s"]
            sz = oc["size"] / qc["size"]
            ap = (qa["s"] / oa["s"]) if ok(oa) and ok(qa) else None
            cells.append("%s / %s / %s" % (fmt_ratio(tr), fmt_ratio(sz), fmt_ratio(ap) if ap else "—"))
        p("| %s | %s |" % (o, " | ".join(cells)))
    p("")

# threads
t1, t2 = get("large", "threads", "wimpack zstd --threads=1", "capture"), get("large", "threads", "wimpack zstd --threads=2", "capture")
if ok(t1) and ok(t2):
    p("### Threads: wimpack zstd capture of the large-file corpus")
    p("")
    p("| threads | seconds | MB/s | peak RSS MB |")
    p("|---:|---:|---:|---:|")
    for n, r in ((1, t1), (2, t2)):
        p("| %d | %.2f | %.1f | %.0f |" % (n, r["s"], thr("large", r), r["rss"] / 1024))
    p("")
    p("Speed-up 2 threads vs 1: %.2f×" % (t1["s"] / t2["s"]))
    p("")

# incremental
inc = {l: get("linux", "incr", l, ph) for l, ph in [
    ("wimpack append --update-of=-1", "append"), ("wimpack append (full)", "append"),
    ("wimlib append --update-of=-1", "append"), ("wimlib append (full)", "append"),
    ("wimpack capture --delta-from base", "capture")]}
if any(ok(r) for r in inc.values()):
    p("### Incremental: `linux` corpus with %s files changed (content + mtime)" % meta.get("changed", "?"))
    p("")
    p("Each append starts from a fresh copy of the base archive (wimpack: its zstd capture; "
      "wimlib: its LZX capture of the same tree); the copy is not timed.")
    p("")
    p("| operation | seconds | peak RSS MB | bytes added |")
    p("|---|---:|---:|---:|")
    for l, r in inc.items():
        if r is None:
            continue
        st = status(r)
        if st:
            p("| %s | %s | | |" % (l, st))
        else:
            p("| %s | %.2f | %.0f | %s |" % (l, r["s"], r["rss"] / 1024, "{:,}".format(r["size"])))
    if ok(inc["wimpack capture --delta-from base"]) and meta.get("base"):
        p("")
        p("Delta capture: %s bytes vs base archive %s bytes = %.2f%%" % (
            "{:,}".format(inc["wimpack capture --delta-from base"]["size"]), "{:,}".format(int(meta["base"])),
            100.0 * inc["wimpack capture --delta-from base"]["size"] / int(meta["base"])))
    p("")

# writing commands
ed = {l: get("linux", "edit", l, ph) for l, ph in [
    ("wimpack export one image", "export"), ("wimpack delete --soft", "delete"),
    ("wimpack update add one file", "update")]}
if any(r is not None for r in ed.values()):
    p("### Writing commands: the `linux` corpus as a two-image archive (base + `linux-mod`), %s bytes" %
      "{:,}".format(int(meta.get("two", 0))))
    p("")
    p("Export writes image 2 into a new archive; delete and update run on a fresh copy (not timed); "
      "the last column is the destination's size (export) or how much the archive grew.")
    p("")
    p("| operation | seconds | peak RSS MB | bytes |")
    p("|---|---:|---:|---:|")
    for l, r in ed.items():
        if r is None:
            continue
        st = status(r)
        if st:
            p("| %s | %s | | |" % (l, st))
        else:
            p("| %s | %.3f | %.0f | %s |" % (l, r["s"], r["rss"] / 1024, "{:,}".format(r["size"])))
    if "export_dups" in meta:
        p("")
        p("Blobs stored more than once in the exported archive: %s" % meta["export_dups"])
    p("")

# levels
lv = [(k[2], rows[k]) for k in order if k[0] == "linux" and k[1] == "levels"]
if lv:
    p("### Levels: wimpack on the `linux` corpus (capture only)")
    p("")
    p("| setting | capture MB/s | size MB | size % of input | peak RSS MB |")
    p("|---|---:|---:|---:|---:|")
    for l, r in lv:
        st = status(r)
        if st:
            p("| %s | %s | | | |" % (l, st))
        else:
            p("| %s | %.1f | %.2f | %.1f%% | %.0f |" % (l, thr("linux", r), r["size"] / MB,
                                                   100.0 * r["size"] / corpora["linux"]["bytes"], r["rss"] / 1024))
    p("")

# targets
p("### Issue targets")
p("")
p("```")
targets = []


def check(name, measured, op, goal, unit="×", cpu=None):
    if measured is None:
        targets.append("SKIP %s: not measured" % name)
        return
    passed = measured >= goal if op == ">=" else measured <= goal
    margin = (measured / goal - 1) * 100 if op == ">=" else (goal / measured - 1) * 100
    extra = "; by CPU seconds %.2f×" % cpu if cpu else ""
    targets.append("%s %s: %.3f%s, target %s %.2f%s (margin %+.0f%%%s)" % (
        "PASS" if passed else "MISS", name, measured, unit, op, goal, unit, margin, extra))


def cpu_ratio(a, b):  # b's CPU seconds / a's (how many times less CPU a needs)
    if ok(a) and ok(b) and a.get("cpu") and b.get("cpu"):
        return b["cpu"] / a["cpu"]
    return None


def na(name, r):
    targets.append("n/a  %s: %s" % (name, status(r) or "not measured"))


def cap_ratio(c, a, b):
    ra, rb = get(c, "main", a, "capture"), get(c, "main", b, "capture")
    if not (ok(ra) and ok(rb)):
        return None, ra if not ok(ra) else rb
    return (rb["s"] / ra["s"], ra["size"] / rb["size"], ra["rss"] / rb["rss"], cpu_ratio(ra, rb)), None


def app_ratio(c, a_row, b_row):
    if not (ok(a_row) and ok(b_row)):
        return None
    return b_row["s"] / a_row["s"]


for c in corpora:
    if not any(get(c, "main", l, "capture") for l in MAIN):
        continue
    tag = "" if c == "linux" else " [%s, info]" % c
    if c == "linux":
        r, bad = cap_ratio(c, "wimpack zstd", "wimlib LZX")
        if r:
            check("T1 zstd capture throughput vs wimlib LZX (linux)", r[0], ">=", 3.0, cpu=r[3])
            check("T1 zstd size vs wimlib LZX (linux)", r[1], "<=", 1.0)
        else:
            na("T1 zstd vs wimlib LZX", bad)
    check("T2 apply wimpack zstd vs wimlib-imagex apply of its XPRESS archive" + tag,
          app_ratio(c, get(c, "main", "wimpack zstd", "apply"), get(c, "main", "wimlib XPRESS", "apply")), ">=", 2.0,
          cpu=cpu_ratio(get(c, "main", "wimpack zstd", "apply"), get(c, "main", "wimlib XPRESS", "apply")))
    r, bad = cap_ratio(c, "wimpack lzma solid", "wimlib LZMS solid")
    if r:
        check("T3 lzma solid size vs wimlib --solid" + tag, r[1], "<=", 0.95)
        check("T3 lzma solid capture throughput vs wimlib --solid" + tag, r[0], ">=", 1.5, cpu=r[3])
        check("T3 lzma solid peak RSS vs wimlib --solid" + tag, r[2], "<=", 1.0)
    else:
        na("T3 lzma solid vs wimlib --solid" + tag, bad)
    for codec in ("LZX", "XPRESS"):
        r, bad = cap_ratio(c, "wimpack " + codec, "wimlib " + codec)
        if r:
            check("T6 %s size vs wimlib %s%s" % (codec, codec, tag), r[1], "<=", 1.05)
            check("T6 %s capture throughput vs wimlib %s%s" % (codec, codec, tag), r[0], ">=", 1.0, cpu=r[3])
        else:
            na("T6 wimpack %s encoder%s" % (codec, tag), bad)
    check("T6 apply of wimlib's LZX archive: wimpack vs wimlib-imagex" + tag,
          app_ratio(c, get(c, "cross", "wimpack apply of wimlib LZX", "apply"), get(c, "main", "wimlib LZX", "apply")),
          ">=", 1.5, cpu=cpu_ratio(get(c, "cross", "wimpack apply of wimlib LZX", "apply"), get(c, "main", "wimlib LZX", "apply")))
if ok(t1) and ok(t2):
    check("T4 zstd --threads=2 vs --threads=1 (large)", t1["s"] / t2["s"], ">=", 1.7)
else:
    na("T4 threads", t1 if not ok(t1) else t2)
u, f, w = inc["wimpack append --update-of=-1"], inc["wimpack append (full)"], inc["wimlib append --update-of=-1"]
if ok(u) and ok(f):
    check("T5 append --update-of time / full append time", u["s"] / f["s"], "<=", 0.3,
          cpu=(u["cpu"] / f["cpu"]) if u.get("cpu") and f.get("cpu") else None)
if ok(u) and ok(w):
    check("T5 wimlib append --update-of time / wimpack's", w["s"] / u["s"], ">=", 2.0, cpu=cpu_ratio(u, w))
e, cap = ed["wimpack export one image"], get("linux", "main", "wimpack zstd", "capture")
if ok(e) and ok(cap):
    check("T15 capture time / export (one of two images) time", cap["s"] / e["s"], ">=", 5.0, cpu=cpu_ratio(e, cap))
if "export_dups" in meta:
    n = int(meta["export_dups"])
    targets.append("%s T15 blobs stored more than once by export: %d, target 0" % ("PASS" if n == 0 else "MISS", n))
if ok(ed["wimpack delete --soft"]):
    check("T15 delete --soft seconds", ed["wimpack delete --soft"]["s"], "<=", 0.1, unit=" s")
if ok(ed["wimpack update add one file"]) and meta.get("two"):
    check("T15 update (one file) growth / archive size", ed["wimpack update add one file"]["size"] / int(meta["two"]),
          "<=", 0.01, unit="")
d = inc["wimpack capture --delta-from base"]
if ok(d) and meta.get("base"):
    check("T5 delta size / base size", d["size"] / int(meta["base"]), "<=", 0.10)
out.extend(targets)
p("```")
p("")

text = "\n".join(out) + "\n"
sys.stdout.write(text)

if len(sys.argv) > 4 and sys.argv[3] == "--write-md":
    path = sys.argv[4]
    try:
        doc = open(path).read()
    except FileNotFoundError:
        doc = "# Benchmarks\n\n%s\n%s\n" % (BEGIN, END)
    if BEGIN not in doc or END not in doc:
        doc = doc.rstrip("\n") + "\n\n%s\n%s\n" % (BEGIN, END)
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    open(path, "w").write(head + BEGIN + "\n" + text + END + tail)
    sys.stderr.write("bench: results written to %s\n" % path)
