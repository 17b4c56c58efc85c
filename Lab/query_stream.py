#!/usr/bin/python3
"""Continuous anycast query stream for the lab, and the analysis of what it recorded.

  query_stream.py run    --out FILE [--server 10.53.0.1] [--interval 0.02] [--timeout 0.3]
                         [--max-duration 900]
      Sends `id.server CH TXT` over UDP to the server every INTERVAL seconds (paced on a fixed
      schedule, not after each answer) and writes one line per query once it is resolved:
          SEQ  SENT  DONE  RESULT
      SENT/DONE are Unix times (DONE is "-" for a lost query); RESULT is the answering site's
      identity (the TXT string), or LOST:timeout / LOST:rcode=N / LOST:bad-answer. A query with
      no answer within TIMEOUT seconds is lost. Stops on SIGTERM/SIGINT (after resolving what is
      in flight) or after MAX-DURATION seconds, so it never runs unbounded.

  query_stream.py wait   --out FILE --site NAME --after T [--deadline SECONDS]
      Waits until a query sent at or after Unix time T was answered by NAME; prints the DONE time
      of the first such answer. Exit 1 (after printing what was seen) if the deadline passes.

  query_stream.py window --out FILE --from T1 --to T2
      Prints shell assignments for queries sent in [T1, T2): sent=N lost=N answered=N
      sites="site-a:N,site-b:N" max_silence=SECONDS (longest run without any answer).
"""
import argparse
import random
import select
import signal
import socket
import sys
import time

import dns.message
import dns.rdataclass
import dns.rdatatype


def run(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    out = open(args.out, "a", buffering=1)
    stop = {"at": None}

    def on_signal(*_):
        if stop["at"] is None:
            stop["at"] = time.time()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    pending = {}  # id -> (seq, sent)
    seq = 0
    start = time.time()
    next_send = start
    while True:
        now = time.time()
        if stop["at"] is None and now - start > args.max_duration:
            stop["at"] = now
        if stop["at"] is not None and not pending:
            break
        if stop["at"] is None and now >= next_send:
            qid = random.randrange(65536)
            while qid in pending:
                qid = random.randrange(65536)
            q = dns.message.make_query("id.server.", dns.rdatatype.TXT, dns.rdataclass.CH, id=qid)
            q.flags = 0  # RD=0: an authoritative query
            try:
                sock.sendto(q.to_wire(), (args.server, args.port))
            except OSError as e:  # e.g. no route: counted as lost
                out.write(f"{seq}\t{now:.6f}\t-\tLOST:{e.errno}\n")
            else:
                pending[qid] = (seq, now)
            seq += 1
            next_send += args.interval
            if next_send < now - args.interval:  # fell behind (suspended?): do not burst
                next_send = now + args.interval
        # expire
        for qid, (s, sent) in list(pending.items()):
            if now - sent > args.timeout:
                del pending[qid]
                out.write(f"{s}\t{sent:.6f}\t-\tLOST:timeout\n")
        wait = max(0.0, min(next_send - time.time(), 0.005)) if stop["at"] is None else 0.005
        readable, _, _ = select.select([sock], [], [], wait)
        if not readable:
            continue
        while True:
            try:
                data, _peer = sock.recvfrom(4096)
            except BlockingIOError:
                break
            except OSError:
                continue
            done = time.time()
            try:
                r = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 - garbage is not an answer
                continue
            entry = pending.pop(r.id, None)
            if entry is None:
                continue  # late answer to an expired query, or not ours
            s, sent = entry
            result = "LOST:bad-answer"
            if r.rcode() != 0:
                result = f"LOST:rcode={r.rcode()}"
            else:
                for rrset in r.answer:
                    if rrset.rdtype == dns.rdatatype.TXT:
                        result = b"".join(rrset[0].strings).decode(errors="replace")
            out.write(f"{s}\t{sent:.6f}\t{done:.6f}\t{result}\n")
    out.close()


def records(path):
    try:
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 4:
                    continue  # a line being written
                seq, sent, done, result = parts
                yield int(seq), float(sent), (None if done == "-" else float(done)), result
    except FileNotFoundError:
        return


def wait(args):
    deadline = time.time() + args.deadline
    last = None
    while True:
        first = None
        for _seq, sent, done, result in records(args.out):
            if sent >= args.after:
                last = (sent, result)
                if result == args.site and (first is None or done < first):
                    first = done
        if first is not None:
            print(f"{first:.6f}")
            return 0
        if time.time() > deadline:
            seen = f"last query sent at {last[0]:.3f} -> {last[1]}" if last else "no query recorded"
            print(f"no answer from {args.site} within {args.deadline}s ({seen})", file=sys.stderr)
            return 1
        time.sleep(0.05)


def window(args):
    rows = sorted((r for r in records(args.out) if args.start <= r[1] < args.end), key=lambda r: r[0])
    sites = {}
    lost = 0
    silence = 0.0
    last_ok = args.start
    for _seq, sent, done, result in rows:
        if result.startswith("LOST:"):
            lost += 1
        else:
            sites[result] = sites.get(result, 0) + 1
            silence = max(silence, sent - last_ok)
            last_ok = sent
    if rows and lost and last_ok < rows[-1][1]:
        silence = max(silence, rows[-1][1] - last_ok)
    print(f"sent={len(rows)} lost={lost} answered={len(rows) - lost} "
          f"sites={','.join(f'{k}:{v}' for k, v in sorted(sites.items()))} max_silence={silence:.3f}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--out", required=True)
    r.add_argument("--server", default="10.53.0.1")
    r.add_argument("--port", type=int, default=53)
    r.add_argument("--interval", type=float, default=0.02)
    r.add_argument("--timeout", type=float, default=0.3)
    r.add_argument("--max-duration", type=float, default=900)
    w = sub.add_parser("wait")
    w.add_argument("--out", required=True)
    w.add_argument("--site", required=True)
    w.add_argument("--after", type=float, required=True)
    w.add_argument("--deadline", type=float, default=30)
    n = sub.add_parser("window")
    n.add_argument("--out", required=True)
    n.add_argument("--from", dest="start", type=float, required=True)
    n.add_argument("--to", dest="end", type=float, required=True)
    args = p.parse_args()
    if args.cmd == "run":
        return run(args) or 0
    return wait(args) if args.cmd == "wait" else window(args)


if __name__ == "__main__":
    sys.exit(main())
