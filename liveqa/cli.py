"""The `liveqa` command: serve, and manage events."""

from __future__ import annotations

import asyncio
import csv
import datetime
import hashlib
import json
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import click
import msgspec
import uvicorn

from liveqa import backup, logs, operations, protocol, retention, submissions
from liveqa.domain import screening
from liveqa.domain.errors import Rejected
from liveqa.domain.model import Moderation, Ranking
from liveqa.domain.organisations import Directory, parse_csv
from liveqa.embedded import EmbeddedRedis
from liveqa.settings import Settings, SettingsError
from liveqa.store import RedisStore
from liveqa.store.redis import connect

T = TypeVar("T")
DEMO = "demo"


def _settings(**overrides: object) -> Settings:
    try:
        return Settings.from_env(None, **overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _redis_url(settings: Settings) -> Iterator[str]:
    """The configured Redis, or the embedded one (started for the duration if it isn't running)."""
    if settings.redis_url:
        yield settings.redis_url
        return
    embedded = EmbeddedRedis(settings.data_dir)
    try:
        url = embedded.start()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield url
    finally:
        embedded.stop()


def _on_store(redis_url: str | None, action: Callable[[RedisStore], Awaitable[T]]) -> T:
    """Run one store action on the configured Redis (or the embedded one); errors become clean messages."""
    settings = _settings(redis_url=redis_url)
    with _redis_url(settings) as url:
        return _with_store(url, action)


def _with_store(url: str, action: Callable[[RedisStore], Awaitable[T]]) -> T:
    async def run() -> T:
        client = connect(url)
        try:
            return await action(RedisStore(client))
        finally:
            await client.aclose()

    try:
        return asyncio.run(run())
    except (ValueError, Rejected) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name="liveqa")
def main() -> None:
    """LiveQA: live questions from remote participants, curated by moderators, shown on a screen."""


@main.command()
@click.option("--host", help="Interface to listen on [LIVEQA_HOST, default 127.0.0.1].")
@click.option("--port", type=int, help="Port [LIVEQA_PORT, default 8000].")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL]; without one, an embedded redis-server.")
@click.option("--data-dir", help="Where the embedded Redis keeps its data [LIVEQA_DATA_DIR, default ./data].")
@click.option("--workers", type=int, default=1, show_default=True, help="Server processes.")
@click.option("--demo/--no-demo", default=True, show_default=True, help="Create the demo event and print its links.")
def serve(
    host: str | None, port: int | None, redis_url: str | None, data_dir: str | None, workers: int, demo: bool
) -> None:
    """Run the server (and, without a Redis URL, its embedded Redis)."""
    settings = _settings(host=host, port=port, redis_url=redis_url, data_dir=data_dir)
    with _redis_url(settings) as url:
        # Workers build the app from the environment (uvicorn --factory), so hand them the resolved settings.
        os.environ["LIVEQA_REDIS_URL"] = url
        os.environ["LIVEQA_HOST"] = settings.host
        os.environ["LIVEQA_PORT"] = str(settings.port)
        settings = _settings()
        if demo:
            _print_demo(settings, url)
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; turn that into a normal exit so the
        # embedded Redis is stopped cleanly and an orchestrator sees exit code 0.
        signal.signal(signal.SIGTERM, _exit_quietly)
        uvicorn.run(
            "liveqa.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            ws="websockets-sansio",
            ws_max_size=settings.max_message_bytes,
            ws_per_message_deflate=False,
            ws_ping_interval=20,
            ws_ping_timeout=20,
            timeout_graceful_shutdown=5,
            log_level=settings.log_level,
            log_config=logs.config(settings.log_format, settings.log_level),
            proxy_headers=True,
        )


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _print_demo(settings: Settings, url: str) -> None:
    """Create the demo event on first start; print its links (and its password, kept in the data dir)."""
    password_file = Path(settings.data_dir) / "demo-password.txt"

    async def ensure(store: RedisStore) -> tuple[str, str]:
        if await store.event_info(DEMO) is None:
            password = operations.new_password()
            token = await operations.create_event(
                store, DEMO, "Demo dialogue", password=password, anonymous_allowed=True
            )
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.touch(mode=0o600)
            password_file.write_text(password + "\n")
            return token, password
        stored = password_file.read_text().strip() if password_file.exists() else ""
        return await store.event_secret(DEMO, "screen_token"), stored

    token, password = _with_store(url, ensure)
    click.echo("Demo event:")
    for line in operations.links(settings, DEMO, token).lines():
        click.echo(f"  {line}")
    if password:
        click.echo(f"  moderator password: {password}  (any display name)")
    else:
        click.echo("  moderator password: set earlier; change it with `liveqa event password demo`")


