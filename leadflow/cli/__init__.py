"""The ``leadflow`` command: run the embedded stack or its parts, validate flows, manage keys.

Examples::

    leadflow dev                         # everything on this machine: Temporal, worker, API, studio
    leadflow dev --port 9000             # the API and studio on another port
    leadflow worker                      # production: a worker against LEADFLOW_TEMPORAL_ADDRESS
    leadflow api --host 0.0.0.0          # production: the API alone
    leadflow flows validate flows/*.json # check flow files (exit status 1 on problems)
    leadflow flows import flows/*.json --publish
    leadflow flows simulate flows/trial-nurture.json --leads 10000 --days 90
    leadflow keys create --role marketer
    leadflow keys list                   # ids, roles, reps, last use; `keys revoke ID` revokes
    leadflow leads import contacts.csv   # CSV import with a progress bar and a report
    leadflow db upgrade                  # apply database migrations
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from leadflow.cli.devserver import (
    TemporalCliMissing,
    start_dev_server,
    stop_dev_server,
    stop_leftover_server,
)
from leadflow.config import PROJECT_ROOT, get_settings, reset_settings

log = logging.getLogger("leadflow")

SEARCH_ATTRIBUTES = ("LeadflowFlow", "LeadflowStep", "LeadflowTemperature", "LeadflowStage")


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _configure_logging(level: str = "INFO") -> None:
    try:
        from leadflow.logging_setup import configure_logging

        configure_logging(json=get_settings().json_logs, level=level)
    except ImportError:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from leadflow.leads.consent import warn_about_consent_mode

    warn_about_consent_mode(get_settings())


# ----------------------------------------------------------------------------- dev


def build_ui(force: bool = False) -> bool:
    """Build the studio into ui/dist when it is missing (needs Node.js and npm)."""
    ui = PROJECT_ROOT / "ui"
    if not (ui / "package.json").is_file():
        return False
    if (ui / "dist" / "index.html").is_file() and not force:
        return True
    npm = shutil.which("npm")
    if npm is None:
        print("  ! npm not found: the studio is not built (the API works without it)")
        return False
    print("  building the studio (npm ci && npm run build) ...", flush=True)
    if not (ui / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ui, check=True)
    subprocess.run([npm, "run", "build", "--silent"], cwd=ui, check=True)
    return True


async def _connect_with_retry(address: str, timeout: float = 60.0) -> Any:
    from temporalio.client import Client

    deadline = time.monotonic() + timeout
    while True:
        try:
            return await Client.connect(address, namespace=get_settings().temporal_namespace)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def _admin_key(home: Path) -> str:
    settings = get_settings()
    if settings.admin_key is not None:
        return settings.admin_key.get_secret_value()
    path = home / "admin_key"
    if path.is_file():
        return path.read_text().strip()
    key = "lf_admin_" + secrets.token_urlsafe(24)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _dev_secret(home: Path) -> None:
    """Keep a random LEADFLOW_SECRET_KEY under ``home`` unless a real one is configured."""
    if not get_settings().secret_is_placeholder:
        return
    path = home / "secret_key"
    if path.is_file() and path.read_text().strip():
        secret = path.read_text().strip()
    else:
        secret = secrets.token_hex(32)
        path.write_text(secret + "\n")
        path.chmod(0o600)
    os.environ["LEADFLOW_SECRET_KEY"] = secret
    reset_settings()


def _refuse_insecure_secret() -> int:
    """0 when the secret may be used; otherwise says why on stderr and returns 2."""
    from leadflow.config import InsecureSecret

    try:
        get_settings().check_secrets()
    except InsecureSecret as exc:
        print(f"leadflow: {exc}", file=sys.stderr)
        return 2
    return 0


SHUTDOWN_TIMEOUT = 10.0  # seconds: Ctrl-C returns this soon even while Temporal is down


async def _bounded(what: str, awaitable: Any, timeout: float = SHUTDOWN_TIMEOUT) -> None:
    """Await a shutdown step for at most ``timeout`` seconds (a Temporal server that is gone
    must not hold the process)."""
    try:
        await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        log.warning("%s did not stop within %.0f s; leaving it", what, timeout)
    except Exception as exc:  # noqa: BLE001 - shutting down anyway
        log.debug("%s stopped with %s", what, exc)


async def _serve(app: Any, host: str, port: int, worker: Any | None) -> None:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            proxy_headers=False,  # see cmd_api
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    tasks = [asyncio.create_task(server.serve(), name="api")]
    if worker is not None:
        tasks.append(asyncio.create_task(worker.run(), name="worker"))
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Ctrl-C (the task cancelled) or one part ended: stop both, each within bounds
        server.should_exit = True
        if worker is not None:
            await _bounded("the worker", worker.shutdown())
        for task in tasks:
            if not task.done():
                await _bounded(task.get_name(), asyncio.shield(task), 5)
            if not task.done():
                task.cancel()
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def _seed_examples(url: str) -> None:
    """Give a new, empty database the shipped examples (once; see leadflow.examples)."""
    from leadflow.db import session_scope
    from leadflow.errors import LeadflowError
    from leadflow.examples import seed_examples

    try:
        with session_scope(url) as session:
            loaded = seed_examples(session)
    except LeadflowError as exc:
        log.warning("the shipped examples were not loaded: %s", exc.detail)
        return
    if loaded["flows"] or loaded["teams"]:
        print(f"  loaded the examples: flows {', '.join(loaded['flows'])} (published), team "
              f"{', '.join(loaded['teams'])} with rep {', '.join(loaded['reps'])}, the scoring "
              "model (leadflow dev --empty skips this)", flush=True)


def cmd_dev(args: argparse.Namespace) -> int:
    settings = get_settings()
    home = Path(os.environ.get("LEADFLOW_HOME", settings.home)).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["LEADFLOW_HOME"] = str(home)
    if not args.skip_ui:
        try:
            build_ui()
        except subprocess.CalledProcessError as exc:
            print(f"  ! the studio did not build ({exc}); the API still runs")
    os.environ["LEADFLOW_ADMIN_KEY"] = _admin_key(home)
    _dev_secret(home)
    if "public_url" not in settings.model_fields_set:
        # links in mail (unsubscribe, tracking, the rep's lead link) point where we listen
        os.environ["LEADFLOW_PUBLIC_URL"] = f"http://127.0.0.1:{args.port}"
    reset_settings()
    settings = get_settings()
    _configure_logging(args.log_level)

    temporal_proc = None
    ui_url = None
    address = settings.temporal_address
    if not address:
        stop_leftover_server(home)  # first: its ports become free again
        port = args.temporal_port or (7233 if _port_free(7233) else _free_port())
        ui_port = port + 1000 if _port_free(port + 1000) else _free_port()
        try:
            temporal_proc = start_dev_server(home, port=port, ui_port=ui_port,
                                             namespace=settings.temporal_namespace,
                                             search_attributes=SEARCH_ATTRIBUTES)
        except TemporalCliMissing as exc:
            sys.exit(str(exc))
        address = f"127.0.0.1:{port}"
        ui_url = f"http://127.0.0.1:{ui_port}"
        os.environ["LEADFLOW_TEMPORAL_ADDRESS"] = address
        os.environ.setdefault("LEADFLOW_TEMPORAL_UI_URL", ui_url)
        reset_settings()
        settings = get_settings()

    from leadflow.api.main import create_app
    from leadflow.cli.wiring import build_worker
    from leadflow.db import create_schema

    create_schema(settings.resolved_database_url)
    if not args.empty:
        _seed_examples(settings.resolved_database_url)

    async def main() -> None:
        client = await _connect_with_retry(address)
        worker = build_worker(client, settings)
        await _ensure_schedules(client, settings)
        app = create_app(settings, temporal_client=client, create_tables=True)
        base = f"http://127.0.0.1:{args.port}"
        print("\nLeadflow is running (Ctrl-C stops everything; journeys resume on the next start)")
        print(f"  studio           {base}/")
        print(f"  API docs         {base}/docs")
        print(f"  Temporal Web UI  {ui_url or '(external Temporal at ' + address + ')'}")
        print(f"  database         {settings.resolved_database_url}")
        print(f"  e-mail backend   {settings.email_backend}")
        print(f"  admin key        {settings.admin_key.get_secret_value()}\n", flush=True)
        await _serve(app, "127.0.0.1", args.port, worker)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        if temporal_proc is not None:
            print("stopping Temporal ...", flush=True)
            stop_dev_server(home, temporal_proc)
        print("stopped.", flush=True)
    return 0


# ----------------------------------------------------------------------------- production parts


def cmd_worker(args: argparse.Namespace) -> int:
    if code := _refuse_insecure_secret():
        return code
    _configure_logging(args.log_level)
    settings = get_settings()
    from leadflow.cli.wiring import build_worker

    if args.metrics_bind:
        from leadflow.metrics import start_metrics_server

        start_metrics_server(args.metrics_bind)
        log.info("Leadflow metrics at http://%s/metrics", args.metrics_bind)

    async def main() -> None:
        runtime = None
        if args.sdk_metrics_bind:
            from leadflow.metrics import temporal_runtime

            runtime = temporal_runtime(args.sdk_metrics_bind)
        from temporalio.client import Client

        address = settings.temporal_address or "127.0.0.1:7233"
        deadline = time.monotonic() + args.connect_timeout
        while True:
            try:
                client = await Client.connect(address, namespace=settings.temporal_namespace,
                                              **({"runtime": runtime} if runtime else {}))
                break
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise SystemExit(f"Temporal at {address} is not reachable: {exc}") from exc
                log.info("waiting for Temporal at %s ...", address)
                await asyncio.sleep(2)
        worker = build_worker(client, settings)
        await _ensure_schedules(client, settings)
        log.info("worker polling task queue %r on %s", settings.task_queue, address)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        run = asyncio.create_task(worker.run())
        # the outbox drainer and the periodic reconciler (see leadflow.intents)
        drainer = asyncio.create_task(_drain(client, settings, stop))
        await stop.wait()
        log.info("shutting down the worker (finishing running activities) ...")
        await _bounded("the outbox drainer", drainer, 5)
        await _bounded("the worker", worker.shutdown(), 30)
        await _bounded("the worker", asyncio.gather(run, return_exceptions=True), 5)

    asyncio.run(main())
    return 0


async def _ensure_schedules(client: Any, settings: Any) -> None:
    """The periodic work Temporal starts (housekeeping); a worker runs without it if Temporal
    refuses (it is tried again at the next start)."""
    from leadflow.temporal import ensure_housekeeping_schedule, housekeeping_schedule_id

    try:
        if await ensure_housekeeping_schedule(client, settings):
            log.info("created the Temporal schedule %s",
                     housekeeping_schedule_id(settings.task_queue))
    except Exception as exc:  # noqa: BLE001 - not worth refusing to work over
        log.warning("could not create the housekeeping schedule: %s", exc)


async def _drain(client: Any, settings: Any, stop: asyncio.Event) -> None:
    from leadflow.intents import drain_forever

    async def get() -> Any:
        return client

    await drain_forever(get, settings.resolved_database_url, stop=stop,
                        reconcile_every=settings.reconcile_every or None)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Find journeys whose database row and workflow disagree, and repair them."""
    _configure_logging(args.log_level)
    settings = get_settings()
    url = settings.resolved_database_url
    address = settings.temporal_address or "127.0.0.1:7233"

    async def main() -> int:
        from datetime import timedelta

        from leadflow.db import session_scope
        from leadflow.intents import pending_count
        from leadflow.usecases.reconcile import reconcile

        try:
            client = await asyncio.wait_for(_connect_with_retry(address, 5), 10)
        except Exception as exc:  # noqa: BLE001
            with session_scope(url) as session:
                pending, oldest = pending_count(session)
            print(f"Temporal at {address} is not reachable ({type(exc).__name__}); "
                  f"{pending} intent(s) wait in the outbox"
                  + (f" since {oldest:%Y-%m-%d %H:%M:%S}" if oldest else "")
                  + "; they are delivered once it is back.")
            return 2
        report = await reconcile(client, url, dry_run=args.dry_run,
                                 stale_after=timedelta(seconds=args.stale_after))
        if args.json:
            print(json.dumps(report.as_dict(), default=str, indent=2))
        else:
            for finding in report.findings:
                print(finding.line())
            print(("dry run: " if args.dry_run else "") + report.summary())
        return 0

    return asyncio.run(main())


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    if code := _refuse_insecure_secret():
        return code
    _configure_logging(args.log_level)
    from leadflow.api.main import create_app

    app = create_app()
    # log_config=None: keep the logging set up above (JSON on request), not uvicorn's own.
    # proxy_headers=False: X-Forwarded-For is believed only from LEADFLOW_TRUSTED_PROXIES
    # (leadflow.client_address), not from whatever uvicorn trusts by default.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                proxy_headers=False, workers=1, log_config=None)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from leadflow.migrate import upgrade

    upgrade(args.url)
    print("database is up to date")
    return 0


