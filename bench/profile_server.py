#!/usr/bin/env python3
"""Profile a receiver while DCMTK storescu sends it one workload (``small`` by default).

Two tools:

* ``py-spy`` (sampling, low overhead; ``pip install py-spy``): attaches to the running server
  and records stacks until storescu is done; the top functions by own ("self") samples and by
  inclusive samples are printed.
* ``cprofile`` (deterministic, large per-call overhead, but exact call counts): runs the server
  under :mod:`cProfile` and prints the top functions by internal and by cumulative time.

Usage: ``profile_server.py [--receiver dicomqr] [--row small] [--tool py-spy|cprofile]``.
Output files stay in ``WORK/profile/``.
"""

from __future__ import annotations

import argparse
import collections
import pstats
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import echo_client
import gen_data
import run as bench

CPROFILE_WRAPPER = """\
import cProfile, sys
sys.argv = ["dicomqr", *sys.argv[2:]]
prof = cProfile.Profile()
{block_uvloop}from dicomqr.cli.main import main
prof.enable()
try:
    rc = main()
finally:
    prof.disable()
    prof.dump_stats({out!r})
sys.exit(rc)
"""


IDLE = re.compile(r"^(?:EpollSelector\.select|select|poll|run_forever) \(|uvloop")


def collapse(raw: Path, top: int) -> str:
    """Self and inclusive sample counts per function from py-spy's raw (collapsed) output.
    Under uvloop a leaf ``Runner.run`` is time inside uvloop's C code (libuv I/O, system
    calls), which py-spy cannot see into without ``--native``."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_s)
        frames = stack.split(";")
        if IDLE.search(frames[-1]):  # waiting in the event loop's poll: not work
            idle += count
            continue
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    out = [f"{total} busy samples (+{idle} idle in the event loop's select/poll, left out); "
           "percentages are of the busy samples"]
    for title, counter in (("self", own), ("inclusive", incl)):
        out.append(f"\ntop {top} by {title} samples:")
        for name, n in counter.most_common(top):
            out.append(f"  {100 * n / max(total, 1):5.1f}%  {name}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--receiver", default="dicomqr", choices=sorted(bench.RECEIVERS))
    ap.add_argument("--row", default="small", choices=["small", "large", "echo"])
    ap.add_argument("--tool", default="py-spy" if shutil.which("py-spy") else "cprofile",
                    choices=["py-spy", "cprofile"])
    ap.add_argument("--count", type=int, help="instances (default: the row's standard count)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--work", type=Path, default=gen_data.default_workdir())
    a = ap.parse_args(argv)

    work: Path = a.work.resolve()
    count = a.count or {"small": gen_data.SMALL_DEFAULT, "large": gen_data.LARGE_DEFAULT,
                        "echo": 2000}[a.row]
    folder: Path | None = None
    if a.row != "echo":
        folder, _manifest = gen_data.ensure(work, a.row, count)
        bench.warm_page_cache(folder)
    outdir = work / "profile"
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rec = bench.RECEIVERS[a.receiver]
    port = bench.free_port()
    archive = work / "received" / f"profile-{rec.key}"
    shutil.rmtree(archive, ignore_errors=True)
    command = rec.build(str(port), archive)
    prof_out = outdir / f"{rec.key}-{a.row}-{stamp}.{'pstats' if a.tool == 'cprofile' else 'txt'}"
    if a.tool == "cprofile":
        if not rec.key.startswith("dicomqr"):
            raise SystemExit("--tool cprofile works for the dicomqr receivers only")
        serve_args = command[command.index("serve"):]
        block = "sys.modules['uvloop'] = None\n" if "asyncio" in rec.key else ""
        wrapper = CPROFILE_WRAPPER.format(block_uvloop=block, out=str(prof_out))
        command = [sys.executable, "-c", wrapper, "-", *serve_args]
    srv = bench.Server(rec, port, archive, outdir / f"{rec.key}-{a.row}-{stamp}.log", command)
    spy: subprocess.Popen[bytes] | None = None
    try:
        if not srv.start():
            print(srv.start_error, file=sys.stderr)
            return 1
        assert srv.proc is not None
        if a.tool == "py-spy":
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(srv.proc.pid),
                                    "--rate", str(a.rate), "--function", "--format", "raw",
                                    "--output", str(prof_out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)  # let it attach
        if folder is None:
            seconds = echo_client.echo_loop(bench.HOST, port, rec.ae_title, count)
            print(f"{count} echo associations, {seconds:.2f} s, "
                  f"{1000 * seconds / count:.3f} ms each (profiled: slower than unprofiled)")
        else:
            t0 = time.perf_counter()
            proc = subprocess.run(bench.storescu_cmd(port, rec.ae_title, folder),
                                  env=bench.dcmtk_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=600, check=False)
            seconds = time.perf_counter() - t0
            files = bench.received_stats(archive)[0]
            print(f"storescu exit {proc.returncode}, {seconds:.2f} s, {count / seconds:.0f} "
                  f"inst/s (profiled: slower than unprofiled), {files} files received")
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
            spy = None
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
            spy.wait(10)
        srv.stop()
        shutil.rmtree(archive, ignore_errors=True)
    if a.tool == "py-spy":
        print(collapse(prof_out, a.top))
    else:
        stats = pstats.Stats(str(prof_out))
        stats.sort_stats("tottime").print_stats(a.top)
        stats.sort_stats("cumulative").print_stats(a.top)
    print(f"profile: {prof_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
