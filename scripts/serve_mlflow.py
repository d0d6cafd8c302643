#!/usr/bin/env python3
"""Run a command (an `mlflow server ...`) in its own process group and kill the whole group
when the process that started this launcher goes away.

Usage: serve_mlflow.py --parent-pid PID --log FILE [--remove-dir DIR] [--stop-signal SIG] -- CMD [ARGS...]

Nothing in it is MLflow-specific: the test harness also runs PostgreSQL, moto and azurite under it.
--stop-signal names the first signal sent to the group (default TERM; PostgreSQL wants INT, its
fast shutdown, as TERM waits for every client to leave).

--remove-dir DIR is deleted after the launcher stopped the command (not when the command exited
by itself, so that its log can still be read), unless MLFLOW_EIM_KEEP_SERVER_DIR is set.

The group is stopped (SIGTERM, then SIGKILL after a grace period) when any of these happens:
  * our parent process is gone (getppid() no longer equals --parent-pid),
  * our stdin reaches EOF (the parent closed its end of the pipe, or died),
  * we receive SIGTERM / SIGINT / SIGHUP.
If the command exits by itself, the launcher exits with its status.
Only standard-library modules are used; the command's output goes to --log.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

GRACE_SECONDS = 5.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parent-pid", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--remove-dir", default=None)
    ap.add_argument("--stop-signal", default="TERM")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        ap.error("missing command after --")

    stop = threading.Event()
    reason = []

    def on_signal(signum, _frame):
        reason.append(f"got signal {signum}")
        stop.set()

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    def watch_stdin():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        reason.append("stdin closed")
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    with open(args.log, "ab", buffering=0) as log:
        child = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session => own process group, pgid == child.pid
        )
        sys.stderr.write(f"serve_mlflow: started pid {child.pid}\n")
        sys.stderr.flush()
        rc = None
        while True:
            rc = child.poll()
            if rc is not None:
                break
            if stop.is_set():
                break
            if os.getppid() != args.parent_pid:
                reason.append(f"parent {args.parent_pid} gone")
                break
            stop.wait(0.2)

        stopped_by_us = rc is None
        if stopped_by_us:
            log.write(f"\nserve_mlflow: stopping server: {', '.join(reason)}\n".encode())
        kill_group(child, getattr(signal, "SIG" + args.stop_signal.upper().removeprefix("SIG")))
        if rc is None:
            rc = child.returncode
        log.write(f"\nserve_mlflow: server exited with {rc}\n".encode())

    # A server that died by itself keeps its dir (and log) for whoever started it to read.
    if stopped_by_us and args.remove_dir and not os.environ.get("MLFLOW_EIM_KEEP_SERVER_DIR"):
        shutil.rmtree(args.remove_dir, ignore_errors=True)
    sys.exit(rc if isinstance(rc, int) and rc >= 0 else 0)


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def kill_group(child, first=signal.SIGTERM):
    pgid = child.pid
    for sig, wait in ((first, GRACE_SECONDS), (signal.SIGKILL, GRACE_SECONDS)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if child.poll() is not None and not group_alive(pgid):
                return
            time.sleep(0.05)
    child.poll()


if __name__ == "__main__":
    main()
