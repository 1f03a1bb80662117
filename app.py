"""The ``voice-statement`` command line and the FastAPI application (``create_app``).

    voice-statement transcribe AUDIO [--template T] [--statement-date D] [--speakers N|auto]
                                     [--officer NAME] [--json | --format F]
    voice-statement extract --text-file F [--template T] [--statement-date D] [--json]
    voice-statement evaluate GOLD_DIR [--from-audio] [--out DIR] [--verbose] [--min-f1 X]
    voice-statement models [--json]
    voice-statement serve [--host H] [--port P]
    voice-statement worker [--concurrency N]
    voice-statement users add|list|revoke|token|password|enrol NAME AUDIO|unenrol NAME

Bad input gets one line on stderr naming the problem and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from models import Statement
    from transcription.diarisation import DiarisationOptions
    from transcription.engines import ProgressCallback
    from workflow.pipeline import StatementPipeline
    from workflow.settings import Settings

EXIT_BAD_INPUT = 2
# Recordings longer than this show progress on stderr.
PROGRESS_AFTER_S = 60.0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text!r}") from exc


def _language(text: str) -> str | None:
    return None if text == "auto" else text


def _speakers(text: str) -> DiarisationOptions:
    from transcription.diarisation import MAX_SPEAKERS, DiarisationOptions

    if text == "auto":
        return DiarisationOptions(speakers=None)
    if not text.isdecimal() or not 1 <= int(text) <= MAX_SPEAKERS:
        raise argparse.ArgumentTypeError(
            f"speakers must be a number from 1 to {MAX_SPEAKERS}, or auto: got {text!r}"
        )
    return DiarisationOptions(speakers=int(text))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voice-statement",
        description="Turn a spoken witness statement into a structured draft, offline.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def statement_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--template",
            choices=["mg11", "missing_person", "interview_record"],
            default="mg11",
            help="statement template (default mg11, the witness statement; interview_record: "
            "the whole recording as a timed, speaker-labelled transcript)",
        )
        p.add_argument(
            "--statement-date",
            type=_iso_date,
            default=None,
            metavar="YYYY-MM-DD",
            help="date the statement is taken; relative dates resolve against it (default today)",
        )

    t = commands.add_parser("transcribe", help="transcribe a recording and draft the statement")
    t.add_argument(
        "audio", type=Path, metavar="AUDIO", help="m4a, webm, ogg, mp3, wav, flac or 3gp recording"
    )
    statement_options(t)
    t.add_argument(
        "--engine",
        choices=["faster-whisper", "openai-whisper"],
        default=None,
        help="speech engine (default faster-whisper)",
    )
    t.add_argument(
        "--model",
        default=None,
        help="tiny.en (default), base (multilingual), a path, or an official name",
    )
    t.add_argument(
        "--language",
        type=_language,
        default="en",
        help="language spoken: en (default), a code such as pl, or auto to detect",
    )
    t.add_argument(
        "--task",
        choices=["transcribe", "translate"],
        default="transcribe",
        help="translate: give the English translation (multilingual models)",
    )
    t.add_argument("--beam-size", type=int, default=None, help="beam size (default 5)")
    t.add_argument(
        "--compute-type",
        default=None,
        help="float32 (default), int8 (CPU, both engines), float16 (GPU)",
    )
    t.add_argument(
        "--no-vad", action="store_true", help="transcribe the whole recording, silence included"
    )
    t.add_argument(
        "--vocabulary",
        type=Path,
        default=None,
        help="file of place names and terms to bias spelling (one a line)",
    )
    t.add_argument(
        "--known",
        action="append",
        default=[],
        metavar="TERM",
        help="a name or place already known on the job, spelled as it should be written "
        "(repeatable); put first in Whisper's prompt",
    )
    t.add_argument(
        "--speakers",
        type=_speakers,
        default=None,
        metavar="N|auto",
        help="tell the voices apart (a question-and-answer recording): 2 for the officer and "
        "the witness, a number up to 6, or auto to count them; each word gets its speaker",
    )
    t.add_argument(
        "--officer",
        default=None,
        metavar="NAME",
        help="the account whose enrolled voice is the officer's in this recording (from the "
        "service database, as `users` uses; with --speakers)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress on stderr")
    out = t.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the statement JSON on stdout")
    out.add_argument(
        "--format",
        choices=["txt", "srt", "vtt"],
        default=None,
        help="print only the transcript, as plain text or subtitles",
    )

    e = commands.add_parser("extract", help="draft the statement from a text transcript")
    e.add_argument(
        "--text-file",
        type=Path,
        required=True,
        metavar="F",
        help="UTF-8 text of the statement ('-' for standard input)",
    )
    statement_options(e)
    e.add_argument("--json", action="store_true", help="print the statement JSON on stdout")

    ev = commands.add_parser(
        "evaluate", help="draft every statement of a gold set and score the drafts"
    )
    ev.add_argument(
        "gold_dir",
        type=Path,
        metavar="GOLD_DIR",
        help="directory of NN.json gold statements (the shared dev set's shape)",
    )
    ev.add_argument(
        "--from-audio",
        action="store_true",
        help="transcribe each statement's recording (audio.file) instead of reading its words",
    )
    ev.add_argument("--out", type=Path, default=None, help="write each draft to DIR/NN.json")
    ev.add_argument("--verbose", action="store_true", help="list the misses of each statement")
    ev.add_argument(
        "--min-f1",
        type=float,
        default=None,
        metavar="X",
        help="exit 1 when the overall F1 is below X",
    )
    ev.add_argument("--engine", choices=["faster-whisper", "openai-whisper"], default=None)
    ev.add_argument("--model", default=None, help="Whisper model for --from-audio")

    m = commands.add_parser("models", help="list the Whisper models available and where")
    m.add_argument("--json", action="store_true")
    m.add_argument(
        "--pins", action="store_true", help="print the SHA-256 pins of the configured weights"
    )

    u = commands.add_parser(
        "users", help="local accounts: add, list, revoke, token, password, enrol, unenrol"
    )
    users = u.add_subparsers(dest="users_command", required=True)
    ua = users.add_parser("add", help="create an account and print its API token (once)")
    ua.add_argument("name")
    ua.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[r.value for r in _roles()],
        help="a role; repeat for several",
    )
    ua.add_argument("--unit", default=None, help="the unit (team) whose statements it reaches")
    users.add_parser("list", help="list accounts")
    ur = users.add_parser("revoke", help="revoke an account, its tokens and its sessions")
    ur.add_argument("name")
    ut = users.add_parser("token", help="issue another API token for an account")
    ut.add_argument("name")
    up = users.add_parser("password", help="set the web sign-in password (read from stdin)")
    up.add_argument("name")
    ue = users.add_parser(
        "enrol",
        help="enrol an officer's voice from a short sample of them reading (only the voice "
        "print is kept, never the audio)",
    )
    ue.add_argument("name")
    ue.add_argument("audio", type=Path, metavar="AUDIO", help="3 s of speech to 2 minutes")
    uu = users.add_parser("unenrol", help="forget an officer's enrolled voice")
    uu.add_argument("name")

    a = commands.add_parser("audit", help="the audit log")
    audit_commands = a.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="check the whole hash chain (exit 1 if broken)")

    k = commands.add_parser("keys", help="encryption keys")
    key_commands = k.add_subparsers(dest="keys_command", required=True)
    key_commands.add_parser(
        "rotate", help="re-wrap every data key under VOICE_STATEMENT_KEK (audio is not rewritten)"
    )
    key_commands.add_parser("generate", help="print a new random key-encryption key (base64)")

    r = commands.add_parser("retention", help="apply the retention policy now")
    retention_commands = r.add_subparsers(dest="retention_command", required=True)
    retention_commands.add_parser("apply", help="erase what the policy says is due")

    s = commands.add_parser(
        "serve", help="run the statement service (embedded defaults: nothing to configure)"
    )
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")

    w = commands.add_parser(
        "worker", help="run Celery drafting workers (distributed mode: needs a broker URL)"
    )
    w.add_argument(
        "--concurrency", type=int, default=1, help="worker processes, one model each (default 1)"
    )
    return parser


def _roles() -> list[Any]:
    from models import Role

    return list(Role)


def create_app(
    settings: Settings | None = None, *, pipeline: StatementPipeline | None = None
) -> FastAPI:
    """The service: routes, JSON errors, and its background workers started with it.

    pipeline: an already-loaded pipeline to use instead of loading one (tests share one).
    """
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    from api import (
        admin,
        auth,
        governance,
        health,
        openai_compat,
        pages,
        statements,
        uploads,
        voice,
    )
    from api.errors import install_error_handlers
    from api.security_headers import install_security
    from security.ratelimit import RateLimiter
    from workflow.runtime import Runtime
    from workflow.services import Services

    services = Services(settings, pipeline=pipeline)
    _ = services.oidc  # a wrong OpenID Connect configuration refuses to start, not to serve
    runtime = Runtime(services)
    public_docs = services.settings.public_api_docs

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.start()  # migrations first: nothing is served on an old schema
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(
        title="voice-statement",
        summary="Witness statements by voice: record, draft, review, confirm, submit.",
        version="0.1.0",
        lifespan=lifespan,
        # The API description names no data, but every endpoint but /healthz needs a token;
        # a deployment that wants /docs says so (VOICE_STATEMENT_PUBLIC_API_DOCS=true).
        docs_url="/docs" if public_docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if public_docs else None,
    )
    app.state.services = services
    app.state.runtime = runtime
    app.state.upload_limiter = RateLimiter(services.settings.upload_rate_per_minute, 60.0)
    install_error_handlers(app)
    # Inside the security headers, so that its 413/415 answers carry them too.
    app.add_middleware(
        statements.RecordingBodyLimit, limit=lambda: services.settings.max_upload_bytes
    )
    install_security(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(statements.router)
    app.include_router(uploads.router)
    app.include_router(voice.router)
    app.include_router(openai_compat.router)
    app.include_router(admin.router)
    app.include_router(governance.router)
    pages.install(app)  # the browser pages, /static and the service worker /sw.js
    return app


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from workflow.settings import Settings

    settings = Settings()
    print(
        f"voice-statement: serving on http://{args.host}:{args.port}"
        f"{' (docs at /docs)' if settings.public_api_docs else ''}; "
        f"data in {settings.data_dir}",
        file=sys.stderr,
    )
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from workflow import celery_app
    from workflow.database import Database
    from workflow.settings import Settings

    settings = Settings()
    if not settings.broker_url:
        print(
            "voice-statement: error: the worker needs VOICE_STATEMENT_BROKER_URL (such as "
            "redis://127.0.0.1:6379/0); without one, `serve` drafts in its own process",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from workflow.pipeline import INTEGRITY_CODES, verify_weights

    try:  # tampered weights stop the worker here, rather than fail every recording later
        verify_weights(settings)
    except Exception as exc:
        if getattr(exc, "code", None) not in INTEGRITY_CODES:
            raise
        print(f"voice-statement: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    database = Database(settings.resolved_database_url)
    database.migrate()
    database.dispose()  # each worker process opens its own connections after the fork
    concurrency = max(1, args.concurrency)
    app = celery_app.configure(settings, concurrency=concurrency)
    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    return 0


def _settings(args: argparse.Namespace) -> Any:
    from workflow.settings import Settings

    overrides = {
        "engine": getattr(args, "engine", None),
        "model": getattr(args, "model", None),
        "beam_size": getattr(args, "beam_size", None),
        "compute_type": getattr(args, "compute_type", None),
        "vocabulary_file": getattr(args, "vocabulary", None),
    }
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _progress_printer(quiet: bool) -> Any:
    def on_decoded(duration_s: float) -> ProgressCallback | None:
        if quiet or duration_s < PROGRESS_AFTER_S:
            return None
        started = time.monotonic()
        print(f"voice-statement: transcribing {duration_s:.0f} s of audio", file=sys.stderr)

        def progress(speech_done_s: float) -> None:
            elapsed = time.monotonic() - started
            print(
                f"voice-statement: {speech_done_s:.0f} s of speech transcribed "
                f"({elapsed:.0f} s elapsed)",
                file=sys.stderr,
                flush=True,
            )

        return progress

    return on_decoded


def _read_text(path: Path) -> str:
    from nlp import ExtractionError

    if str(path) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ExtractionError("not_found", f"{path}: no such file") from exc
        except UnicodeDecodeError as exc:
            raise ExtractionError("not_text", f"{path}: not UTF-8 text") from exc
        except IsADirectoryError as exc:
            raise ExtractionError("not_found", f"{path}: is a directory, not a file") from exc
    if not text.strip():
        raise ExtractionError("empty_text", f"{path}: the text is empty")
    return text


def _print_statement(statement: Statement, *, as_json: bool) -> None:
    from workflow.render import render_statement

    if as_json:
        print(json.dumps(statement.to_dict(), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(render_statement(statement))


def run_transcribe(args: argparse.Namespace) -> int:
    from models import Template
    from workflow.pipeline import StatementPipeline, TranscribeRequest
    from workflow.render import render_srt, render_txt, render_vtt

    officer_voice = None
    if args.officer is not None:
        if args.speakers is None:
            print(
                "voice-statement: error: --officer says whose voice is the officer's among "
                "several: give --speakers too (2 for the officer and the witness)",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        officer_voice = _enrolled_voice(args.officer)
        if officer_voice is None:
            return EXIT_BAD_INPUT
    pipeline = StatementPipeline(_settings(args))
    request = TranscribeRequest(
        language=args.language,
        task=args.task,
        use_vad=not args.no_vad,
        known_terms=tuple(" ".join(t.split()) for t in args.known if t.strip()),
        diarisation=args.speakers,
        officer_voice=officer_voice,
    )
    transcript = pipeline.transcribe(args.audio, request, on_decoded=_progress_printer(args.quiet))
    if args.format:
        render = {"txt": render_txt, "srt": render_srt, "vtt": render_vtt}[args.format]
        sys.stdout.write(render(transcript))
        return 0
    statement = pipeline.draft(
        transcript,
        template=Template(args.template),
        statement_date=args.statement_date or date.today(),
    )
    _print_statement(statement, as_json=args.json)
    return 0


def _enrolled_voice(name: str) -> Any:
    """The enrolled voice of account ``name`` from the service database, or None (the reason
    printed) when the account does not exist or has none."""
    from workflow.voices import Account, VoiceError, enrolled_voice

    services = _open_services()
    try:
        return enrolled_voice(services.database, Account.named(name))
    except VoiceError as exc:
        print(f"voice-statement: error: {exc.message}", file=sys.stderr)
        return None
    finally:
        services.close()


def run_extract(args: argparse.Namespace) -> int:
    from models import Template
    from workflow.pipeline import StatementPipeline

    text = _read_text(args.text_file)
    statement = StatementPipeline(_settings(args)).extract_text(
        text,
        template=Template(args.template),
        statement_date=args.statement_date or date.today(),
    )
    _print_statement(statement, as_json=args.json)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from workflow.evaluation import EvaluationError, evaluate
    from workflow.pipeline import StatementPipeline

    try:
        report = evaluate(
            args.gold_dir,
            StatementPipeline(_settings(args)),
            from_audio=args.from_audio,
            out_dir=args.out,
        )
    except EvaluationError as exc:
        print(f"voice-statement: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print("\n".join(report.lines(verbose=args.verbose)))
    if args.min_f1 is not None and report.f1 < args.min_f1:
        print(
            f"voice-statement: F1 {report.f1:.3f} is below --min-f1 {args.min_f1:.3f}",
            file=sys.stderr,
        )
        return 1
    return 0


def run_models(args: argparse.Namespace) -> int:
    from transcription.provisioning import ModelStore

    settings = _settings(args)
    if args.pins:
        from workflow.pipeline import weight_pins

        pins = weight_pins(settings)
        print(
            json.dumps(pins, indent=2)
            if args.json
            else "\n".join(f"{k}\t{v}" for k, v in pins.items())
        )
        return 0
    rows = ModelStore(settings.data_dir).available()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']}\t{row['status']}\t{row['languages']}\t{row['engines']}")
        print(f"\tsource: {row['source']}")
        if row["where"]:
            print(f"\twhere:  {row['where']}")
    print(f"data directory: {settings.data_dir}")
    return 0


def _cli_admin() -> Any:
    """The person at the command line, as the audit log names them: whoever can run this
    command on the server already holds its keys and database."""
    import getpass

    from models import Principal, Role

    login = getpass.getuser()
    return Principal(
        user_id=f"cli:{login}",
        name=f"{login} (command line)",
        roles=frozenset({Role.ADMIN}),
        via="cli",
    )


def _open_services() -> Any:
    from workflow.services import Services

    services = Services()
    services.database.migrate()
    return services


def run_users(args: argparse.Namespace) -> int:
    from models import Role
    from security import accounts, audit
    from security.audit import AuditAction

    services = _open_services()
    actor = _cli_admin()
    command = args.users_command
    if command in ("enrol", "unenrol"):
        return _run_voice(services, actor, args)
    try:
        with services.database.session() as session:
            if command == "list":
                for user in accounts.list_users(session):
                    state = "revoked" if user.revoked_at else "active"
                    roles = ",".join(user.roles)
                    print(f"{user.name}\t{roles}\t{user.unit or '-'}\t{state}")
                return 0
            if command == "add":
                _, token = accounts.add_user(
                    session, args.name, [Role(r) for r in args.role], args.unit
                )
                operation, action = "user.add", AuditAction.COLLECTION
            elif command == "token":
                token = accounts.issue_token(session, args.name)
                operation, action = "user.token", AuditAction.ALTERATION
            elif command == "revoke":
                accounts.revoke_user(session, args.name)
                token, operation, action = None, "user.revoke", AuditAction.ALTERATION
            else:  # password
                password = sys.stdin.readline().rstrip("\n")
                accounts.set_password(session, args.name, password)
                token, operation, action = None, "user.password", AuditAction.ALTERATION
            audit.record(session, actor, action, operation, detail={"user": args.name})
    except accounts.AccountError as exc:
        print(f"voice-statement: error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        services.close()
    if token:
        print(token)
        print("the token is shown once: give it to its holder now", file=sys.stderr)
    else:
        print(f"{args.name}: {command} done", file=sys.stderr)
    return 0


def _run_voice(services: Any, actor: Any, args: argparse.Namespace) -> int:
    """``users enrol NAME AUDIO`` and ``users unenrol NAME``."""
    from security.accounts import normalise_name
    from workflow.voices import Account, VoiceError, VoiceService

    voices = VoiceService(
        services.database, services.pipeline, temp_dir=services.settings.data_dir / "tmp"
    )
    try:
        if args.users_command == "enrol":
            status = voices.enrol_file(Account.named(args.name), args.audio, actor=actor)
            print(
                f"{status.user}: voice enrolled ({status.speech_s:.1f} s of speech, "
                f"{status.encoder}); the sample was not kept",
                file=sys.stderr,
            )
        elif voices.remove(Account.named(args.name), actor=actor):
            print(f"{normalise_name(args.name)}: enrolled voice removed", file=sys.stderr)
        else:
            print(f"{normalise_name(args.name)}: no enrolled voice to remove", file=sys.stderr)
    except VoiceError as exc:
        print(f"voice-statement: error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        services.close()
    return 0


def run_audit(args: argparse.Namespace) -> int:
    from security import audit

    services = _open_services()
    try:
        with services.database.session() as session:
            report = audit.verify(session)
    finally:
        services.close()
    print(audit.format_report(report))
    return 0 if report.ok else 1


def run_keys(args: argparse.Namespace) -> int:
    from security.crypto import KeyConfigError
    from workflow import keys

    if args.keys_command == "generate":
        print(keys.generate_kek())
        return 0
    try:
        services = _open_services()
    except KeyConfigError as exc:
        print(f"voice-statement: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        report = keys.rotate_keys(services)
    except KeyConfigError as exc:
        print(f"voice-statement: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        services.close()
    print("\n".join(report.lines()))
    return 0


def run_retention(args: argparse.Namespace) -> int:
    from workflow import retention

    services = _open_services()
    try:
        report = retention.apply_retention(
            services.database, services.audio_store, services.settings
        )
    finally:
        services.close()
    print(f"erased {len(report.erased)} statement(s)")
    for statement_id in report.erased:
        print(statement_id)
    return 0


def main(argv: list[str] | None = None) -> int:
    from nlp import ExtractionError
    from transcription.errors import TranscriptionError

    args = build_parser().parse_args(argv)
    handlers = {
        "transcribe": run_transcribe,
        "extract": run_extract,
        "evaluate": run_evaluate,
        "models": run_models,
        "serve": run_serve,
        "worker": run_worker,
        "users": run_users,
        "audit": run_audit,
        "keys": run_keys,
        "retention": run_retention,
    }
    try:
        return handlers[args.command](args)
    except (TranscriptionError, ExtractionError) as exc:
        print(f"voice-statement: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