@main.group()
def event() -> None:
    """Create and manage events."""


@event.command("create")
@click.argument("slug")
@click.option("--title", required=True, help="Shown on every page.")
@click.option("--anonymous/--no-anonymous", default=False, show_default=True, help="Allow anonymous questions.")
@click.option("--max-length", type=int, default=500, show_default=True, help="Characters per question.")
@click.option(
    "--post-moderation", is_flag=True, help="Publish questions at once (word-list matches still wait for review)."
)
@click.option("--passcode", "passcode", default="", help="Ask new participants for this passcode.")
@click.option(
    "--retention-days", type=int, default=30, show_default=True, help="Keep personal data this long after the end."
)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Moderator password.")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL]; default: the embedded one.")
def event_create(
    slug: str,
    title: str,
    anonymous: bool,
    max_length: int,
    post_moderation: bool,
    passcode: str,
    retention_days: int,
    password: str,
    redis_url: str | None,
) -> None:
    """Create an event and print its links."""
    settings = _settings(redis_url=redis_url)
    with _redis_url(settings) as url:
        token = _with_store(
            url,
            lambda store: operations.create_event(
                store,
                slug,
                title,
                password=password,
                anonymous_allowed=anonymous,
                max_length=max_length,
                moderation=Moderation.POST if post_moderation else Moderation.PRE,
                passcode=passcode,
                retention_days=retention_days,
            ),
        )
    click.echo(f"Created {slug!r}.")
    for line in operations.links(settings, slug, token).lines():
        click.echo(f"  {line}")


@event.command("list")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_list(redis_url: str | None) -> None:
    """List events."""
    settings = _settings(redis_url=redis_url)

    async def titles(store: RedisStore) -> list[str]:
        lines = []
        for slug in await store.event_slugs():
            info = await store.event_info(slug)
            if info is not None:
                lines.append(f"{slug}\t{info.title}\t{'open' if info.open else 'closed'}")
        return lines

    with _redis_url(settings) as url:
        for line in _with_store(url, titles):
            click.echo(line)


@event.command("links")
@click.argument("slug")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_links(slug: str, redis_url: str | None) -> None:
    """Print an event's links."""
    token = _on_store(redis_url, lambda store: store.event_secret(slug, "screen_token"))
    if not token:
        raise click.ClickException(f"no event {slug!r}")
    for line in operations.links(_settings(redis_url=redis_url), slug, token).lines():
        click.echo(line)


@event.command("password")
@click.argument("slug")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="New moderator password.")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_password(slug: str, password: str, redis_url: str | None) -> None:
    """Set an event's moderator password."""
    _on_store(redis_url, lambda store: operations.set_password(store, slug, password))
    click.echo("Password changed.")


@event.command("rotate-screen-token")
@click.argument("slug")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_rotate(slug: str, redis_url: str | None) -> None:
    """Give the screen a new link; the old one stops working."""
    token = _on_store(redis_url, lambda store: operations.rotate_screen_token(store, slug))
    for line in operations.links(_settings(redis_url=redis_url), slug, token).lines()[2:]:
        click.echo(line)


@event.command("delete")
@click.argument("slug")
@click.confirmation_option(prompt="Delete the event and every question in it?")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_delete(slug: str, redis_url: str | None) -> None:
    """Delete an event and all its data."""
    removed = _on_store(redis_url, lambda store: store.delete_event(slug))
    click.echo(f"Deleted {removed} keys.")


