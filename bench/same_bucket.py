#!/usr/bin/env python3
"""Same-bucket copy measurement, driven by bench/same_bucket.sh (which builds the tool and the venv).

One moto server (local S3), buckets `bench-same` and `bench-other`; two MLflow servers (sqlite,
`--no-serve-artifacts`, artifact roots `s3://bench-same/source` and `s3://bench-same/destination`).
One source run holds --files x --file-mib MiB of random bytes, put straight into its artifact_uri
with boto3. Then our `copy-run --report` (release binary) copies it (a) into a destination
experiment in the same bucket (server-side CopyObject expected) and (b) into one whose
artifact_location is in `bench-other` (streamed through the tool), --repeat times each, measuring
wall time, peak RSS (/usr/bin/time -v), rchar/wchar of the tool process (/proc/<pid>/io polled
every 20 ms, last values kept; socket traffic included), `artifact_bytes_in_store` from the report,
the S3 requests in moto's log and moto's CPU. Every copied object is checked with boto3: size and
MD5 of the whole bytes read back against the source's. Writes the Markdown results to --results.
"""

import argparse
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

MIB = 1 << 20
ACCESS_RE = re.compile(r'"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) ([^ ]+) HTTP/[0-9.]+" ([0-9]{3})')
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"same-bucket: {msg}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_url(url, logfile, what, secs=120):
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.5)
    sys.stderr.write(open(logfile, errors="replace").read()[-3000:])
    raise SystemExit(f"same-bucket: {what} {url} did not answer in {secs} s")


def group_ticks(pgid):
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            line = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        a = line.rsplit(") ", 1)[1].split()
        if a[2] == str(pgid):
            total += sum(int(x) for x in a[11:15])
    return total


def s3_requests(logfile):
    with open(logfile, errors="replace") as f:
        return [m.groups() for m in map(ACCESS_RE.search, f) if m]


def heavy_jobs():
    return any(subprocess.run(["pgrep", "-f", pat], stdout=subprocess.DEVNULL).returncode == 0
               for pat in ("ci-clone", "cargo test"))


def wait_quiet(wait_max):
    """As bench/common.sh wait_quiet: returns True when measuring under load."""
    if wait_max == 0:
        return heavy_jobs()
    waited = 0
    while heavy_jobs():
        if waited >= wait_max:
            log(f"other heavy jobs still running after {waited} s: measuring under load")
            return True
        if waited == 0:
            log(f"waiting for other heavy jobs (ci-clone, cargo test) to finish (at most {wait_max} s)")
        time.sleep(30)
        waited += 30
    settle = 0
    while float(open("/proc/loadavg").read().split()[0]) >= 1.0 and settle < 180:
        if settle == 0:
            log("waiting for the load average to drop below 1")
        time.sleep(10)
        settle += 10
    return False


def child_of(pid, secs=10):
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.002)
    return None


