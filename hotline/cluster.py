"""`hotline cluster` (`make cluster`): the scale-out layout on one machine, for trying it and for
the tests: N app replicas and N Rasa servers behind Debian's nginx, all sharing the configured
PostgreSQL (app data and Rasa's trackers) and Redis (rate limits, live events, Rasa's locks).

Ports (base = --port, default HOTLINE_PORT): nginx serves citizens and staff on `base`; app
replica i listens on base+i; nginx's loopback-only internal door on base+10 balances the apps'
Rasa calls over the Rasa servers (base+10+i) and Rasa's action calls over the apps' /webhook.
PostgreSQL and Redis are never started here: they are the ones HOTLINE_DATABASE_URL and
HOTLINE_REDIS_URL name (defaults: the local services), and a missing one is an error that says
which. docs/operations.md, "Cluster", has the picture, sizing and upgrades.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template

import psycopg
import redis
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from hotline import bot, db
from hotline.serve import Child, supervise
from hotline.settings import PROJECT_ROOT, Settings
from knowledge.service import import_sample_if_empty

NGINX_TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "hotline.conf.template"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/hotline"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
INTERNAL_OFFSET = 10  # base+10: nginx's internal door; base+11...: the Rasa servers
REPLICA_HEADER = "X-Hotline-Replica"


class ClusterError(Exception):
    """Something the cluster needs is missing (PostgreSQL, Redis, nginx)."""


@dataclass(frozen=True)
class Layout:
    base: int
    replicas: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.replicas < INTERNAL_OFFSET:
            raise ClusterError(f"replicas must be 1..{INTERNAL_OFFSET - 1}")

    @property
    def app_ports(self) -> list[int]:
        return [self.base + i for i in range(1, self.replicas + 1)]

    @property
    def internal_port(self) -> int:
        return self.base + INTERNAL_OFFSET

    @property
    def rasa_ports(self) -> list[int]:
        return [self.internal_port + i for i in range(1, self.replicas + 1)]


def with_shared_services(settings: Settings) -> Settings:
    """The settings with the defaults of the shared services filled in: a cluster never runs on
    the embedded SQLite or without Redis (each replica would have its own)."""
    update: dict[str, object] = {}
    if settings.database_url == f"sqlite:///{settings.var_dir / 'hotline.db'}":  # unset
        update["database_url"] = DEFAULT_DATABASE_URL
    if not settings.redis_url:
        update["redis_url"] = DEFAULT_REDIS_URL
    return settings.model_copy(update=update)


def check_services(settings: Settings) -> None:
    """PostgreSQL (the database is created when the server answers and it is missing) and Redis
    reachable, nginx installed; otherwise a ClusterError naming what is missing and how to fix."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        raise ClusterError(
            f"the cluster needs PostgreSQL, not {url.get_backend_name()}: set "
            "HOTLINE_DATABASE_URL=postgresql://user@host:5432/dbname (or unset it for "
            f"{DEFAULT_DATABASE_URL})"
        )
    shown = url.render_as_string(hide_password=True)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        psycopg.connect(conninfo, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())  # one line
        if f'database "{url.database}" does not exist' not in reason:
            raise ClusterError(
                f"PostgreSQL at {shown} is not reachable ({reason}); start it or set "
                "HOTLINE_DATABASE_URL"
            ) from exc
        _create_database(url.set(database="postgres"), str(url.database), shown)
    assert settings.redis_url  # with_shared_services
    try:
        redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise ClusterError(
            f"Redis at {settings.redis_url} is not reachable ({exc}); start it or set "
            "HOTLINE_REDIS_URL"
        ) from exc
    nginx_binary()


def _create_database(admin_url: URL, name: str, shown: str) -> None:
    conninfo = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise ClusterError(
            f"the database of {shown} does not exist and could not be created ({exc}); "
            f"run `createdb {name}` or set HOTLINE_DATABASE_URL"
        ) from exc


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if not found:
        raise ClusterError("nginx is not installed: `apt-get install nginx` (or `make setup`)")
    return found


