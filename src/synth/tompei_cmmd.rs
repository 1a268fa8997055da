//! TOMPEI-CMMD look-alike (datasets.md §3.5).

use super::{Plan, SynthConfig};
use crate::error::{Error, Result};

pub(super) fn plan(_cfg: &SynthConfig) -> Result<Plan> {
    Err(Error::Other(
        "mcq synth tompei-cmmd is not implemented yet".into(),
    ))
}
