#!/usr/bin/env python3
"""Profile dicomqr's Q/R SCP (``qr_serve.py``) or SCU (``qr_client.py``) under one workload.

``py-spy`` (``pip install py-spy``) samples the process; the top functions by own ("self")
and inclusive samples are printed (idle time in the event loop's poll left out, as
``profile_server.py`` does).

* ``--target server``: starts ``qr_serve.py``, attaches py-spy, and runs the workload with
  DCMTK clients ``--runs`` times: ``find`` (findscu, 10,000 matches; ``--variant`` selects
  the handler: DICOMQR, DQR-BYTES, DQR-ASYNC, DQR-ABYTES), ``get`` (``getscu --ignore``), ``move``
  (``movescu`` to a ``storescp --ignore`` started here).
* ``--target client``: starts ``qr_serve.py`` as the peer and runs ``qr_client.py`` (find / get
  / move) under ``py-spy record``.

Usage: ``qr_profile.py --target server|client --workload find|get|move [--runs N]``.
Files stay in ``WORK/profile/``.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_data
import profile_server
import qr
import run as bench


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", choices=["server", "client"], default="server")
    ap.add_argument("--workload", choices=["find", "get", "move"], default="find")
    ap.add_argument("--variant", default="DICOMQR", help="server find handler (called AE)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    ap.add_argument("--work", type=Path, default=gen_data.default_workdir())
    a = ap.parse_args(argv)
    if shutil.which("py-spy") is None:
        raise SystemExit("py-spy not found (pip install py-spy)")
    work: Path = a.work.resolve()
    large, _manifest = gen_data.ensure(work, "large", gen_data.LARGE_DEFAULT)
    bench.warm_page_cache(large)
    from pydicom import dcmread

    study = str(dcmread(gen_data.data_files(large)[0], stop_before_pixels=True).StudyInstanceUID)
    outdir = work / "profile"
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    prof = outdir / f"qr-{a.target}-{a.workload}-{stamp}.txt"
    port, dest_port = bench.free_port(), bench.free_port()
    dqr_port = bench.free_port()
    srv_cmd = [sys.executable, str(qr.BENCH / "qr_serve.py"), "--host", qr.HOST, "--port",
               str(port), "--retrieve-dir", str(large),
               "--move-dest", f"{qr.DEST_IGNORE}={qr.HOST}:{dest_port}",
               "--move-dest", f"{qr.DEST_DQR}={qr.HOST}:{dqr_port}"]
    servers = []
    spy: subprocess.Popen[bytes] | None = None
    scratch = outdir / f"scratch-{stamp}"
    try:
        for key, ae, cmd, p in [
                ("dicomqr", "DICOMQR", srv_cmd, port),
                ("dest-ignore", qr.DEST_IGNORE, [str(qr.DCMTK / "storescp"), "-aet",
                                                 qr.DEST_IGNORE, "--ignore", str(dest_port)],
                 dest_port)]:
            rec = bench.Receiver(key, key, ae, False, True, lambda port, archive: [], "")
            srv = bench.Server(rec, p, scratch / key, outdir / f"qr-{key}-{stamp}.log", cmd)
            if not srv.start(timeout=60):
                print(f"{key}: {srv.start_error}", file=sys.stderr)
                return 1
            servers.append(srv)
        server = servers[0]
        assert server.proc is not None
        if a.target == "server":
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.proc.pid), "--rate",
                                    str(a.rate), "--function", "--format", "raw", "--output",
                                    str(prof)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
            time.sleep(1.0)
            for i in range(a.runs):
                if a.workload == "find":
                    cmd = qr.findscu_cmd(port, a.variant)
                elif a.workload == "get":
                    cmd = qr.getscu_cmd(port, "DICOMQR", study, None)
                else:
                    cmd = qr.movescu_cmd(port, "DICOMQR", study, qr.DEST_IGNORE)
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, env=bench.dcmtk_env(), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, check=False)
                print(f"run {i + 1}: exit {proc.returncode}, {time.perf_counter() - t0:.3f} s "
                      "(profiled)")
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
            spy = None
        else:
            extra: list[str] = []
            if a.workload == "find":
                extra = ["--expect", "10000"]
            else:
                extra = ["--study", study, "--od", str(scratch / "recv"), "--expect", "300"]
                if a.workload == "move":
                    extra += ["--dest-port", str(dqr_port)]
            cmd = qr.qr_client_cmd(a.workload, port, ["DICOMQR"], *extra)
            for i in range(a.runs):
                shutil.rmtree(scratch / "recv", ignore_errors=True)
                out = prof.with_suffix(f".{i}.txt")
                proc = subprocess.run(["py-spy", "record", "--rate", str(a.rate), "--function",
                                       "--format", "raw", "--output", str(out), "--", *cmd],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      check=False)
                print(f"run {i + 1}: {proc.stdout.decode().strip().splitlines()[-1][:200]}")
            with open(prof, "w") as f:
                for i in range(a.runs):
                    part = prof.with_suffix(f".{i}.txt")
                    f.write(part.read_text())
                    part.unlink()
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
            spy.wait(10)
        for srv in servers:
            srv.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print(profile_server.collapse(prof, a.top))
    print(f"profile: {prof}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