def render_nginx(settings: Settings, layout: Layout, out_dir: Path) -> Path:
    """deploy/nginx/hotline.conf.template filled for this layout; every path nginx writes (pid,
    logs, temp files) is under `out_dir`, so it runs without root and beside a system nginx."""
    for sub in ("tmp", "log"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    user = ""
    if os.geteuid() == 0:  # root's workers would be `nobody`: run them as the var dir's owner
        user = f"user {pwd.getpwuid(out_dir.stat().st_uid).pw_name};"
    # the largest upload (attachments, WeChat pictures), plus room for the multipart frame
    upload_mb = max(settings.attachment_max_bytes, settings.wechat_image_max_bytes) // 2**20 + 1
    # safe_substitute: nginx's own $variables stay; the template's fields are all ${name}
    text = Template(NGINX_TEMPLATE.read_text()).safe_substitute(
        user=user,
        worker_processes="1",  # one worker: round robin over the replicas is strict
        run_dir=str(out_dir),
        listen=f"{settings.host}:{layout.base}",
        internal_listen=f"127.0.0.1:{layout.internal_port}",
        app_servers=_servers(layout.app_ports),
        rasa_servers=_servers(layout.rasa_ports),
        max_body=f"{upload_mb}m",
    )
    if "${" in text:
        raise ClusterError(f"{NGINX_TEMPLATE} has a field hotline/cluster.py does not fill")
    conf = out_dir / "nginx.conf"
    conf.write_text(text)
    return conf


def _servers(ports: list[int]) -> str:
    line = "        server 127.0.0.1:{} max_fails=1 fail_timeout=5s;"
    return "\n".join(line.format(port) for port in ports)


def plan(settings: Settings, layout: Layout) -> list[Child]:
    """Prepare (schema once, bot model, configs) and return the children: Rasa servers, apps,
    nginx, in the order they start."""
    check_services(settings)
    db.upgrade(settings.database_url)  # once, before any replica: replicas never race on it
    import_sample_if_empty(settings.database_url)  # likewise the sample KB of a fresh install
    create_tracker_tables(settings)
    model = bot.train(settings)  # cached: trains only when bot/ or config.yml changed
    run_dir = settings.var_dir / "cluster"
    internal = f"http://127.0.0.1:{layout.internal_port}"
    shared = {
        "HOTLINE_DATABASE_URL": settings.database_url,
        "HOTLINE_REDIS_URL": settings.redis_url or "",
        "HOTLINE_VAR_DIR": str(settings.var_dir),  # one var dir: attachments, retention key
        "HOTLINE_MODEL_DIR": str(settings.model_dir),
    }
    children = []
    for i, port in enumerate(layout.rasa_ports, start=1):
        # Rasa's actions go through nginx's internal door to any live app (a loopback caller)
        update = {"rasa_port": port, "rasa_host": "127.0.0.1", "var_dir": run_dir / f"rasa-{i}",
                  "host": "127.0.0.1", "port": layout.internal_port}  # fmt: skip
        rasa = settings.model_copy(update=update)
        endpoints = bot.render_endpoints(rasa)
        children.append(
            Child(
                f"rasa-{i}",
                bot.run_command(rasa, model, endpoints),
                settings.log_dir / f"rasa-{i}.log",
                f"http://127.0.0.1:{port}/status",
                env=bot.rasa_environ(),
            )
        )
    public = settings.public_url if "public_url" in settings.model_fields_set else ""
    for i, port in enumerate(layout.app_ports, start=1):
        env = {
            **os.environ,
            **shared,
            "HOTLINE_PORT": str(port),
            "HOTLINE_HOST": "127.0.0.1",  # only nginx (and Rasa, through it) reaches a replica
            "HOTLINE_RASA_URL": internal,
            "HOTLINE_PUBLIC_URL": public or f"http://localhost:{layout.base}",
            "HOTLINE_REPLICA": f"app-{i}",
            "HOTLINE_FORWARDED_ALLOW_IPS": "127.0.0.1",  # X-Forwarded-For only from nginx
        }
        cmd = [
            sys.executable, "-m", "gateway.app_server",  # as `hotline serve` runs the app
            "--host", "127.0.0.1", "--port", str(port), "--forwarded-allow-ips", "127.0.0.1",
            "--timeout-graceful-shutdown", str(max(1, round(settings.shutdown_seconds))),
        ]  # fmt: skip
        ready = f"http://127.0.0.1:{port}/login"
        children.append(Child(f"app-{i}", cmd, settings.log_dir / f"app-{i}.log", ready, env=env))
    conf = render_nginx(settings, layout, run_dir / "nginx")
    log = conf.parent / "log" / "error.log"  # -e: not /var/log/nginx, even before the config
    nginx = [nginx_binary(), "-e", str(log), "-c", str(conf), "-p", str(conf.parent),
             "-g", "daemon off;"]  # fmt: skip
    check = Child("nginx", [*nginx[:-2], "-t", "-q"], settings.log_dir / "nginx.log", "")
    if check.start().wait() != 0:
        raise ClusterError(f"nginx refused {conf}:\n{check.log_tail()}")
    local = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    children.append(
        Child("nginx", nginx, settings.log_dir / "nginx.log", f"http://{local}:{layout.base}/login")
    )
    return children


# Rasa creates its tracker table when it starts; two starting at once may both try.
_CREATE_TRACKER_TABLES = """
import os
from rasa.core.tracker_store import SQLTrackerStore
env = os.environ
SQLTrackerStore(None, dialect="postgresql", host=env["TRACKER_HOST"],
                port=int(env["TRACKER_PORT"]), db=env["TRACKER_DB"],
                username=env["TRACKER_USER"], password=env["TRACKER_PASSWORD"])
"""


def create_tracker_tables(settings: Settings) -> None:
    """Rasa's tracker table, made once by Rasa's own code before the Rasa servers start."""
    url = make_url(settings.database_url)
    python = settings.rasa_env / "bin" / "python"
    tracker = {  # in the environment, not the arguments: `ps` shows those to everyone
        "TRACKER_HOST": url.host or "localhost",
        "TRACKER_PORT": str(url.port or 5432),
        "TRACKER_DB": str(url.database),
        "TRACKER_USER": url.username or "",
        "TRACKER_PASSWORD": url.password or "",
    }
    result = subprocess.run(
        [str(python), "-c", _CREATE_TRACKER_TABLES],
        env={**bot.rasa_environ(), **tracker}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if result.returncode != 0:
        raise ClusterError(f"Rasa could not create its tracker table:\n{result.stderr[-2000:]}")


def banner(settings: Settings, layout: Layout) -> str:
    url = f"http://localhost:{layout.base}"
    apps = ", ".join(str(p) for p in layout.app_ports)
    rasas = ", ".join(str(p) for p in layout.rasa_ports)
    return "\n".join([
        "", f"12345 front door cluster is running ({layout.replicas} replicas behind nginx):",
        f"  chat page   {url}/chat",
        f"  console     {url}/console",
        f"  health      {url}/health",
        f"  apps on 127.0.0.1:{apps}; Rasa on {rasas}; nginx internal door {layout.internal_port}",
        f"  PostgreSQL  {make_url(settings.database_url).render_as_string(hide_password=True)}",
        f"  Redis       {settings.redis_url}",
        f"logs in {settings.log_dir}; press Ctrl-C to stop", "",
    ])  # fmt: skip


READY_LINE = "12345 front door cluster is running"


def stop_order(children: list[Child]) -> list[list[Child]]:
    """The apps first, all at once: each tells its live calls and transfers them through nginx,
    and finishes its bot turns through nginx's internal door, so nginx and Rasa must still be
    up (nginx stopped first would cut every call without a word); then nginx; then Rasa."""
    apps = [c for c in children if c.name.startswith("app-")]
    rasa = [c for c in children if c.name.startswith("rasa-")]
    rest = [c for c in children if c not in apps and c not in rasa]  # nginx
    return [apps, rest, rasa]


def run(
    settings: Settings, base: int, replicas: int = 2, echo: Callable[[str], None] = print
) -> int:
    settings = with_shared_services(settings)
    layout = Layout(base, replicas)
    return supervise(
        lambda: plan(settings, layout),
        settings.rasa_start_timeout,
        lambda: banner(settings, layout),
        grace=settings.shutdown_seconds + 5,
        echo=echo,
        stop_order=stop_order,
    )