# ----------------------------------------------------------------------------- flows and keys


def _cli_context() -> Any:
    """Validation context for the CLI: templates on disk and, when the database exists, its own."""
    from leadflow.journeys.validate import ValidationContext
    from leadflow.rendering import TEMPLATE_DIR

    settings = get_settings()
    url = settings.resolved_database_url
    if not url.startswith("sqlite") or Path(url.split("///", 1)[-1]).is_file():
        try:
            from leadflow.db import session_scope
            from leadflow.journeys.flows import validation_context

            with session_scope(url) as session:
                ctx = validation_context(session)
                ctx.template_errors = None
                if not ctx.teams:
                    # nothing set up yet (`leadflow dev` loads the example team): a handoff's
                    # team is checked when the flow is published, against the teams then
                    print("note: no sales team exists yet, so team names are not checked here",
                          file=sys.stderr)
                    ctx.teams = None
                return ctx
        except Exception as exc:  # noqa: BLE001 - fall back to files only
            log.debug("database not usable for validation: %s", exc)
    names = {p.name[:-8] for p in TEMPLATE_DIR.glob("*.html.j2") if not p.name.startswith("_")}
    return ValidationContext(templates=names)


def cmd_flows_validate(args: argparse.Namespace) -> int:
    from leadflow.journeys.validate import validate_flow
    from leadflow.json_limits import load_checked

    ctx = _cli_context()
    bad = 0
    for name in args.files:
        path = Path(name)
        try:
            doc = load_checked(path.read_text())
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot read: {exc}")
            bad += 1
            continue
        problems = validate_flow(doc, ctx)
        if not problems:
            print(f"{path}: ok")
            continue
        bad += 1
        print(f"{path}: {len(problems)} problem(s)")
        for p in problems:
            print(f"  {p['path'] or '(document)'}: {p['message']}")
        if isinstance(doc, dict) and isinstance(doc.get("id"), str) and path.stem != doc["id"]:
            print(f"  note: the file name should be {doc['id']}.json")
    return 1 if bad else 0


