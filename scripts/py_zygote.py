#!/usr/bin/env python3
"""A fork server for the test harness (crates/test-support `python` module): it imports the
official `mlflow` client once, then runs each request -- a script of scripts/ or a piece of code
-- in a child forked from itself, so that no request pays the seconds `import mlflow` takes.

Usage: py_zygote.py SOCKET PARENT_PID
  Listens on the Unix socket SOCKET, prints `ready` on stdout once listening, and exits when the
  process PARENT_PID is gone. Each connection carries one JSON request
  {"script": PATH | "code": TEXT, "args": [...], "env": {...}, "cwd": DIR,
   "stdout": FILE, "stderr": FILE}
  (the client then shuts its writing side); the child runs it with exactly that environment,
  working directory and arguments, its output in the two files, and answers {"code": EXIT_CODE}.
  The child starts from the server's state, in which no request ever ran: requests share nothing.
"""

import json
import os
import runpy
import signal
import socket
import sys
import traceback


def main():
    path, parent = sys.argv[1], int(sys.argv[2])
    # The slow imports every request would otherwise repeat.
    import mlflow  # noqa: F401
    import mlflow.artifacts  # noqa: F401
    import mlflow.entities  # noqa: F401
    from mlflow.tracking import MlflowClient  # noqa: F401

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    server.settimeout(1.0)
    print("ready", flush=True)
    try:
        while os.getppid() == parent:
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            if os.fork() == 0:
                server.close()
                serve(conn)
            conn.close()
    finally:
        server.close()
        os.unlink(path)


def serve(conn):
    """Runs one request in this (forked) process; never returns."""
    code = 1
    try:
        conn.settimeout(None)
        chunks = []
        while True:
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        req = json.loads(b"".join(chunks))
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # scripts may wait for their own children
        for fd, name in ((1, "stdout"), (2, "stderr")):
            out = os.open(req[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(out, fd)
            os.close(out)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
        os.environ.clear()
        os.environ.update(req["env"])
        os.chdir(req["cwd"])
        code = run(req)
    except BaseException:  # noqa: B902 -- whatever happened is the request's failure
        traceback.print_exc()
    finally:
        flush_all()
        try:
            conn.sendall(json.dumps({"code": code}).encode())
            conn.close()
        finally:
            os._exit(0)


def flush_all():
    """Flushes every open file object, as the interpreter's own exit would (`os._exit` does not;
    a script may hold its real stdout in a file object of its own)."""
    import gc
    import io

    for obj in gc.get_objects():
        if isinstance(obj, io.IOBase):
            try:
                if not obj.closed:
                    obj.flush()
            except Exception:  # noqa: BLE001
                pass


def run(req):
    """The request's exit code, as `python SCRIPT ARGS` or `python -c CODE ARGS` would end."""
    try:
        if "script" in req:
            sys.argv = [req["script"], *req["args"]]
            sys.path.insert(0, os.path.dirname(req["script"]))
            runpy.run_path(req["script"], run_name="__main__")
        else:
            sys.argv = ["-c", *req["args"]]
            exec(compile(req["code"], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102
        return 0
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        print(e.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: B902
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    main()
