"""The meta database schema as an ordered list of migrations. Append only: never edit an applied one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "checkpoints and restores",
        """
        CREATE TABLE checkpoints (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            uid text NOT NULL UNIQUE,
            namespace text NOT NULL,
            name text NOT NULL,
            project_id text NOT NULL,
            branch_name text NOT NULL,
            source_branch_id text,
            snapshot_id text,
            snapshot_name text,
            lsn text,
            snapshot_created_at timestamptz,
            expires_at timestamptz,
            source jsonb NOT NULL DEFAULT '{}'::jsonb,
            parent_checkpoint_id bigint REFERENCES checkpoints (id) ON DELETE SET NULL,
            phase text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            ready_at timestamptz,
            deleted_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX checkpoints_timeline_idx ON checkpoints (project_id, branch_name, created_at);

        CREATE TABLE restores (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            uid text NOT NULL UNIQUE,
            namespace text NOT NULL,
            name text NOT NULL,
            project_id text NOT NULL,
            branch_name text NOT NULL,
            checkpoint_id bigint REFERENCES checkpoints (id) ON DELETE SET NULL,
            mode text NOT NULL CHECK (mode IN ('Finalize', 'Preview')),
            target_branch_id text,
            restored_branch_id text,
            replaced_branch_id text,
            operation_ids text[] NOT NULL DEFAULT '{}',
            phase text NOT NULL,
            error text,
            started_at timestamptz,
            completed_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX restores_timeline_idx ON restores (project_id, branch_name, completed_at);
        """,
    ),
    Migration(
        2,
        "the key a checkpoint was taken with",
        # Which Secret (never the key itself) a Checkpoint used, so flows on a restore of it find the same
        # key after the Checkpoint resource is gone.
        """
        ALTER TABLE checkpoints
            ADD COLUMN credentials_secret_name text,
            ADD COLUMN credentials_secret_key text;
        """,
    ),
    Migration(
        3,
        "schema captured at checkpoint time",
        # Content-addressed: a schema (pg_dump text + structured form) is stored once however many
        # checkpoints share it. A capture row says the checkpoint's capture is complete (also when it
        # had no database to capture); the checkpoints table itself is left as it is.
        """
        CREATE TABLE schemas (
            digest text PRIMARY KEY,
            sql text NOT NULL,
            structure jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE TABLE schema_captures (
            checkpoint_id bigint PRIMARY KEY REFERENCES checkpoints (id) ON DELETE CASCADE,
            captured_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE TABLE checkpoint_schemas (
            checkpoint_id bigint NOT NULL REFERENCES schema_captures (checkpoint_id) ON DELETE CASCADE,
            database_name text NOT NULL,
            schema_digest text NOT NULL REFERENCES schemas (digest),
            PRIMARY KEY (checkpoint_id, database_name)
        );
        CREATE INDEX checkpoint_schemas_digest_idx ON checkpoint_schemas (schema_digest);
        """,
    ),
    Migration(
        4,
        "workloads recorded with checkpoints, and what restores applied and replaced",
        # Content-addressed: a template unchanged between checkpoints is one row. Keyed by the resources'
        # uids (not row ids) so a Checkpoint's capture is recorded before its snapshot is asked for.
        """
        CREATE TABLE workload_revisions (
            digest text PRIMARY KEY,
            kind text NOT NULL,
            content jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE TABLE checkpoint_workloads (
            checkpoint_uid text NOT NULL,
            position integer NOT NULL,
            kind text NOT NULL,
            name text NOT NULL,
            digest text NOT NULL REFERENCES workload_revisions (digest),
            database_url_env text,
            captured_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (checkpoint_uid, kind, name)
        );
        CREATE TABLE restore_workloads (
            restore_uid text NOT NULL,
            position integer NOT NULL,
            kind text NOT NULL,
            name text NOT NULL,
            target_digest text NOT NULL REFERENCES workload_revisions (digest),
            replaced_digest text REFERENCES workload_revisions (digest),
            applied_generation bigint,
            applied_at timestamptz,
            PRIMARY KEY (restore_uid, kind, name)
        );
        ALTER TABLE restores
            ADD COLUMN database_restored_at timestamptz,
            ADD COLUMN undo_of text,
            DROP CONSTRAINT restores_mode_check,
            ADD CONSTRAINT restores_mode_check CHECK (mode IN ('Finalize', 'Preview', 'Undo'));
        """,
    ),
)