def cmd_flows_import(args: argparse.Namespace) -> int:
    from leadflow.db import create_schema, session_scope
    from leadflow.errors import LeadflowError
    from leadflow.journeys.flows import get_flow, publish, save_draft

    url = get_settings().resolved_database_url
    create_schema(url)
    status = 0
    for name in args.files:
        doc = json.loads(Path(name).read_text())
        try:
            with session_scope(url) as session:
                try:
                    get_flow(session, doc.get("id", ""))
                    save_draft(session, doc, flow_id=doc["id"], create=False)
                except LeadflowError as exc:
                    if type(exc).__name__ != "NotFound":
                        raise
                    save_draft(session, doc, create=True)
                msg = "draft saved"
                if args.publish:
                    msg = f"published as version {publish(session, doc['id']).version}"
            print(f"{name}: {msg}")
        except LeadflowError as exc:
            status = 1
            print(f"{name}: {exc.detail}")
            for p in getattr(exc, "problems", []):
                print(f"  {p['path']}: {p['message']}")
    return status


def _print_preview(console: Any, shown: dict[str, Any]) -> None:
    """The preview as tables: leads per step move, then a sample of leads."""
    from rich.table import Table

    moves = Table(title=f"Waiting leads -> version {shown['to_version']}")
    for name in ("from version", "from step", "to step", "leads", "mails at once"):
        moves.add_column(name, justify="right" if name in ("leads", "mails at once") else "left")
    for m in shown["moves"]:
        moves.add_row(str(m["from_version"]), m["from_step"], m["to_step"], str(m["leads"]),
                      str(m["sends_at_once"]))
    console.print(moves)
    if shown["sample"]:
        sample = Table(title="A sample of leads")
        for name in ("lead", "from step", "to step", "next action (UTC)"):
            sample.add_column(name)
        for row in shown["sample"]:
            sample.add_row(row["lead_id"], row["from_step"], row["to_step"],
                           row["next_action_at"][:19].replace("T", " "))
        console.print(sample)
    console.print(f"{shown['leads']} lead(s) move, {shown['sends_at_once']} mail(s) leave at "
                  f"once; {shown['busy']} lead(s) in the middle of an action move once they wait.")