@event.command("audit")
@click.argument("slug")
@click.option("--csv", "as_csv", is_flag=True, help="As CSV instead of lines.")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_audit(slug: str, as_csv: bool, redis_url: str | None) -> None:
    """Print the event's audit log: who did what, when."""
    import csv
    import sys

    entries = _on_store(redis_url, lambda store: store.audit_log(slug))
    if as_csv:
        columns = sorted({key for entry in entries for key in entry} - {"at", "who", "action"})
        writer = csv.writer(sys.stdout)
        writer.writerow(["at", "who", "action", *columns])
        for entry in entries:
            writer.writerow([entry["at"], entry["who"], entry["action"], *(entry.get(c, "") for c in columns)])
        return
    for entry in entries:
        rest = " ".join(f"{k}={v!r}" for k, v in entry.items() if k not in ("at", "who", "action"))
        click.echo(f"{entry['at']}  {entry['who']}  {entry['action']}  {rest}")


@event.command("channel")
@click.argument("slug")
@click.argument("action", type=click.Choice(["add", "remove", "list"]))
@click.argument("name", required=False, default="")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_channel(slug: str, action: str, name: str, redis_url: str | None) -> None:
    """Intake channels (email bridge, hashtag, form): `add NAME` prints its token and intake URL once."""
    settings = _settings(redis_url=redis_url)
    if action != "list" and not name:
        raise click.UsageError("name the channel")
    with _redis_url(settings) as url:
        if action == "add":
            token = _with_store(url, lambda store: store.add_channel(slug, name))
            click.echo(f"token:  {token}")
            click.echo(f"intake: POST {settings.base_url()}/api/v1/events/{slug}/intake  (Authorization: Bearer …)")
        elif action == "remove":
            _with_store(url, lambda store: store.remove_channel(slug, name))
        else:
            for channel in _with_store(url, lambda store: store.channels(slug)):
                click.echo(channel)


@event.command("moderator")
@click.argument("slug")
@click.argument("action", type=click.Choice(["add", "rotate", "remove", "list"]))
@click.argument("name", required=False, default="")
@click.option("--password", default="", help="The password to give (default: one is made up and printed).")
@click.option(
    "--role", type=click.Choice(["moderator", "answerer"]), default="moderator", show_default=True,
    help="answerer: an invited official who may only answer questions in writing.",
)  # fmt: skip
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_moderator(slug: str, action: str, name: str, password: str, role: str, redis_url: str | None) -> None:
    """Personal moderator logins: `add NAME` / `rotate NAME` print the password; `remove NAME` revokes it."""
    settings = _settings(redis_url=redis_url)
    if action != "list" and not name:
        raise click.UsageError("name the moderator")
    with _redis_url(settings) as url:
        if action in ("add", "rotate"):
            click.echo(_with_store(url, lambda store: operations.set_moderator(store, slug, name, password, role=role)))
        elif action == "remove":
            if not _with_store(url, lambda store: operations.remove_moderator(store, slug, name)):
                raise click.ClickException(f"no moderator {name!r}")
        else:
            for moderator in _with_store(url, lambda store: store.moderator_accounts(slug)):
                click.echo(moderator)


@event.command("require-listed")
@click.argument("slug")
@click.argument("required", type=click.Choice(["on", "off"]))
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_require_listed(slug: str, required: str, redis_url: str | None) -> None:
    """Hold questions from organisations not in the directory for a moderator (on), or not (off)."""
    settings = _settings(redis_url=redis_url)
    with _redis_url(settings) as url:
        _with_store(url, lambda store: operations.update_event(store, slug, require_listed=required == "on"))
    click.echo("Unlisted organisations' questions wait for a moderator." if required == "on" else "Any organisation.")


@main.group()
def orgs() -> None:
    """The organisation directory participants pick from (one per deployment)."""


@orgs.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace the whole directory (default: add and update).")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def orgs_import(path: str, replace: bool, redis_url: str | None) -> None:
    """Import organisations from a CSV file: name (required), acronym, country (ISO code), region (M49 code; from
    the country when left out), accreditation (general, special, roster), website. Rejected rows are reported."""
    from liveqa.domain.regions_data import REGION_OF

    listed, rejected = parse_csv(Path(path).read_text(encoding="utf-8"), {c: r for c, (r, _) in REGION_OF.items()})
    settings = _settings(redis_url=redis_url)
    batch = 500
    with _redis_url(settings) as url:

        async def run(store: RedisStore) -> int:
            size = 0
            with click.progressbar(range(0, max(len(listed), 1), batch), label="Importing") as chunks:
                for start in chunks:
                    size = await store.put_organisations(listed[start : start + batch], replace=replace and start == 0)
            return size

        size = _with_store(url, run)
    for row in rejected:
        click.echo(f"line {row.line}: {row.why}", err=True)
    click.echo(f"{len(listed)} organisations imported, {len(rejected)} rows rejected; the directory lists {size}.")