def read_io(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            return {k: int(v) for k, v in (line.split(": ") for line in f)}
    except (OSError, ValueError):
        return None


def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(link[8:-1])
    except OSError:
        pass
    return out


SS_INO = re.compile(r"\bino:(\d+)")
SS_RECV = re.compile(r"\bbytes_received:(\d+)")
SS_SENT = re.compile(r"\bbytes_acked:(\d+)")


def tcp_bytes(inodes, seen):
    """TCP payload bytes received / sent (acked) per socket of `inodes`, from `ss -tine` (tcp_info);
    keeps the largest value seen per socket in `seen` (inode -> (received, sent))."""
    if not inodes:
        return
    out = subprocess.run(["ss", "-tineH"], capture_output=True, text=True).stdout
    entry = []
    for line in out.splitlines() + ["END"]:
        if line and not line[0].isspace() and entry:
            text = " ".join(entry)
            m = SS_INO.search(text)
            if m and m.group(1) in inodes:
                r, t = SS_RECV.search(text), SS_SENT.search(text)
                old = seen.get(m.group(1), (0, 0))
                seen[m.group(1)] = (max(old[0], int(r.group(1)) if r else 0), max(old[1], int(t.group(1)) if t else 0))
            entry = []
        entry.append(line)


def main():
    ap = argparse.ArgumentParser()
    for a in ("tool", "venv", "work", "time", "results", "commit", "mlflow"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--file-mib", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--wait-max", type=int, default=1500)
    args = ap.parse_args()
    script_start = time.time()
    work = args.work
    groups = []

    def stop_all():
        for pg in groups:
            try:
                os.killpg(pg, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 5
        for pg in groups:
            while time.time() < deadline:
                try:
                    os.killpg(pg, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            try:
                os.killpg(pg, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def start(name, argv, env):
        logfile = os.path.join(work, f"{name}.log")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=open(logfile, "w"), stderr=subprocess.STDOUT,
                             env=env, start_new_session=True)
        groups.append(p.pid)  # start_new_session: the pid is the process group id
        return p, logfile

    try:
        s3_port = free_port()
        s3 = f"http://127.0.0.1:{s3_port}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION="us-east-1", MLFLOW_S3_ENDPOINT_URL=s3, AWS_ENDPOINT_URL=s3,
                   AWS_EC2_METADATA_DISABLED="true")
        os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                                                "MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_EC2_METADATA_DISABLED")})
        moto, moto_log = start("moto", [f"{args.venv}/bin/moto_server", "-H", "127.0.0.1", "-p", str(s3_port)], env)
        wait_url(s3 + "/", moto_log, "moto")

        import boto3
        from boto3.s3.transfer import TransferConfig
        s3c = boto3.client("s3")
        for b in ("bench-same", "bench-other"):
            s3c.create_bucket(Bucket=b)

        urls = {}
        for name in ("source", "destination"):
            port = free_port()
            os.makedirs(os.path.join(work, name), exist_ok=True)
            start(name, [f"{args.venv}/bin/mlflow", "server",
                         "--backend-store-uri", f"sqlite:///{work}/{name}/mlflow.db",
                         "--no-serve-artifacts", "--default-artifact-root", f"s3://bench-same/{name}",
                         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                  dict(env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", PYTHONUNBUFFERED="1"))
            urls[name] = f"http://127.0.0.1:{port}"
        for name, url in urls.items():
            wait_url(url + "/health", os.path.join(work, f"{name}.log"), "MLflow server")
        src, dst = urls["source"], urls["destination"]
        log(f"moto {s3}, source {src}, destination {dst}")

        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient
        sc, dc = MlflowClient(src), MlflowClient(dst)
        exp_id = sc.create_experiment("same-bucket-src")
        run = sc.create_run(exp_id, run_name="one-gib")
        rid = run.info.run_id
        sc.log_batch(rid, params=[Param("files", str(args.files)), Param("file_mib", str(args.file_mib))])
        uri = run.info.artifact_uri  # s3://bench-same/source/<exp>/<run>/artifacts
        m = re.match(r"s3://([^/]+)/(.*)", uri)
        assert m, uri
        src_bucket, src_prefix = m.group(1), m.group(2).rstrip("/")
        log(f"uploading {args.files} x {args.file_mib} MiB to {uri}")
        t = time.time()
        source_objects = {}
        # One PUT per file (no multipart), so that the source ETag is the MD5 of the bytes.
        single = TransferConfig(multipart_threshold=8 * 1024 * MIB)
        for i in range(args.files):
            data = os.urandom(args.file_mib * MIB)
            rel = f"big/part-{i}.bin"
            s3c.upload_fileobj(__import__("io").BytesIO(data), src_bucket, f"{src_prefix}/{rel}", Config=single)
            source_objects[rel] = {"size": len(data), "md5": hashlib.md5(data).hexdigest()}
            del data
        sc.set_terminated(rid)
        upload_secs = time.time() - t
        total_bytes = sum(o["size"] for o in source_objects.values())
        log(f"uploaded {total_bytes / MIB:.0f} MiB in {upload_secs:.1f} s")
        # The tool sees the files as the run's artifacts:
        listed = sc.list_artifacts(rid, "big")
        assert sorted(f.path for f in listed) == sorted(source_objects), listed

        # Destination experiments: one in the same bucket (server default), one per case and
        # repetition so that no copy is skipped as already there.
        cases = []
        for rep in range(1, args.repeat + 1):
            cases.append(("same bucket", rep, dc.create_experiment(f"same-bucket-copy-{rep}")))
        for rep in range(1, args.repeat + 1):
            cases.append(("two buckets", rep, dc.create_experiment(
                f"other-bucket-copy-{rep}", artifact_location=f"s3://bench-other/destination/other-{rep}")))

        under_load = wait_quiet(args.wait_max)
        loadavg_before = " ".join(open("/proc/loadavg").read().split()[:3])
        rows = []
        for case, rep, exp in cases:
            name = dc.get_experiment(exp).name
            tag = f"{'same' if case == 'same bucket' else 'other'}-{rep}"
            report = os.path.join(work, f"report.{tag}.json")
            timefile = os.path.join(work, f"time.{tag}")
            cmd = [args.tool, "copy-run", "--src-uri", src, "--dst-uri", dst, "--run-id", rid,
                   "--experiment-name", name, "--report", report]
            time.sleep(1)
            busy0 = heavy_jobs()
            moto_t0 = group_ticks(moto.pid)
            n0 = len(s3_requests(moto_log))
            t0 = time.time()
            p = subprocess.Popen([args.time, "-v", "-o", timefile] + cmd, stdout=open(os.path.join(work, f"out.{tag}"), "w"),
                                 stderr=open(os.path.join(work, f"err.{tag}"), "w"), env=env)
            pid = child_of(p.pid)
            last, polls, sockets = None, 0, {}
            while p.poll() is None:
                io = read_io(pid) if pid else None
                if io is not None:
                    last, polls = io, polls + 1
                    tcp_bytes(socket_inodes(pid), sockets)
                time.sleep(0.02)
            wall = time.time() - t0
            busy1 = heavy_jobs()
            time.sleep(0.5)
            moto_secs = (group_ticks(moto.pid) - moto_t0) / CLK_TCK
            reqs = s3_requests(moto_log)[n0:]
            if p.returncode != 0:
                sys.stderr.write(open(os.path.join(work, f"err.{tag}"), errors="replace").read()[-3000:])
                raise SystemExit(f"same-bucket: copy-run ({case}) failed with exit code {p.returncode}")
            tv = open(timefile).read()
            rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv).group(1))
            ucpu = float(re.search(r"User time \(seconds\): ([\d.]+)", tv).group(1))
            scpu = float(re.search(r"System time \(seconds\): ([\d.]+)", tv).group(1))
            rep_json = json.load(open(report))
            summary = rep_json["summary"]
            run_out = rep_json["runs"][0]
            dst_run = dc.get_run(run_out["destination"])
            dm = re.match(r"s3://([^/]+)/(.*)", dst_run.info.artifact_uri)
            dst_bucket, dst_prefix = dm.group(1), dm.group(2).rstrip("/")
            # Check: every object there, same size, MD5 of the whole bytes read back equal.
            checks = []
            for rel, o in sorted(source_objects.items()):
                key = f"{dst_prefix}/{rel}"
                head = s3c.head_object(Bucket=dst_bucket, Key=key)
                h = hashlib.md5()
                for chunk in s3c.get_object(Bucket=dst_bucket, Key=key)["Body"].iter_chunks(8 * MIB):
                    h.update(chunk)
                checks.append({"file": rel, "size_ok": head["ContentLength"] == o["size"],
                               "md5_ok": h.hexdigest() == o["md5"], "etag": head["ETag"].strip('"'),
                               "src_etag": o["md5"]})
            ok = all(c["size_ok"] and c["md5_ok"] for c in checks)
            methods = {}
            for meth, path, status in reqs:
                q = "?" + path.split("?", 1)[1].split("=", 1)[0] if "?" in path else ""
                k = f"{meth}{' ' + q if q else ''} {status}"
                methods[k] = methods.get(k, 0) + 1
            row = {"case": case, "rep": rep, "wall": wall, "rss_mib": rss_kib / 1024, "cpu": ucpu + scpu,
                   "rchar": last["rchar"] if last else None, "wchar": last["wchar"] if last else None,
                   "read_bytes": last.get("read_bytes") if last else None,
                   "write_bytes": last.get("write_bytes") if last else None, "polls": polls,
                   "tcp_in": sum(v[0] for v in sockets.values()), "tcp_out": sum(v[1] for v in sockets.values()),
                   "sockets": len(sockets),
                   "s3_object_gets": sum(1 for meth, path, _ in reqs if meth == "GET" and "?" not in path
                                         and path.count("/") > 1),
                   "artifact_bytes": summary["artifact_bytes"], "in_store": summary["artifact_bytes_in_store"],
                   "run_in_store": run_out.get("artifact_bytes_in_store"), "files": summary["artifact_files"],
                   "mlflow_requests": rep_json.get("requests"), "s3_requests": len(reqs), "s3_methods": methods,
                   "moto_cpu": moto_secs, "dst_uri": dst_run.info.artifact_uri, "checks": checks, "ok": ok,
                   "loaded": busy0 or busy1, "cmd": cmd}
            rows.append(row)
            log(f"{case} #{rep}: {wall:.1f} s, peak RSS {row['rss_mib']:.1f} MiB, rchar {row['rchar'] / MIB:.2f} MiB, "
                f"wchar {row['wchar'] / MIB:.2f} MiB, TCP in {row['tcp_in'] / MIB:.2f} MiB, "
                f"out {row['tcp_out'] / MIB:.2f} MiB, in store {row['in_store'] / MIB:.0f} MiB, "
                f"{len(reqs)} S3 requests, verified: {ok}")
        loadavg_after = " ".join(open("/proc/loadavg").read().split()[:3])
        moto_version = __import__("importlib.metadata").metadata.version("moto")
        write_results(args, rows, total_bytes, upload_secs, under_load, loadavg_before, loadavg_after,
                      moto_version, src, dst, rid, time.time() - script_start)
        if not all(r["ok"] for r in rows):
            raise SystemExit("same-bucket: a copied object differs from its source (see the results)")
    finally:
        stop_all()


def write_results(args, rows, total_bytes, upload_secs, under_load, la0, la1, moto_version, src, dst, rid, total_secs):
    mib = lambda b: f"{b / MIB:.2f}" if b is not None else "?"
    cpu = open("/proc/cpuinfo").read()
    cpu_model = re.search(r"model name\s*: (.*)", cpu).group(1)
    mem_gib = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1)) / 1048576
    our_version = subprocess.run([args.tool, "--version"], capture_output=True, text=True).stdout.strip()
    out = []
    w = out.append
    w("## Same-bucket copy: what passes through our tool")
    w("")
    w(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {os.cpu_count()} cores ({cpu_model}), "
      f"{mem_gib:.1f} GiB RAM")
    w(f"- One run with {len(rows[0]['checks'])} files x {args.file_mib} MiB = {total_bytes / MIB:.0f} MiB of random bytes "
      f"(`big/part-<i>.bin`), put into the run's artifact_uri with boto3 (one PUT per file; {upload_secs:.0f} s).")
    w(f"- One moto {moto_version} server (local S3), buckets `bench-same` and `bench-other`; two MLflow {args.mlflow} "
      "servers (sqlite, `--no-serve-artifacts`, `--workers 1`, artifact roots `s3://bench-same/source` and "
      "`s3://bench-same/destination`). One set of variables for everything: `AWS_ACCESS_KEY_ID=testing "
      "AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 MLFLOW_S3_ENDPOINT_URL=<moto> "
      "AWS_ENDPOINT_URL=<moto> AWS_EC2_METADATA_DISABLED=true` (same endpoint, same key on both sides).")
    w(f"- Ours: {our_version} at commit {args.commit}, release build, default options.")
    loaded = under_load or any(r["loaded"] for r in rows)
    w(f"- Measured under load: {'yes (rows marked *)' if loaded else 'no'}: "
      f"{'a' if loaded else 'no'} ci-clone / cargo test process at the start or end of a copy; "
      f"load average before -> after: {la0} -> {la1}. "
      f"Whole script {total_secs:.0f} s.")
    w("")
    w("Command (per case, a fresh destination experiment each time; the `two buckets` experiments were created with "
      "`artifact_location=s3://bench-other/destination/other-<n>`):")
    w("")
    w("```")
    w(f"/usr/bin/time -v mlflow-export-import copy-run --src-uri {src} --dst-uri {dst} --run-id {rid} \\")
    w("    --experiment-name same-bucket-copy-<n> | other-bucket-copy-<n> --report report.json")
    w("```")
    w("")
    w("| case | # | wall s | tool CPU s | tool peak RSS MiB | rchar MiB | wchar MiB | TCP received MiB | TCP sent MiB | artifact bytes (report) MiB | `artifact_bytes_in_store` MiB | S3 requests (object GETs) | moto CPU s | copies verified |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        ver = "size + MD5 of all files equal" if r["ok"] else "**MISMATCH**"
        w(f"| {r['case']}{' *' if r['loaded'] else ''} | {r['rep']} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mib']:.1f} | "
          f"{mib(r['rchar'])} | {mib(r['wchar'])} | {mib(r['tcp_in'])} | {mib(r['tcp_out'])} | "
          f"{mib(r['artifact_bytes'])} | {mib(r['in_store'])} | "
          f"{r['s3_requests']} ({r['s3_object_gets']}) | {r['moto_cpu']:.1f} | {ver} |")
    w("")
    same = [r for r in rows if r["case"] == "same bucket"]
    worst_io = max(max(r["rchar"] or 0, r["wchar"] or 0, r["tcp_in"], r["tcp_out"]) for r in same)
    worst_rss = max(r["rss_mib"] for r in same)
    w(f"Targets for the same-bucket copy: under 10 MiB through the process (worst of rchar, wchar, TCP received, TCP sent: {worst_io / MIB:.2f} MiB: "
      f"{'met' if worst_io < 10 * MIB else 'not met'}); peak RSS under 100 MiB (worst: {worst_rss:.1f} MiB: "
      f"{'met' if worst_rss < 100 else 'not met'}).")
    w("")
    w("How it is measured: wall time around `/usr/bin/time -v`; peak RSS and CPU from its output; rchar / wchar "
      "from `/proc/<tool pid>/io`, polled every 20 ms while the tool runs, last values kept (polls per run: "
      f"{', '.join(str(r['polls']) for r in rows)}; at most the last 20 ms before exit are missed; the constant ~1.7 MiB of rchar is the tool reading files of its own, such as the system's CA certificates, at start). Caveat: rchar and "
      "wchar count read/write/readv/writev-family calls only; bytes taken from a socket with recv/recvfrom (how the "
      "tool's HTTP stack reads responses) are not in rchar, so a download does not show there, while uploads (sent "
      "with writev) do show in wchar. Hence the TCP columns, which count every byte in and out of the tool's sockets: "
      "at each poll the tool's socket inodes (`/proc/<pid>/fd`) are matched in `ss -tine` and their tcp_info "
      "`bytes_received` / `bytes_acked` kept (largest value per socket, summed over "
      f"{', '.join(str(r['sockets']) for r in rows)} sockets per run; bytes of a connection after its last poll are missed). "
      "S3 object GETs: GET requests for a key (not a listing) in moto's log during the copy. "
      "`artifact_bytes_in_store` from the tool's `--report` (summary); S3 requests are the lines moto logged during "
      "the copy; moto CPU is utime + stime of its process group. Verification: boto3 `head_object` size and the MD5 "
      "of the whole object read back, against the MD5 computed when the source bytes were generated.")
    w("")
    w("<details><summary>S3 requests per method, destination artifact URIs, ETags</summary>")
    w("")
    w("| case | # | S3 requests (method [first query key] status: count) | destination artifact_uri | ETags equal to the source MD5 |")
    w("|---|---:|---|---|---|")
    for r in rows:
        meths = ", ".join(f"`{k}`: {v}" for k, v in sorted(r["s3_methods"].items(), key=lambda kv: -kv[1]))
        etags = sum(c["etag"] == c["src_etag"] for c in r["checks"])
        w(f"| {r['case']} | {r['rep']} | {meths} | `{r['dst_uri']}` | {etags} of {len(r['checks'])} "
          f"({', '.join(sorted({c['etag'] for c in r['checks'] if c['etag'] != c['src_etag']})) or 'all equal'}) |")
    w("")
    w("</details>")
    w("")
    text = "\n".join(out)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        f.write(text)
    print(text)
    log(f"results written to {args.results}")


if __name__ == "__main__":
    main()