def cmd_flows_migrate(args: argparse.Namespace) -> int:
    """Preview, then (unless --dry-run) move the flow's waiting leads with a progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from leadflow.db import session_scope
    from leadflow.errors import LeadflowError
    from leadflow.journeys.flow_changes import (
        create_migration,
        migration_view,
        preview,
        preview_view,
    )
    from leadflow.journeys.migration import Request
    from leadflow.temporal import MigrationJobInput, start_migration_job

    console = Console()
    settings = get_settings()
    url = settings.resolved_database_url
    step_map = {}
    for item in args.map or []:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            console.print(f"error: --map takes old=new, not {item!r}")
            return 2
        step_map[old] = new
    request = Request(to_version=args.to, from_versions=args.from_versions or None,
                      step_map=step_map, timers=args.timers)
    try:
        with session_scope(url) as session:
            shown = preview_view(preview(session, args.flow, request))
    except LeadflowError as exc:
        console.print(f"error: {exc.detail}")
        return 2
    _print_preview(console, shown)
    if shown["problems"]:
        console.print(f"[bold red]{len(shown['problems'])} problem(s); nothing moved:")
        for p in shown["problems"]:
            console.print(f"  {p['path']}: {p['message']}")
        return 1
    if args.dry_run:
        console.print("dry run: nothing moved.")
        return 0

    async def run() -> dict[str, Any]:
        client = await _connect_with_retry(settings.temporal_address or "127.0.0.1:7233", 30)
        with session_scope(url) as session:
            mid = create_migration(session, args.flow, request).id
        await start_migration_job(client, MigrationJobInput(migration_id=mid, flow_id=args.flow))
        columns = [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        with Progress("[bold]moving", *columns, console=console) as progress:
            task = progress.add_task("leads", total=max(shown["leads"], 1))
            while True:
                with session_scope(url) as session:
                    report = migration_view(session, args.flow, mid)
                progress.update(task, total=max(report["planned"], 1), completed=(
                    report["moved"] + len(report["skipped"]) + report["failed"]))
                if report["status"] == "done":
                    return report
                await asyncio.sleep(0.5)

    try:
        report = asyncio.run(run())
    except LeadflowError as exc:
        console.print(f"error: {exc.detail}")
        return 2
    console.print(f"migration {report['id']}: {report['moved']} moved, "
                  f"{len(report['skipped'])} skipped, {report['failed']} failed")
    for row in report["skipped"][:50] + report["failures"][:50]:
        console.print(f"  lead {row['lead_id']}: {row['reason']}")
    return 1 if report["failed"] else 0


def cmd_flows_simulate(args: argparse.Namespace) -> int:
    """Simulate a flow file or a stored flow: a progress bar, then tables (or ``--json``)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from leadflow.errors import LeadflowError
    from leadflow.journeys.validate import validate_flow
    from leadflow.usecases.simulation import (
        load_world,
        parse_request,
        run_simulation,
        simulate_flow,
    )

    body: dict[str, Any] = {"leads": "sample" if args.sample else args.leads, "days": args.days,
                            "seed": args.seed}
    if args.start:
        body["start"] = args.start
    if args.enrol_over_days:
        body["enrol_over_days"] = args.enrol_over_days
    if args.request:
        body.update(json.loads(Path(args.request).read_text()))
    console = Console(stderr=True)
    url = get_settings().resolved_database_url
    has_db = not url.startswith("sqlite") or Path(url.split("///", 1)[-1]).is_file()
    path = Path(args.flow)
    try:
        with Progress("[bold]simulating", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=console, transient=True, disable=args.json) as progress:
            task = progress.add_task("leads", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            if path.suffix == ".json" or path.is_file():
                doc = json.loads(path.read_text())
                problems = validate_flow(doc, _cli_context())
                if problems:
                    print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
                    for p in problems:
                        print(f"  {p['path'] or '(document)'}: {p['message']}", file=sys.stderr)
                    return 1
                req = parse_request(body)
                if has_db:
                    from leadflow.db import session_scope
                    from leadflow.usecases.simulation import World

                    with session_scope(url) as session:
                        world: World = load_world(session)
                        seeds = None
                        if req.leads == "sample":
                            from leadflow.usecases.simulation import _default_start, sample_leads

                            seeds = sample_leads(session, req.seed, req.start or _default_start())
                else:
                    from leadflow.scoring.model import DEFAULT_SCORING_MODEL
                    from leadflow.usecases.simulation import World

                    settings = get_settings()
                    world = World(model=DEFAULT_SCORING_MODEL,
                                  frequency_cap=settings.frequency_cap,
                                  frequency_cap_days=settings.frequency_cap_days,
                                  default_timezone=settings.default_timezone)
                    seeds = None
                    if req.leads == "sample":
                        print("--sample needs the database (no leads here)", file=sys.stderr)
                        return 2
                result = run_simulation(doc, req, world, seeds=seeds, progress=advance)
            else:
                if not has_db:
                    print(f"{args.flow}: no such file, and no database to find a flow in",
                          file=sys.stderr)
                    return 2
                from leadflow.db import session_scope

                if args.version:
                    body["version"] = args.version
                with session_scope(url) as session:
                    result = simulate_flow(session, args.flow, body, progress=advance)
    except LeadflowError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        for p in getattr(exc, "problems", []):
            print(f"  {p['path']}: {p['message']}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_simulation(result, Console())
    return 0


def print_simulation(result: dict[str, Any], console: Any) -> None:
    """The simulation's answer as a few tables, in words."""
    from rich.table import Table

    emails, mql = result["emails"], result["mql"]
    console.print(f"[bold]{result['flow_id']}[/]: {result['leads']:,} leads over "
                  f"{result['days']} days from {result['start'][:10]} (seed {result['seed']}), "
                  f"simulated in {result['elapsed_ms'] / 1000:.1f} s")
    console.print(f"e-mails: {emails['sent']:,} sent ({emails['skipped']:,} skipped, "
                  f"{emails['postponed']:,} postponed by window or cap); per lead p50 "
                  f"{emails['per_lead']['p50']:g}, p95 {emails['per_lead']['p95']:g}, max "
                  f"{emails['per_lead']['max']}; at most {emails['max_per_lead_per_week']} to "
                  "one lead in a week")
    mql_days = mql["days_to_mql_p50"]
    console.print(f"MQLs: {mql['count']:,}" + (f", half of them within {mql_days:g} days"
                                               if mql_days is not None else ""))
    steps = Table(title="steps", title_justify="left")
    for name, justify in (("step", "left"), ("entered", "right"), ("left", "right"),
                          ("waiting at end", "right")):
        steps.add_column(name, justify=justify)  # type: ignore[arg-type]
    for step, row in result["steps"].items():
        steps.add_row(step, f"{row['entered']:,}", f"{row['left']:,}", f"{row['waiting_at_end']:,}")
    console.print(steps)
    exits = ", ".join(f"{reason} {n:,}" for reason, n in result["exits"].items()) or "none"
    console.print(f"exits: {exits}")
    teams = result["handoffs"]["per_team_per_business_day"]
    if teams:
        table = Table(title=f"hand-offs ({result['handoffs']['total']:,})", title_justify="left")
        for name in ("team", "per business day (mean)", "max", "capacity", "members"):
            table.add_column(name, justify="left" if name == "team" else "right")
        for team, row in teams.items():
            table.add_row(team, f"{row['mean']:g}", str(row["max"]),
                          "-" if row["capacity"] is None else str(row["capacity"]),
                          str(row["members"]))
        console.print(table)
    paths = Table(title="most common paths", title_justify="left")
    paths.add_column("leads", justify="right")
    paths.add_column("path")
    for path in result["paths"][:5]:
        paths.add_row(f"{path['leads']:,}", " → ".join(path["steps"]))
    console.print(paths)


def _in_flags(message: str, flags: dict[str, str]) -> str:
    """A core error message with its field names as the flags a user types (rep_id -> --rep)."""
    for field, flag in flags.items():
        message = re.sub(rf"(?<![-\w]){re.escape(field)}\b", flag, message)
    return message


def cmd_keys_create(args: argparse.Namespace) -> int:
    from leadflow.auth import create_key
    from leadflow.db import create_schema, session_scope
    from leadflow.errors import LeadflowError

    url = get_settings().resolved_database_url
    create_schema(url)
    try:
        with session_scope(url) as session:
            key = create_key(session, role=args.role, rep_id=args.rep, label=args.label)
    except LeadflowError as exc:
        print(f"error: {_in_flags(exc.detail, {'rep_id': '--rep', 'role': '--role'})}",
              file=sys.stderr)
        return 2
    print(key)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from leadflow.auth import list_keys
    from leadflow.db import create_schema, session_scope

    url = get_settings().resolved_database_url
    create_schema(url)
    with session_scope(url) as session:
        rows = list_keys(session)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no API keys issued yet (leadflow keys create --role marketer)")
        return 0
    print(f"{'id':32}  {'role':8}  {'rep':16}  {'created':16}  {'last used':16}  label")
    for r in rows:
        def when(value: str | None) -> str:
            return value[:16].replace("T", " ") if value else "never"
        rep = r["rep_name"] or r["rep_id"] or "-"
        status = f"  (revoked {when(r['revoked_at'])})" if r["revoked_at"] else ""
        print(f"{r['id']:32}  {r['role']:8}  {rep[:16]:16}  {when(r['created_at']):16}  "
              f"{when(r['last_used_at']):16}  {r['label'] or ''}{status}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from leadflow.auth import revoke_key
    from leadflow.db import create_schema, session_scope
    from leadflow.errors import LeadflowError

    url = get_settings().resolved_database_url
    create_schema(url)
    try:
        with session_scope(url) as session:
            revoke_key(session, args.id)
    except LeadflowError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    print(f"key {args.id} revoked")
    return 0


def cmd_leads_import(args: argparse.Namespace) -> int:
    """Import a CSV in chunks, with a progress bar; journeys start through Temporal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from leadflow.db import create_schema, session_scope
    from leadflow.dispatch import run_dispatch
    from leadflow.errors import LeadflowError
    from leadflow.usecases.csv_import import import_csv

    settings = get_settings()
    url = settings.resolved_database_url
    if settings.env != "production":
        create_schema(url)
    path = Path(args.file)
    lines = path.read_bytes().splitlines(keepends=True)
    if not lines:
        print(f"{path}: empty file", file=sys.stderr)
        return 2
    header, rows = lines[0], lines[1:]
    totals = {"created": 0, "updated": 0, "rejected": 0}
    rejected: list[dict[str, Any]] = []

    async def run() -> None:
        client = await _connect_with_retry(settings.temporal_address or "127.0.0.1:7233", 30)
        columns = [BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        with Progress("[bold]importing", *columns) as progress:
            task = progress.add_task("rows", total=len(rows))
            for start in range(0, len(rows), args.chunk):
                chunk = rows[start:start + args.chunk]
                with session_scope(url) as session:
                    report, plan = import_csv(session, header + b"".join(chunk))
                    plan.record(session)
                await run_dispatch(client, plan, url, background=False)
                totals["created"] += report.created
                totals["updated"] += report.updated
                totals["rejected"] += len(report.rejected)
                rejected.extend({**r, "row": r["row"] + start} for r in report.rejected)
                progress.advance(task, len(chunk))

    try:
        asyncio.run(run())
    except LeadflowError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    print(f"{path}: {totals['created']} created, {totals['updated']} updated, "
          f"{totals['rejected']} rejected")
    for r in rejected[:50]:
        print(f"  line {r['row']} ({r.get('email') or 'no email'}): {'; '.join(r['errors'])}")
    if len(rejected) > 50:
        print(f"  ... and {len(rejected) - 50} more")
    return 1 if rejected else 0


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leadflow", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = sub.add_parser("dev", help="run everything embedded: Temporal dev server, worker, API, studio",
                         description="Start the embedded stack. State lives under LEADFLOW_HOME "
                         "(default .leadflow/): Temporal's SQLite file, the app database, the "
                         "admin key. Ctrl-C stops everything; starting again resumes every journey.")
    dev.add_argument("--port", type=int, default=get_settings().port,
                     help="API and studio port (default LEADFLOW_PORT, else 8000)")
    dev.add_argument("--temporal-port", type=int, default=None,
                     help="Temporal frontend port (default 7233, or a free one if taken)")
    dev.add_argument("--skip-ui", action="store_true", help="do not build the studio")
    dev.add_argument("--empty", action="store_true",
                     help="do not load the shipped examples into a new database")
    dev.set_defaults(func=cmd_dev)

    worker = sub.add_parser("worker", help="run a worker (production; scale by running more)",
                            description="Poll the task queue at LEADFLOW_TEMPORAL_ADDRESS and run "
                            "journeys and handoffs. Run several for more throughput.")
    worker.add_argument("--metrics-bind", default=os.environ.get("LEADFLOW_WORKER_METRICS_BIND"),
                        help="host:port serving Leadflow's Prometheus metrics (e-mails, "
                        "journeys) at /metrics (env LEADFLOW_WORKER_METRICS_BIND)")
    worker.add_argument("--sdk-metrics-bind",
                        default=os.environ.get("LEADFLOW_WORKER_SDK_METRICS_BIND"),
                        help="host:port for the Temporal SDK's own Prometheus metrics (task "
                        "slots, poll latencies; env LEADFLOW_WORKER_SDK_METRICS_BIND)")
    worker.add_argument("--connect-timeout", type=float, default=120.0,
                        help="seconds to wait for Temporal at start (default 120)")
    worker.set_defaults(func=cmd_worker)

    api = sub.add_parser("api", help="run the API and studio alone (production)")
    api.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    api.add_argument("--port", type=int, default=get_settings().port,
                     help="port (default LEADFLOW_PORT, else 8000)")
    api.set_defaults(func=cmd_api)

    doctor = sub.add_parser("doctor", help="find and repair journeys whose database row and "
                            "workflow disagree (and intents not yet delivered)")
    doctor.add_argument("--dry-run", action="store_true", help="report, change nothing")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument("--stale-after", type=float, default=60.0, metavar="SECONDS",
                        help="only judge what is older than this (default 60)")
    doctor.set_defaults(func=cmd_doctor)

    db = sub.add_parser("db", help="database migrations")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="apply every migration (LEADFLOW_DATABASE_URL)")
    up.add_argument("--url", default=None, help="database URL (default: the configured one)")
    up.set_defaults(func=cmd_db_upgrade)

    flows = sub.add_parser("flows", help="validate, import and migrate flows")
    fsub = flows.add_subparsers(dest="flows_command", required=True, metavar="ACTION")
    val = fsub.add_parser("validate", help="check flow files; exit status 1 on problems",
                          description="Report every problem of each flow file with its JSON path.")
    val.add_argument("files", nargs="+", metavar="FILE")
    val.set_defaults(func=cmd_flows_validate)
    imp = fsub.add_parser("import", help="save flow files as drafts (and --publish them)")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--publish", action="store_true", help="publish each as a new version")
    imp.set_defaults(func=cmd_flows_import)

    mig = fsub.add_parser(
        "migrate", help="move a flow's waiting leads to a newer version (preview first)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Move the leads waiting in older versions of FLOW to version --to.\n\n"
        "It first prints the preview: how many leads go from each (version, step) to which\n"
        "step of the new version, how many mails would leave at once because a delay got\n"
        "shorter, and a sample of leads with their next action time. With problems (a\n"
        "waiting step the new version lacks and --map does not name) nothing moves and the\n"
        "exit status is 1. Otherwise the leads move in the background (a progress bar);\n"
        "leads in the middle of a send or a handoff move once they next wait, or are\n"
        "reported skipped.",
        epilog="examples:\n"
        "  leadflow flows migrate trial-nurture --to 4 --dry-run\n"
        "  leadflow flows migrate trial-nurture --to 4 --map wait-2d=wait-1d --map old=tips\n"
        "  leadflow flows migrate trial-nurture --to 4 --from 2 --from 3 --timers keep_deadline\n"
        "\ntimer policies (for the new wait step's delay):\n"
        "  from_entry     the new delay counted from when the lead entered its step (default;\n"
        "                 already past: due now)\n"
        "  keep_deadline  the deadline the lead had\n"
        "  restart        the new delay counted from now")
    mig.add_argument("flow", metavar="FLOW", help="the flow's id")
    mig.add_argument("--to", type=int, required=True, metavar="N", help="the version to move to")
    mig.add_argument("--map", action="append", metavar="OLD=NEW",
                     help="send leads waiting at step OLD to step NEW (repeat for more); steps "
                     "of the same id map to themselves")
    mig.add_argument("--timers", default="from_entry",
                     choices=["from_entry", "keep_deadline", "restart"],
                     help="how the new delay is counted (default from_entry)")
    mig.add_argument("--from", dest="from_versions", type=int, action="append", metavar="N",
                     help="only leads on version N (repeat; default: every older version)")
    mig.add_argument("--dry-run", action="store_true", help="print the preview, move nobody")
    mig.set_defaults(func=cmd_flows_migrate)

    sim = fsub.add_parser("simulate", help="simulate a flow file or stored flow in simulated time",
                          description="Run a flow over synthetic leads (or a sample of real "
                          "ones) in simulated time with the live interpreter: mails per lead and "
                          "week, exits, hand-offs per team and business day, MQLs, common paths. "
                          "Sends nothing and changes nothing.")
    sim.add_argument("flow", metavar="FILE|ID", help="a flow file, or the id of a stored flow")
    sim.add_argument("--leads", type=int, default=1000, help="synthetic leads (default 1000)")
    sim.add_argument("--sample", action="store_true", help="a sample of real leads instead")
    sim.add_argument("--days", type=int, default=90, help="simulated days (default 90)")
    sim.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    sim.add_argument("--start", default=None, help="simulated start, ISO 8601 (default today)")
    sim.add_argument("--enrol-over-days", type=float, default=0.0,
                     help="spread enrolments over this many days (default: all at the start)")
    sim.add_argument("--version", type=int, default=None, help="a stored flow's version")
    sim.add_argument("--request", default=None, metavar="JSON_FILE",
                     help="more of the request (profile, engagement, events, sales) from a file")
    sim.add_argument("--json", action="store_true", help="print the result as JSON")
    sim.set_defaults(func=cmd_flows_simulate)

    leads = sub.add_parser("leads", help="lead data")
    lsub = leads.add_subparsers(dest="leads_command", required=True, metavar="ACTION")
    li = lsub.add_parser("import", help="import a CSV of leads (progress bar, per-row report)",
                         description="Create or update leads from a CSV with a header row: "
                         "email (required), first_name, last_name, company, title, country, "
                         "timezone, source, tags (;-separated), consent_status, consent_source, "
                         "consent_text_version, utm_*; other columns become custom fields. New "
                         "leads enter lead.created flows. Exit status 1 when rows were rejected.")
    li.add_argument("file", metavar="FILE")
    li.add_argument("--chunk", type=int, default=500, help="rows per transaction (default 500)")
    li.set_defaults(func=cmd_leads_import)

    keys = sub.add_parser("keys", help="API keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    kc = ksub.add_parser("create", help="print a new API key",
                         description="Create an API key with one role and print it (shown once).")
    kc.add_argument("--role", required=True, choices=["admin", "marketer", "sales"])
    kc.add_argument("--rep", default=None, help="the rep a sales key belongs to")
    kc.add_argument("--label", default=None, help="a note to recognise the key by")
    kc.set_defaults(func=cmd_keys_create)
    kl = ksub.add_parser("list", help="list API keys (never their secrets)",
                         description="List every key: id, role, rep, created, last used, label, "
                         "and whether it is revoked.")
    kl.add_argument("--json", action="store_true", help="print JSON instead of a table")
    kl.set_defaults(func=cmd_keys_list)
    kr = ksub.add_parser("revoke", help="revoke an API key",
                         description="Revoke a key by its id (see `leadflow keys list`); it is "
                         "refused from the next request on.")
    kr.add_argument("id", metavar="ID")
    kr.set_defaults(func=cmd_keys_revoke)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    code = args.func(args)
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal SDK's native threads can abort at interpreter exit (sdk-python #300):
    # leave without running finalizers once our own work is done.
    os._exit(code or 0)


if __name__ == "__main__":
    main()