@orgs.command("invite")
@click.argument("slug")
@click.argument("organisations", nargs=-1, required=True)
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def orgs_invite(slug: str, organisations: tuple[str, ...], redis_url: str | None) -> None:
    """Make an invite code per listed organisation (named by its name, acronym or id) for an event: whoever joins
    with it asks as that organisation, marked as listed. Prints the codes and the links that carry them."""
    settings = _settings(redis_url=redis_url)

    async def run(store: RedisStore) -> list[tuple[str, str]]:
        if await store.event_info(slug) is None:
            raise click.ClickException(f"no event {slug!r}")
        directory = Directory((await store.organisations())[1])
        made = []
        for wanted in organisations:
            org = directory.get(wanted) or directory.match(wanted)
            if org is None:
                raise click.ClickException(f"{wanted!r} is not in the directory (liveqa orgs search {wanted!r})")
            made.append((org.name, await store.create_invite(slug, org.id)))
        return made

    with _redis_url(settings) as url:
        made = _with_store(url, run)
    for name, code in made:
        click.echo(f"{name}\t{code}\t{settings.base_url()}/e/{slug}?invite={code}")


@orgs.command("search")
@click.argument("query")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def orgs_search(query: str, redis_url: str | None) -> None:
    """Find organisations as participants do (name or acronym, any script, accents optional)."""
    settings = _settings(redis_url=redis_url)
    with _redis_url(settings) as url:
        listed = _with_store(url, lambda store: store.organisations())[1]
    for org in Directory(listed).search(query):
        click.echo("\t".join((org.name, org.acronym, org.country, org.accreditation)))


@event.command("floor-time")
@click.argument("slug")
@click.argument("seconds", type=click.IntRange(10, 3600))
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_floor_time(slug: str, seconds: int, redis_url: str | None) -> None:
    """Set each speaker's time on the floor (the console and the screen count it down)."""
    settings = _settings(redis_url=redis_url)
    with _redis_url(settings) as url:
        _with_store(url, lambda store: operations.update_event(store, slug, floor_seconds=seconds))
    click.echo(f"Each speaker has {seconds} s.")


@event.command("schedule")
@click.argument("slug")
@click.option("--opens", type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]), help="UTC time questions open.")
@click.option("--closes", type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]), help="UTC time questions close.")
@click.option("--clear", is_flag=True, help="No set times: open and close by hand.")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_schedule(
    slug: str, opens: datetime.datetime | None, closes: datetime.datetime | None, clear: bool, redis_url: str | None
) -> None:
    """Take questions only between set times (UTC); participants see how long remains."""

    def ms(moment: datetime.datetime | None) -> int | None:
        return None if moment is None else int(moment.replace(tzinfo=datetime.UTC).timestamp() * 1000)

    settings = _settings(redis_url=redis_url)
    opens_at, closes_at = (0, 0) if clear else (ms(opens), ms(closes))
    with _redis_url(settings) as url:
        _with_store(url, lambda store: operations.update_event(store, slug, opens_at=opens_at, closes_at=closes_at))
    click.echo("Schedule cleared." if clear else "Schedule set.")


@event.command("ranking")
@click.argument("slug")
@click.option("--votes", type=float, help="Points per ln(1 + supporters).")
@click.option("--age-minutes", type=float, help="A question this much newer gains one point.")
@click.option("--organisation", type=float, help="Points off per question of the organisation approved or answered.")
@click.option("--country", type=float, help="Points off per question of the country approved or answered.")
@click.option("--first-time", type=float, help="Points for an asker with nothing approved or answered yet.")
@click.option("--region", type=float, help="Points for a region at none of its share of approved questions.")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_ranking(slug: str, redis_url: str | None, **weights: float | None) -> None:
    """Show or set the weights of the order proposed for incoming questions (docs/ranking.md)."""
    settings = _settings(redis_url=redis_url)

    async def run(store: RedisStore) -> Ranking:
        info = await store.event_info(slug)
        if info is None:
            raise click.ClickException(f"no event {slug!r}")
        changes = {name: value for name, value in weights.items() if value is not None}
        if not changes:
            return info.ranking
        try:
            ranking = msgspec.convert({**msgspec.structs.asdict(info.ranking), **changes}, Ranking)
        except msgspec.ValidationError as exc:
            raise click.ClickException(f"bad weight: {exc}") from None
        await operations.update_event(store, slug, ranking=ranking)
        return ranking

    with _redis_url(settings) as url:
        ranking = _with_store(url, run)
    for name, value in msgspec.structs.asdict(ranking).items():
        click.echo(f"{name.replace('_', '-'):13} {value:g}")


