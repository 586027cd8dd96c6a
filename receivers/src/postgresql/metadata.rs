//! The metrics of Go's `postgresql` receiver (its `metadata.yaml`: name, description, unit,
//! instrument, value type, on by default, attributes), the resource attributes, and the
//! events Ferrotel accepts in the config without producing them.

use crate::hostmetrics::builder::{def as m, Def, Kind};

const MONO: Kind = Kind::Sum { monotonic: true };
const UPDOWN: Kind = Kind::Sum { monotonic: false };
const GAUGE: Kind = Kind::Gauge;

pub const DEFS: &[Def] = &[
    m("postgresql.backends", "The number of backends.", "1", UPDOWN, true, true, &[]),
    m("postgresql.bgwriter.buffers.allocated", "Number of buffers allocated.", "{buffers}", MONO, true, true, &[]),
    m("postgresql.bgwriter.buffers.writes", "Number of buffers written.", "{buffers}", MONO, true, true, &["source"]),
    m("postgresql.bgwriter.checkpoint.count", "The number of checkpoints performed.", "{checkpoints}", MONO, true, true, &["type"]),
    m("postgresql.bgwriter.duration", "Total time spent writing and syncing files to disk by checkpoints.", "ms", MONO, false, true, &["type"]),
    m("postgresql.bgwriter.maxwritten", "Number of times the background writer stopped a cleaning scan because it had written too many buffers.", "1", MONO, true, true, &[]),
    m("postgresql.blks_hit", "Number of times disk blocks were found already in the buffer cache.", "{blks_hit}", MONO, true, false, &[]),
    m("postgresql.blks_read", "Number of disk blocks read in this database.", "{blks_read}", MONO, true, false, &[]),
    m("postgresql.blocks_read", "The number of blocks read.", "1", MONO, true, true, &["source"]),
    m("postgresql.commits", "The number of commits.", "1", MONO, true, true, &[]),
    m("postgresql.connection.max", "Configured maximum number of client connections allowed", "{connections}", GAUGE, true, true, &[]),
    m("postgresql.database.count", "Number of user databases.", "{databases}", UPDOWN, true, true, &[]),
    m("postgresql.database.locks", "The number of database locks.", "{lock}", GAUGE, true, false, &["relation", "mode", "lock_type"]),
    m("postgresql.db_size", "The database disk usage.", "By", UPDOWN, true, true, &[]),
    m("postgresql.deadlocks", "The number of deadlocks.", "{deadlock}", MONO, true, false, &[]),
    m("postgresql.function.calls", "The number of calls made to a function. Requires `track_functions=pl|all` in Postgres config.", "{call}", MONO, true, false, &["function"]),
    m("postgresql.index.scans", "The number of index scans on a table.", "{scans}", MONO, true, true, &[]),
    m("postgresql.index.size", "The size of the index on disk.", "By", GAUGE, true, true, &[]),
    m("postgresql.operations", "The number of db row operations.", "1", MONO, true, true, &["operation"]),
    m("postgresql.replication.data_delay", "The amount of data delayed in replication.", "By", GAUGE, true, true, &["replication_client"]),
    m("postgresql.rollbacks", "The number of rollbacks.", "1", MONO, true, true, &[]),
    m("postgresql.rows", "The number of rows in the database.", "1", UPDOWN, true, true, &["state"]),
    m("postgresql.sequential_scans", "The number of sequential scans.", "{sequential_scan}", MONO, true, false, &[]),
    m("postgresql.table.count", "Number of user tables in a database.", "{table}", UPDOWN, true, true, &[]),
    m("postgresql.table.size", "Disk space used by a table.", "By", UPDOWN, true, true, &[]),
    m("postgresql.table.vacuum.count", "Number of times a table has manually been vacuumed.", "{vacuum}", MONO, true, true, &[]),
    m("postgresql.temp.io", "Total amount of data written to temporary files by queries.", "By", MONO, true, false, &[]),
    m("postgresql.temp_files", "The number of temp files.", "{temp_file}", MONO, true, false, &[]),
    m("postgresql.tup_deleted", "Number of rows deleted by queries in the database.", "{tup_deleted}", MONO, true, false, &[]),
    m("postgresql.tup_fetched", "Number of rows fetched by queries in the database.", "{tup_fetched}", MONO, true, false, &[]),
    m("postgresql.tup_inserted", "Number of rows inserted by queries in the database.", "{tup_inserted}", MONO, true, false, &[]),
    m("postgresql.tup_returned", "Number of rows returned by queries in the database.", "{tup_returned}", MONO, true, false, &[]),
    m("postgresql.tup_updated", "Number of rows updated by queries in the database.", "{tup_updated}", MONO, true, false, &[]),
    m("postgresql.wal.age", "Age of the oldest WAL file.", "s", GAUGE, true, true, &[]),
    m("postgresql.wal.delay", "Time between flushing recent WAL locally and receiving notification that the standby server has completed an operation with it.", "s", GAUGE, false, false, &["operation", "replication_client"]),
    m("postgresql.wal.lag", "Time between flushing recent WAL locally and receiving notification that the standby server has completed an operation with it.", "s", GAUGE, true, true, &["operation", "replication_client"]),
];

/// `postgresql.wal.lag` is what Go records only with its `postgresqlreceiver.preciselagmetrics`
/// gate off (it is on by default, and Ferrotel has only that default): taken in `metrics:`,
/// never produced.
pub const NOT_PRODUCED: &[&str] = &["postgresql.wal.lag"];

/// Resource attributes and whether each is on by default.
pub const RESOURCE: &[(&str, bool)] = &[
    ("postgresql.database.name", true),
    ("postgresql.index.name", true),
    ("postgresql.schema.name", true),
    ("postgresql.table.name", true),
    ("service.instance.id", true),
];

/// The events (a logs pipeline in Go) the config may name under `events:`; Ferrotel
/// produces none of them.
pub const EVENTS: &[&str] = &["db.server.query_sample", "db.server.top_query"];
