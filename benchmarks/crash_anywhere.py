"""Crash anywhere, at scale: the job SIGKILLed at ≥ 1,000 random failpoint passes on a pool of
100,000 members, restarted each time, and checked; on SQLite and PostgreSQL.

The scenario is the demo's story stopped before the job (two cases due: sharing over the whole
pool, two payouts, the estate refund, proofs, reconciliation), imported once into a template: a
file on SQLite, a database on PostgreSQL. A traced run that never crashes lists the job's
failpoint passes and gives the reference books. Then, for each point: copy the template (a file
copy; ``CREATE DATABASE … TEMPLATE``), fork a child that runs the job armed to SIGKILL itself at a
random pass (a random failpoint and hit count), check that it died by SIGKILL, run the job again
in a fresh child (the restart), and check every invariant (``huzhu.crash``) and that the books
equal the reference. Forked children start in milliseconds, so an iteration costs what the job
and the checks cost.

    .venv/bin/python benchmarks/crash_anywhere.py --members 100000 --points 1000 \
        --postgres postgresql://postgres@127.0.0.1:5432/postgres

``--minutes`` stops each database early and prints the rate and the time the full count needs.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import tempfile
import time
import traceback
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from huzhu import failpoints
from huzhu.app import build_platform
from huzhu.config import Settings
from huzhu.crash import JOB_TIME, build_scenario, check_after_restart, fingerprint
from huzhu.jobs import run_jobs

REPO = Path(__file__).resolve().parents[1]
NOW = datetime.fromisoformat(JOB_TIME)


class Store:
    """The template database and its copies."""

    def __init__(self, backend: str, folder: Path, postgres: str | None) -> None:
        self.backend, self.folder = backend, folder
        if backend == "sqlite":
            self.template = f"sqlite:///{folder / 'template.sqlite'}"
        else:
            assert postgres
            self.admin = make_url(postgres.replace("postgresql://", "postgresql+psycopg://", 1))
            self.template = self._admin_sql(f"huzhu_crash_tpl_{uuid.uuid4().hex[:8]}", None)

    def _admin_sql(self, name: str, template: str | None) -> str:
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            # FILE_COPY copies the template's files at once; the default (WAL_LOG, PostgreSQL 15+) writes
            # every block to the WAL, several times slower for a pool of this size.
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}" STRATEGY = FILE_COPY'
                                                             if template else "")))
        engine.dispose()
        return self.admin.set(database=name).render_as_string(hide_password=False)

    def copy(self) -> str:
        if self.backend == "sqlite":
            shutil.copyfile(self.folder / "template.sqlite", self.folder / "work.sqlite")
            for suffix in ("-wal", "-shm", "-journal"):
                (self.folder / f"work.sqlite{suffix}").unlink(missing_ok=True)
            return f"sqlite:///{self.folder / 'work.sqlite'}"
        return self._admin_sql(f"huzhu_crash_{uuid.uuid4().hex[:8]}", make_url(self.template).database)

    def drop(self, url: str) -> None:
        if self.backend == "sqlite":
            return
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        engine.dispose()

    def close(self) -> None:
        self.drop(self.template)


def settings(url: str, folder: Path) -> Settings:
    return Settings(mode="sandbox", database_url=url, data_dir=folder / "data", plans_dir=REPO / "plans")


def job(url: str, folder: Path, *, armed: str = "", trace: Path | None = None) -> int:
    """Run the job in a forked child (armed to SIGKILL itself); returns its wait status."""
    pid = os.fork()
    if pid == 0:  # the child: a fresh engine, the job, and out without running the parent's cleanup
        code = 1
        try:
            os.environ["HUZHU_FAILPOINTS"] = armed
            if trace is not None:
                os.environ["HUZHU_FAILPOINTS_TRACE"] = str(trace)
            else:
                os.environ.pop("HUZHU_FAILPOINTS_TRACE", None)
            failpoints.reset()
            platform = build_platform(settings(url, folder))
            run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian, now=NOW)
            platform.engine.dispose()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1]


def inspect(url: str, *, resumed: bool) -> tuple[list[str], dict]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with Session(engine) as s:
            return check_after_restart(s, resumed=resumed), (fingerprint(s) if resumed else {})
    finally:
        engine.dispose()


def crash_points(backend: str, *, members: int, points: int, postgres: str | None, minutes: float | None,
                 chain_length: int, rng: random.Random, log) -> dict:  # noqa: ANN001, C901
    folder = Path(tempfile.mkdtemp(prefix=f"huzhu-crash-{backend}-"))
    store = Store(backend, folder, postgres)
    try:
        started = time.perf_counter()
        build_scenario(settings(store.template, folder), members=members)
        built = time.perf_counter() - started
        log(f"[{backend}] scenario with {members:,} members built in {built:.0f} s")

        url, trace = store.copy(), folder / "trace"
        started = time.perf_counter()
        status = job(url, folder, trace=trace)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the reference job failed"
        reference_seconds = time.perf_counter() - started
        problems, expected = inspect(url, resumed=True)
        assert problems == [], problems
        store.drop(url)
        passes = trace.read_text().split()
        log(f"[{backend}] the job passes {len(passes)} failpoints ({len(set(passes))} names) in "
            f"{reference_seconds:.1f} s")

        tried: Counter[str] = Counter()
        survived: Counter[str] = Counter()
        failed: dict[str, list[str]] = defaultdict(list)
        spent: Counter[str] = Counter()

        def phase(label: str, since: float) -> float:
            now = time.perf_counter()
            spent[label] += now - since
            return now

        deadline = time.perf_counter() + minutes * 60 if minutes else None
        loop_started = time.perf_counter()
        copies = 0
        while sum(tried.values()) < points and (deadline is None or time.perf_counter() < deadline):
            # One copy of the template takes a chain of up to ``chain`` crashes: each restart is armed to
            # die at a random pass of its own; the chain ends when a restart finishes the job first.
            copies += 1
            mark = time.perf_counter()
            url = store.copy()
            mark = phase("copy", mark)
            chain: list[str] = []
            problems: list[str] = []
            try:
                finished = False
                while len(chain) < chain_length and sum(tried.values()) < points:
                    n = rng.randint(1, len(passes))
                    child_trace = folder / "child-trace"
                    child_trace.unlink(missing_ok=True)
                    status = job(url, folder, armed=f"*=kill@{n}", trace=child_trace)
                    mark = phase("killed job", mark)
                    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                        finished = True  # the job ended before its n-th pass
                        break
                    passed = child_trace.read_text().split() if child_trace.exists() else []
                    point = f"{passed[-1]}@{passed.count(passed[-1])}" if passed else f"?@{n}"
                    chain.append(point)
                    tried[point] += 1
                    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
                        problems.append(f"{point}: not killed (wait status {status})")
                        break
                    problems += [f"after {point}: {p}" for p in inspect(url, resumed=False)[0]]
                    mark = phase("check after crash", mark)
                if not finished and not problems:
                    status = job(url, folder)
                    mark = phase("restarted job", mark)
                    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                        problems.append(f"restart failed (wait status {status})")
                if not problems:
                    after, got = inspect(url, resumed=True)
                    mark = phase("check after restart", mark)
                    problems += after + [f"{k} differs from the run that never crashed"
                                         for k in expected if got[k] != expected[k]]
                for point in chain:
                    if problems:
                        failed[point].append(f"in the chain {' → '.join(chain)}: " + "; ".join(problems[:3]))
                    else:
                        survived[point] += 1
            finally:
                store.drop(url)
                phase("drop", mark)
            count = sum(tried.values())
            if copies % 10 == 0:
                rate = count / (time.perf_counter() - loop_started) * 60
                log(f"[{backend}] {count} points on {copies} copies, {sum(survived.values())} survived, "
                    f"{rate:.1f} points/min")
        elapsed = time.perf_counter() - loop_started
        count = sum(tried.values())
        return {"backend": backend, "members": members, "passes": len(passes), "names": len(set(passes)),
                "tried": count, "survived": sum(survived.values()), "failed": dict(failed),
                "distinct": len(tried), "copies": copies, "per_minute": count / elapsed * 60 if elapsed else 0.0,
                "projected_minutes": points / (count / elapsed) / 60 if count else None,
                "reference_seconds": reference_seconds, "build_seconds": built,
                "phases": {k: v / count for k, v in spent.items()} if count else {}}
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1000, help="random failpoint passes to kill at, per database")
    parser.add_argument("--postgres", help="PostgreSQL server URL (a template and one database per point are made)")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    parser.add_argument("--minutes", type=float, help="stop each database after this long (prints the projection)")
    parser.add_argument("--chain", type=int, default=4,
                        help="crashes in a row on one copy before it is checked against the reference (1: one)")
    parser.add_argument("--seed", type=int, default=2016)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    backends = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    results = [crash_points(b, members=args.members, points=args.points, postgres=args.postgres,
                            minutes=args.minutes, chain_length=args.chain, rng=rng, log=lambda m: print(m, flush=True)) for b in backends]
    print()
    print(f"{'database':<11} {'members':>9} {'passes':>6} {'copies':>6} {'tried':>6} {'distinct':>8} {'survived':>8} "
          f"{'failed':>6} {'points/min':>10} {'full run':>9}")
    for r in results:
        failed = r["tried"] - r["survived"]
        projected = f"{r['projected_minutes']:.0f} min" if r["projected_minutes"] else "—"
        print(f"{r['backend']:<11} {r['members']:>9,} {r['passes']:>6} {r['copies']:>6} {r['tried']:>6} {r['distinct']:>8} "
              f"{r['survived']:>8} {failed:>6} {r['per_minute']:>10.1f} {projected:>9}")
    for r in results:
        print(f"[{r['backend']}] seconds per point: " + ", ".join(f"{k} {v:.2f}" for k, v in r["phases"].items()))
    for r in results:
        for point, problems in sorted(r["failed"].items()):
            print(f"FAILED [{r['backend']}] {point}: {'; '.join(problems[:3])}")
    if any(r["failed"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