@event.command("import")
@click.argument("slug")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", default="import", show_default=True, help="The channel the questions are marked with.")
@click.option("--dry-run", is_flag=True, help="Check every row and report, storing nothing.")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_import(slug: str, path: str, source: str, dry_run: bool, redis_url: str | None) -> None:
    """Import questions from a CSV file (columns: text, and optionally id, name, organisation, country).

    Rows go through the same checks, word lists and moderation as questions from the page; importing the same
    file twice stores nothing twice (a row's id, or a digest of the row, identifies it)."""
    settings = _settings(redis_url=redis_url)
    rows = list(csv.DictReader(Path(path).read_text(encoding="utf-8-sig").splitlines()))
    if rows and "text" not in rows[0]:
        raise click.ClickException("the CSV needs a 'text' column")
    rejected: list[tuple[int, str]] = []
    stored = duplicates = 0
    with _redis_url(settings) as url:

        async def run(store: RedisStore) -> None:
            nonlocal stored, duplicates
            info = await store.event_info(slug)
            if info is None:
                raise click.ClickException(f"no event {slug!r}")
            words = screening.load(settings.wordlist_dir) | screening.WordList.of(info.blocked_words)
            directory = Directory((await store.organisations())[1])
            with click.progressbar(list(enumerate(rows, start=2)), label="Importing", show_pos=True) as progress:
                for number, row in progress:
                    draft = submissions.Draft(
                        cid=hashlib.sha256((row.get("id") or json.dumps(row, sort_keys=True)).encode()).hexdigest()[
                            :32
                        ],
                        text=row.get("text") or "",
                        name=row.get("name") or "",
                        organisation=row.get("organisation") or "",
                        country=row.get("country") or "",
                    )
                    try:
                        if dry_run:
                            submissions.prepare(info, draft)
                            continue
                        author = submissions.channel_participant(source, draft.name or str(number))
                        result = await submissions.submit(
                            store, info, words, author, draft, rate=(0, 1.0), source=source, directory=directory
                        )
                    except Rejected as exc:
                        rejected.append((number, f"{exc.code}: {exc.detail}"))
                        continue
                    stored += result.new
                    duplicates += not result.new

        _with_store(url, run)
    verb = "would store" if dry_run else "stored"
    click.echo(f"{len(rows) - len(rejected)} rows fine ({verb}: {stored if not dry_run else len(rows) - len(rejected)}"
               f"{f', already there: {duplicates}' if duplicates else ''}); {len(rejected)} rejected.")  # fmt: skip
    for number, reason in rejected:
        click.echo(f"  line {number}: {reason}")


@event.command("end")
@click.argument("slug")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_end(slug: str, redis_url: str | None) -> None:
    """End an event: questions close, and its retention period starts."""
    _on_store(redis_url, lambda store: operations.end_event(store, slug))
    click.echo(f"Ended {slug!r}.")


@event.command("passcode")
@click.argument("slug")
@click.argument("passcode", required=False, default="")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_passcode(slug: str, passcode: str, redis_url: str | None) -> None:
    """Require PASSCODE of new participants (without one: remove the passcode)."""
    _on_store(redis_url, lambda store: operations.set_passcode(store, slug, passcode))
    click.echo("Passcode set." if passcode else "Passcode removed.")


@event.command("words")
@click.argument("slug")
@click.option("--add", multiple=True, help="A word or phrase that holds a question for review (repeatable).")
@click.option("--remove", multiple=True, help="Stop holding questions for this word (repeatable).")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_words(slug: str, add: tuple[str, ...], remove: tuple[str, ...], redis_url: str | None) -> None:
    """Show or change the event's own additions to the word lists."""
    settings = _settings(redis_url=redis_url)
    with _redis_url(settings) as url:
        words = _with_store(
            url, lambda store: operations.set_blocked_words(store, slug, add=list(add), remove=list(remove))
        )
    for word in words:
        click.echo(word)


