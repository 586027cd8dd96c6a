//! The names of the attributes a file input sets on its entries (Go's
//! `pkg/stanza/fileconsumer/attrs`); operators read `log.file.path` to find a container.

pub const ATTR_FILE_NAME: &str = "log.file.name";
pub const ATTR_FILE_PATH: &str = "log.file.path";
pub const ATTR_FILE_NAME_RESOLVED: &str = "log.file.name_resolved";
pub const ATTR_FILE_PATH_RESOLVED: &str = "log.file.path_resolved";
pub const ATTR_RECORD_NUMBER: &str = "log.file.record_number";
pub const ATTR_RECORD_OFFSET: &str = "log.file.record_offset";
