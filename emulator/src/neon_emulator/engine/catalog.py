"""The model's roles and databases applied to a running server, in SQL over its admin socket."""

from __future__ import annotations

from psycopg import sql

from .jobs import Catalog
from .postgres import PostgresProcess


def sync_catalog(process: PostgresProcess, catalog: Catalog) -> None:
    """Create the model's roles and databases that the cluster lacks; (re)set the roles' passwords."""
    with process.admin_connect() as conn:
        existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}
        for role in catalog.roles:
            verb = "ALTER" if role.name in existing else "CREATE"
            login = sql.SQL("LOGIN" if role.login else "NOLOGIN")
            extra = sql.SQL("" if verb == "ALTER" else " CREATEDB CREATEROLE")
            conn.execute(
                sql.SQL("{} ROLE {} WITH {} PASSWORD {}{}").format(
                    sql.SQL(verb), sql.Identifier(role.name), login, sql.Literal(role.password), extra
                )
            )
        owners = dict(
            conn.execute("SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba")
        )
        for database in catalog.databases:
            name, owner = database.name, database.owner
            if name not in owners:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
                )
            elif owners[name] != owner:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                        sql.Identifier(name), sql.Identifier(owner)
                    )
                )


def drop_role(process: PostgresProcess, name: str) -> None:
    with process.admin_connect() as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None:
            return
        dbs = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datallowconn")]
    for db in dbs:
        with process.admin_connect(db) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    with process.admin_connect() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def drop_database(process: PostgresProcess, name: str) -> None:
    with process.admin_connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def rename_database(process: PostgresProcess, old: str, new: str) -> None:
    with process.admin_connect() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (old,))
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
        )