@event.command("erase")
@click.argument("slug")
@click.confirmation_option(prompt="Erase every question, name and vote of this event, keeping only figures?")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def event_erase(slug: str, redis_url: str | None) -> None:
    """Erase an event's personal data now (keeping its aggregate figures)."""
    removed = _on_store(redis_url, lambda store: retention.erase(store, slug))
    click.echo(f"Erased {removed} keys.")


@main.command("erase-due")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def erase_due(redis_url: str | None) -> None:
    """Erase the personal data of every ended event past its retention period (the server does this hourly)."""
    settings = _settings(redis_url=redis_url)
    with _redis_url(settings) as url:
        for slug in _with_store(url, retention.erase_due):
            click.echo(f"erased {slug}")


@main.group()
def participant() -> None:
    """Act on one participant's data (by the participant id moderators see on their questions)."""


@participant.command("erase")
@click.argument("slug")
@click.argument("pid")
@click.confirmation_option(prompt="Erase this participant's name, organisation and country from the event?")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def participant_erase(slug: str, pid: str, redis_url: str | None) -> None:
    """Erase a participant's identity from an event, on their request (their questions stay, anonymous)."""
    count = _on_store(redis_url, lambda store: operations.erase_participant(store, slug, pid))
    click.echo(f"Erased the participant from {count} question(s).")


@main.group()
def operator() -> None:
    """API tokens for operators (the HTTP API at /api/v1, described at /openapi.json)."""


@operator.command("create")
@click.argument("name")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def operator_create(name: str, redis_url: str | None) -> None:
    """Make an API token for NAME and print it (once: only its digest is kept)."""
    token = _on_store(redis_url, lambda store: store.create_operator_token(name))
    click.echo(token)


@operator.command("list")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def operator_list(redis_url: str | None) -> None:
    """List the operators who have tokens."""
    settings = _settings(redis_url=redis_url)
    with _redis_url(settings) as url:
        for name in _with_store(url, lambda store: store.operators()):
            click.echo(name)


@operator.command("revoke")
@click.argument("name")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def operator_revoke(name: str, redis_url: str | None) -> None:
    """Revoke every token of NAME."""
    count = _on_store(redis_url, lambda store: store.revoke_operator(name))
    click.echo(f"Revoked {count} token(s).")


@main.command("backup")
@click.argument("slugs", nargs=-1)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True, help="File to write.")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def backup_command(slugs: tuple[str, ...], output: str, redis_url: str | None) -> None:
    """Write events (default: all) to a backup file (JSON lines)."""
    settings = _settings(redis_url=redis_url)

    async def collect(store: RedisStore) -> list[str]:
        return [line async for line in backup.dump(store, list(slugs) or await store.event_slugs())]

    with _redis_url(settings) as url:
        lines = _with_store(url, collect)
    Path(output).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    click.echo(f"Wrote {len(lines) - 1} keys to {output}.")


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Overwrite events that exist here.")
@click.option("--redis-url", help="Redis to use [LIVEQA_REDIS_URL].")
def restore_command(path: str, replace: bool, redis_url: str | None) -> None:
    """Read a backup file back into Redis."""
    settings = _settings(redis_url=redis_url)

    lines = Path(path).read_text(encoding="utf-8").splitlines()

    with _redis_url(settings) as url:
        try:
            restored = _with_store(url, lambda store: backup.restore(store, lines, replace=replace))
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"Restored {', '.join(restored)}.")


@main.command()
@click.argument("document", type=click.Choice(["protocol", "openapi", "asyncapi"]), default="protocol")
def schema(document: str) -> None:
    """Print a document generated from the code: the protocol's JSON Schema, OpenAPI or AsyncAPI."""

    from liveqa import apidocs

    generated = {"protocol": protocol.json_schema, "openapi": apidocs.openapi, "asyncapi": apidocs.asyncapi}[document]()
    click.echo(json.dumps(generated, indent=2, sort_keys=True, ensure_ascii=False))
