//! SQL over the lake: a DataFusion session that registers the lake's tables
//! from its manifest (`session`), result formatting (`output`), the
//! interactive shell (`shell`) and the SQL files embedded in the binary
//! (`assets`).

pub mod assets;
pub mod html;
pub mod output;
pub mod reports;
pub mod session;
pub mod shell;

pub use output::{Format, OutputTarget};
pub use session::LakeSession;
